import middy from '@middy/core';
import type { BroadcastReport } from '../../domain/chat-service.ts';
import { dependencies } from '../wiring/composition-root.ts';
import type { Dependencies, DependencyProvider } from '../wiring/dependencies.ts';
import { errorFrames } from '../middlewares/error-frames.ts';
import { type ChatRequest, InvalidFrameError } from '../frames/inbound-frame.ts';
import { countFanOut } from '../../domain/observability.ts';
import { observability } from '../middlewares/observability.ts';
import { type FrameContext, parseFrame, requestOf } from '../middlewares/parse-frame.ts';
import { rateLimit } from '../middlewares/rate-limit.ts';
import { connectionIdOf, type WebSocketEvent, type WebSocketResult } from '../frames/websocket-event.ts';

async function dispatch(
  deps: Dependencies,
  connectionId: string,
  request: ChatRequest,
): Promise<BroadcastReport | undefined> {
  const { service, chatMode } = deps;
  switch (request.action) {
    case 'ping':
      await service.pong(connectionId);
      return undefined;
    case 'who':
      await service.who(connectionId, request.cursor);
      return undefined;
    case 'hello':
      await service.hello(connectionId, request.from);
      return undefined;
    case 'join':
      await service.join(connectionId, request.room, request.from);
      return undefined;
    case 'leave':
      await service.leave(connectionId);
      return undefined;
    case 'setname':
      // With authentication, the name is the one the token vouches for.
      if (deps.authMode === 'jwt') throw new InvalidFrameError('name_locked', 'names come from your sign-in here');
      await service.rename(connectionId, request.name);
      return undefined;
    default: {
      if ((request.action ?? chatMode) === 'echo') {
        await service.echo(connectionId, request.text);
        return undefined;
      }
      const { report } = await service.post(connectionId, request.text, request.clientMsgId, request.clientId);
      return report;
    }
  }
}

/**
 * Builds the handler of the message routes (`$default` and every action): parse the frame, call the one
 * service method it asks for, and log the fan-out report. A text without an action follows the chat mode.
 */
export function createMessageHandler(deps: DependencyProvider) {
  return middy<WebSocketEvent, WebSocketResult, Error, FrameContext>()
    .use(observability(deps))
    .use(parseFrame(deps))
    .use(rateLimit(deps))
    .use(errorFrames(deps))
    .handler(async (event, context) => {
      const resolved = deps();
      const connectionId = connectionIdOf(event);
      const request = requestOf(context);
      const report = await dispatch(resolved, connectionId, request);
      if (request.action === 'sendmessage' || request.action === undefined) resolved.metrics.count('Messages');
      if (report !== undefined) {
        countFanOut(resolved.metrics, report);
        resolved.logger.info('fan-out', { action: request.action ?? resolved.chatMode, ...report });
      }
      return { statusCode: 200 };
    });
}

/** The message routes' Lambda handler. */
export const handler = createMessageHandler(dependencies);
