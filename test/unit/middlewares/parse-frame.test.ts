import { describe, expect, it } from '@jest/globals';
import middy from '@middy/core';
import { InvalidFrameError } from '../../../src/handlers/frames/inbound-frame.ts';
import type { WebSocketEvent, WebSocketResult } from '../../../src/handlers/frames/websocket-event.ts';
import {
  type FrameContext,
  type ParsedFrame,
  parseFrame,
  requestOf,
} from '../../../src/handlers/middlewares/parse-frame.ts';
import { ConfigError } from '../../../src/handlers/wiring/config.ts';
import type { DependencyProvider } from '../../../src/handlers/wiring/dependencies.ts';
import { harness, unbuildable } from '../../support/handler-harness.ts';
import { frameEvent, lambdaContext } from '../../support/lambda-events.ts';

/** parseFrame() around a handler that keeps what it found on the context and answers 200. */
function wrapped(deps: DependencyProvider) {
  const seen: Array<ParsedFrame | undefined> = [];
  const handler = middy<WebSocketEvent, WebSocketResult, Error, FrameContext>()
    .use(parseFrame(deps))
    .handler(async (_event, context) => {
      seen.push(context.frame);
      return { statusCode: 200 };
    });
  return { seen, handler };
}

describe('parseFrame middleware', () => {
  it('puts the request of a well-formed frame on the context', async () => {
    const { seen, handler } = wrapped((await harness()).deps);

    await handler(frameEvent('A', { action: 'join', room: 'Kitchen' }), lambdaContext('message'));

    expect(seen).toEqual([{ request: { action: 'join', room: 'kitchen' } }]);
  });

  it('keeps the refusal of a malformed frame on the context and still calls the handler, which raises it', async () => {
    const { seen, handler } = wrapped((await harness()).deps);

    const response = await handler(frameEvent('A', '{bad'), lambdaContext('message'));

    expect({ response, seen }).toEqual({
      response: { statusCode: 200 },
      seen: [{ error: expect.objectContaining({ name: 'InvalidFrameError', code: 'invalid_json' }) }],
    });
  });

  it('measures the frame against the limits of the dependencies', async () => {
    const { seen, handler } = wrapped((await harness({ limits: { maxFrameBytes: 256, maxTextBytes: 64 } })).deps);

    await handler(frameEvent('A', 'x'.repeat(256)), lambdaContext('message'));
    await handler(frameEvent('A', 'x'.repeat(257)), lambdaContext('message'));

    expect(
      seen.map((frame) =>
        frame !== undefined && 'error' in frame ? (frame.error as InvalidFrameError).code : 'parsed',
      ),
    ).toEqual(['message_too_large', 'frame_too_large']);
  });

  it("keeps a failure to build the dependencies as the frame's outcome, for the error handler to answer", async () => {
    const { seen, handler } = wrapped(unbuildable);

    await handler(frameEvent('A', 'hello all'), lambdaContext('message'));

    expect(seen).toEqual([{ error: expect.any(ConfigError) }]);
  });
});

describe('requestOf', () => {
  /** parseFrame() around a handler that asks requestOf for the request and answers with it. */
  const asking = (deps: DependencyProvider) =>
    middy<WebSocketEvent, WebSocketResult, Error, FrameContext>()
      .use(parseFrame(deps))
      .handler(async (_event, context) => ({ statusCode: 200, body: JSON.stringify(requestOf(context)) }));

  it('hands the handler the parsed request', async () => {
    const response = await asking((await harness()).deps)(
      frameEvent('A', { action: 'ping' }),
      lambdaContext('message'),
    );

    expect(response).toEqual({ statusCode: 200, body: '{"action":"ping"}' });
  });

  it('raises the refusal of a frame that did not parse', async () => {
    const handler = asking((await harness()).deps);

    await expect(handler(frameEvent('A', '{bad'), lambdaContext('message'))).rejects.toThrow(InvalidFrameError);
  });

  it('fails loudly in a chain without parseFrame', async () => {
    const handler = middy<WebSocketEvent, WebSocketResult, Error, FrameContext>().handler(async (_event, context) => ({
      statusCode: 200,
      body: JSON.stringify(requestOf(context)),
    }));

    await expect(handler(frameEvent('A', 'hello all'), lambdaContext('message'))).rejects.toThrow(
      'parseFrame must run before the handler',
    );
  });
});
