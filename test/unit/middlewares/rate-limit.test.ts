import { describe, expect, it } from '@jest/globals';
import middy from '@middy/core';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import type { WebSocketEvent, WebSocketResult } from '../../../src/handlers/frames/websocket-event.ts';
import type { FrameContext, ParsedFrame } from '../../../src/handlers/middlewares/parse-frame.ts';
import { RateLimitedError, rateLimit } from '../../../src/handlers/middlewares/rate-limit.ts';
import { harness } from '../../support/handler-harness.ts';
import { frameEvent, lambdaContext } from '../../support/lambda-events.ts';

/** rateLimit() over a budget of `frames` a window, around a handler that counts the frames it was given. */
async function wrapped(frames: number, ownerFrames?: number) {
  const h = await harness({
    rateLimit: { frames, windowSeconds: 10 },
    ...(ownerFrames === undefined ? {} : { ownerLimit: { frames: ownerFrames, windowSeconds: 10 } }),
  });
  const handled: string[] = [];
  const handler = middy<WebSocketEvent, WebSocketResult, Error, FrameContext>()
    .use(rateLimit(h.deps))
    .handler(async (event) => {
      handled.push(event.requestContext.connectionId);
      return { statusCode: 200 };
    });
  /** Runs one frame through, with the outcome parseFrame would have left on the context; the error it throws, if any. */
  const send = async (
    event: APIGatewayProxyWebsocketEventV2,
    frame: ParsedFrame = { request: { action: 'ping' } },
  ): Promise<unknown> => {
    try {
      await handler(event, { ...lambdaContext('message'), frame });
      return undefined;
    } catch (error) {
      return error;
    }
  };
  return { handled, send };
}

describe('rateLimit middleware', () => {
  it("stops an owner's frames past its budget whichever of its connections sends them, and says whose budget", async () => {
    const { handled, send } = await wrapped(100, 3);
    const address = { sourceIp: '203.0.113.20' };
    for (const id of ['A', 'B', 'C']) await send(frameEvent(id, { action: 'ping' }, address));

    const refusals = [
      await send(frameEvent('D', { action: 'ping' }, address)),
      await send(frameEvent('A', { action: 'ping' }, address)),
    ];
    await send(frameEvent('E', { action: 'ping' }, { sourceIp: '203.0.113.21' }));

    expect({ handled, refusals }).toEqual({
      handled: ['A', 'B', 'C', 'E'],
      refusals: [
        expect.objectContaining({
          name: 'RateLimitedError',
          notify: true,
          message: expect.stringContaining('too many frames from your address: its connections together may send 3'),
        }),
        expect.objectContaining({ name: 'RateLimitedError', notify: false }),
      ],
    });
  });

  it('lets the frames within the budget through to the handler', async () => {
    const { handled, send } = await wrapped(3);

    for (let i = 0; i < 3; i += 1) await send(frameEvent('A', { action: 'ping' }));

    expect(handled).toEqual(['A', 'A', 'A']);
  });

  it('stops the frames past the budget before the handler, asking for the client to be told once a window', async () => {
    const { handled, send } = await wrapped(3);
    for (let i = 0; i < 3; i += 1) await send(frameEvent('A', { action: 'ping' }));

    const refusals = [await send(frameEvent('A', { action: 'ping' })), await send(frameEvent('A', { action: 'ping' }))];

    expect({ handled: handled.length, refusals }).toEqual({
      handled: 3,
      refusals: [
        expect.objectContaining({
          name: 'RateLimitedError',
          notify: true,
          message: expect.stringContaining('at most 3 every 10 s'),
        }),
        expect.objectContaining({ name: 'RateLimitedError', notify: false }),
      ],
    });
  });

  it('weighs a frame by the work it can cause: a budget of 30 admits three hellos', async () => {
    const { handled, send } = await wrapped(30);

    const outcomes = [];
    for (let i = 0; i < 4; i += 1)
      outcomes.push(await send(frameEvent('A', { action: 'hello' }), { request: { action: 'hello' } }));

    expect({ handled: handled.length, last: outcomes.at(-1) }).toEqual({
      handled: 3,
      last: expect.any(RateLimitedError),
    });
  });

  it('weighs who by the names its page reads: a budget of 30 admits three roster pages', async () => {
    const { handled, send } = await wrapped(30);

    const outcomes = [];
    for (let i = 0; i < 4; i += 1)
      outcomes.push(await send(frameEvent('A', { action: 'who' }), { request: { action: 'who' } }));

    expect({ handled: handled.length, last: outcomes.at(-1) }).toEqual({
      handled: 3,
      last: expect.any(RateLimitedError),
    });
  });

  it('weighs a frame that did not parse as one frame', async () => {
    const { handled, send } = await wrapped(2);
    const unparsed: ParsedFrame = { error: new Error('invalid_json') };

    const outcomes = [];
    for (let i = 0; i < 3; i += 1) outcomes.push(await send(frameEvent('A', '{bad'), unparsed));

    expect({ handled: handled.length, outcomes }).toEqual({
      handled: 2,
      outcomes: [undefined, undefined, expect.any(RateLimitedError)],
    });
  });

  it('keeps each connection to a budget of its own', async () => {
    const { handled, send } = await wrapped(2);
    for (let i = 0; i < 5; i += 1) await send(frameEvent('A', { action: 'ping' }));

    await send(frameEvent('B', { action: 'ping' }));

    expect(handled).toEqual(['A', 'A', 'B']);
  });

  it('does not count an event without a connection id, which has no budget to count against', async () => {
    const { handled, send } = await wrapped(1);

    for (let i = 0; i < 3; i += 1) await send(frameEvent('', { action: 'ping' }));

    expect(handled).toEqual(['', '', '']);
  });
});
