import middy from '@middy/core';
import { dependencies } from './composition-root.ts';
import type { DependencyProvider } from './dependencies.ts';
import { errorFrames } from './error-frames.ts';
import { parseInboundFrame } from './inbound-frame.ts';
import { connectionIdOf, type WebSocketEvent, type WebSocketResult } from './websocket-event.ts';

/**
 * Builds the handler of the message routes (`$default`, `sendmessage`, `echo`, `ping`): parse the frame,
 * answer a ping, echo or broadcast the message, and log the delivery report. A frame without an action follows the configured chat mode.
 */
export function createMessageHandler(deps: DependencyProvider) {
  return middy<WebSocketEvent, WebSocketResult>()
    .use(errorFrames(deps))
    .handler(async (event) => {
      const { service, chatMode, limits, logger } = deps();
      const connectionId = connectionIdOf(event);
      const request = parseInboundFrame(event.body, event.isBase64Encoded, limits);
      if (request.action === 'ping') {
        await service.pong(connectionId);
        return { statusCode: 200 };
      }
      const action = request.action ?? (chatMode === 'echo' ? 'echo' : 'sendmessage');
      if (action === 'echo') {
        const frame = await service.echo(connectionId, request.text);
        logger.info('echoed', { connectionId, messageId: frame.id });
      } else {
        const report = await service.broadcast(connectionId, request.text);
        logger.info('broadcast', { connectionId, ...report });
      }
      return { statusCode: 200 };
    });
}

/** The message routes' Lambda handler. */
export const handler = createMessageHandler(dependencies);
