import middy from '@middy/core';
import { countFanOut } from '../../domain/observability.ts';
import {
  callerOf,
  type HttpApiEvent,
  type HttpApiResult,
  type HttpRequest,
  parseHttpRequest,
} from '../frames/http-request.ts';
import type { MessagesPage, PublishResult } from '../frames/http-response.ts';
import { observability } from '../middlewares/observability.ts';
import { problemDetails } from '../middlewares/problem-details.ts';
import { publisherBudget } from '../middlewares/publisher-budget.ts';
import { dependencies } from '../wiring/composition-root.ts';
import type { Dependencies, DependencyProvider } from '../wiring/dependencies.ts';

const json = (statusCode: number, body: unknown): HttpApiResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

async function dispatch(deps: Dependencies, caller: string, request: HttpRequest): Promise<HttpApiResult> {
  const { service, logger, metrics } = deps;
  switch (request.route) {
    case 'publish': {
      const { room, text, name, clientMsgId } = request;
      const { message, report } = await service.publish(room, text, { id: caller, name }, clientMsgId);
      metrics.count('Messages');
      countFanOut(metrics, report);
      // The caller is named here, in the logs, and in no frame: members see the name it gave.
      logger.info('fan-out', { action: 'publish', caller, id: message.id, seq: message.seq, ...report });
      const { recipients, delivered, gone, failed, shards } = report;
      return json(200, {
        ...(clientMsgId !== undefined ? { clientMsgId } : {}),
        id: message.id,
        seq: message.seq,
        recipients,
        delivered,
        gone,
        failed,
        ...(shards > 0 ? { shards } : {}),
      } satisfies PublishResult);
    }
    case 'describe':
      return json(200, await service.describeRoom(request.room));
    case 'messages':
      return json(200, {
        room: request.room,
        messages: [...(await service.recentMessages(request.room, request.afterSeq))],
      } satisfies MessagesPage);
  }
}

/**
 * Builds the handler of the publish API, the HTTP routes through which backend services signed with IAM publish
 * into a room and read it: parse the request, call the one service method it asks for, answer JSON (or a problem).
 */
export function createPublishHandler(deps: DependencyProvider) {
  return middy<HttpApiEvent, HttpApiResult>()
    .use(observability<HttpApiEvent, HttpApiResult>(deps))
    .use(publisherBudget(deps))
    .use(problemDetails(deps))
    .handler(async (event) => {
      const resolved = deps();
      return dispatch(resolved, callerOf(event), parseHttpRequest(event, resolved.limits));
    });
}

/** The publish API's Lambda handler. */
export const handler = createPublishHandler(dependencies);
