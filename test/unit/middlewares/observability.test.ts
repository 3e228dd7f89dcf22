import { describe, expect, it } from '@jest/globals';
import middy from '@middy/core';
import type { WebSocketEvent, WebSocketResult } from '../../../src/handlers/frames/websocket-event.ts';
import { observability } from '../../../src/handlers/middlewares/observability.ts';
import type { DependencyProvider } from '../../../src/handlers/wiring/dependencies.ts';
import { harness, unbuildable } from '../../support/handler-harness.ts';
import { frameEvent, lambdaContext } from '../../support/lambda-events.ts';

/** observability() around a handler that logs one line, or fails when told to. */
function wrapped(
  deps: DependencyProvider,
  handler: () => Promise<WebSocketResult> = async () => ({ statusCode: 200 }),
) {
  return middy<WebSocketEvent, WebSocketResult>().use(observability(deps)).handler(handler);
}

describe('observability middleware', () => {
  it('tags every log line of an invocation with its connection, route and request id', async () => {
    const h = await harness();
    const handler = wrapped(h.deps, async () => {
      h.logger.info('inside');
      return { statusCode: 200 };
    });

    await handler(frameEvent('A', 'hello all', { routeKey: 'sendmessage' }), lambdaContext('message'));

    expect(h.logger.find('inside')[0]?.fields).toEqual({
      connectionId: 'A',
      route: 'sendmessage',
      requestId: lambdaContext('message').awsRequestId,
    });
  });

  it('drops the keys an earlier invocation of the container added', async () => {
    const h = await harness();
    const handler = wrapped(h.deps, async () => {
      h.logger.info('inside');
      h.logger.appendKeys({ room: 'kitchen' });
      return { statusCode: 200 };
    });
    await handler(frameEvent('A', 'first'), lambdaContext('message'));

    await handler(frameEvent('B', 'second'), lambdaContext('message'));

    expect(h.logger.find('inside')[1]?.fields).toEqual({
      connectionId: 'B',
      route: '$default',
      requestId: expect.any(String),
    });
  });

  it("publishes the invocation's metrics once when the handler succeeds", async () => {
    const h = await harness();

    await wrapped(h.deps)(frameEvent('A', 'hello all'), lambdaContext('message'));

    expect(h.metrics.published).toBe(1);
  });

  it("publishes the invocation's metrics once when the handler fails", async () => {
    const h = await harness();
    const failing = wrapped(h.deps, async () => {
      throw new Error('the handler failed');
    });

    await expect(failing(frameEvent('A', 'hello all'), lambdaContext('message'))).rejects.toThrow('the handler failed');
    expect(h.metrics.published).toBe(1);
  });

  it('lets the handler run when the dependencies cannot be built', async () => {
    const response = await wrapped(unbuildable)(frameEvent('A', 'hello all'), lambdaContext('message'));

    expect(response).toEqual({ statusCode: 200 });
  });
});
