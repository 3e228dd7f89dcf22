import { describe, expect, it } from '@jest/globals';
import middy from '@middy/core';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { ConcurrentChangeError, DeliveryError, UnknownConnectionError } from '../../../src/domain/errors.ts';
import { InvalidFrameError } from '../../../src/handlers/frames/inbound-frame.ts';
import type { WebSocketEvent, WebSocketResult } from '../../../src/handlers/frames/websocket-event.ts';
import { errorFrames } from '../../../src/handlers/middlewares/error-frames.ts';
import { RateLimitedError } from '../../../src/handlers/middlewares/rate-limit.ts';
import type { DependencyProvider } from '../../../src/handlers/wiring/dependencies.ts';
import { capturingOutput, errorLine } from '../../support/captured-output.ts';
import { harness, leaksDetail, SECRET_DETAIL, unbuildable } from '../../support/handler-harness.ts';
import { frameEvent, lambdaContext } from '../../support/lambda-events.ts';
import { listed } from '../../support/service-fixtures.ts';

/** errorFrames() around a handler that throws `error` for the frame `event` carries. */
function failingWith(
  deps: DependencyProvider,
  error: Error,
  event: APIGatewayProxyWebsocketEventV2 = frameEvent('A', 'hello all'),
) {
  const handler = middy<WebSocketEvent, WebSocketResult>()
    .use(errorFrames(deps))
    .handler(async () => {
      throw error;
    });
  return handler(event, lambdaContext('message'));
}

const refusal = new InvalidFrameError('empty_message', 'message text is empty', 'c-1');

describe('errorFrames middleware', () => {
  describe('a frame the client must fix', () => {
    it('answers 400', async () => {
      const h = await harness();

      expect(await failingWith(h.deps, refusal)).toEqual({ statusCode: 400 });
    });

    it('sends its code, reason and clientMsgId to the sender only', async () => {
      const h = await harness();

      await failingWith(h.deps, refusal);

      expect(h.messenger.sent).toEqual([
        {
          connectionId: 'A',
          frame: { type: 'error', code: 'empty_message', message: 'message text is empty', clientMsgId: 'c-1' },
        },
      ]);
    });

    it('forgets a sender that its error frame finds gone', async () => {
      const h = await harness();
      h.messenger.on('A', 'gone');

      await failingWith(h.deps, refusal);

      expect(await listed(h.connections)).toEqual(['B', 'C']);
    });
  });

  describe('a connection that is not registered', () => {
    it('gets an unknown_connection error frame and 400', async () => {
      const h = await harness();

      const response = await failingWith(
        h.deps,
        new UnknownConnectionError('ghost'),
        frameEvent('ghost', { action: 'who' }),
      );

      expect({ response, sent: h.messenger.sent }).toEqual({
        response: { statusCode: 400 },
        sent: [
          { connectionId: 'ghost', frame: { type: 'error', code: 'unknown_connection', message: expect.any(String) } },
        ],
      });
    });

    it('is counted and logged as a refused frame, not as a failure', async () => {
      const h = await harness();

      await failingWith(h.deps, new UnknownConnectionError('ghost'), frameEvent('ghost', { action: 'who' }));

      expect({
        refused: h.metrics.total('RefusedFrames'),
        logged: h.logger.entries.map((entry) => [entry.level, entry.message, entry.fields['code']]),
      }).toEqual({ refused: 1, logged: [['info', 'frame refused', 'unknown_connection']] });
    });

    it('gets the clientMsgId of the frame it sent back in the error frame', async () => {
      const h = await harness();

      await failingWith(
        h.deps,
        new UnknownConnectionError('ghost'),
        frameEvent('ghost', { action: 'sendmessage', text: 'hi', clientMsgId: 'c-9' }),
      );

      expect(h.messenger.framesTo('ghost')).toEqual([
        { type: 'error', code: 'unknown_connection', message: expect.any(String), clientMsgId: 'c-9' },
      ]);
    });
  });

  it('tells a live connection whose change kept losing to others that it conflicted, not that it is unknown', async () => {
    const h = await harness();

    const response = await failingWith(
      h.deps,
      new ConcurrentChangeError('A'),
      frameEvent('A', { action: 'setname', name: 'Ann' }),
    );

    expect({ response, toA: h.messenger.framesTo('A') }).toEqual({
      response: { statusCode: 400 },
      toA: [{ type: 'error', code: 'conflict', message: expect.stringContaining('try again') }],
    });
  });

  describe('a frame over the rate limit', () => {
    const limited = new RateLimitedError(true, 'too many frames: at most 3 every 10 s');

    it('answers 429 and tells the sender alone why, on the first refusal of a window', async () => {
      const h = await harness();

      const response = await failingWith(h.deps, limited);

      expect({ response, sent: h.messenger.sent }).toEqual({
        response: { statusCode: 429 },
        sent: [
          {
            connectionId: 'A',
            frame: { type: 'error', code: 'rate_limited', message: 'too many frames: at most 3 every 10 s' },
          },
        ],
      });
    });

    it('answers 429 and sends nothing on the later refusals of the window, so a flood is not echoed as a flood', async () => {
      const h = await harness();

      const response = await failingWith(h.deps, new RateLimitedError(false, 'too many frames'));

      expect({ response, sent: h.messenger.sent }).toEqual({ response: { statusCode: 429 }, sent: [] });
    });

    it('counts every refusal and logs the first of a window', async () => {
      const h = await harness();

      await failingWith(h.deps, limited);
      await failingWith(h.deps, new RateLimitedError(false, 'too many frames'));

      expect({
        counted: h.metrics.total('RateLimited'),
        logged: h.logger.entries.map((entry) => entry.message),
      }).toEqual({
        counted: 2,
        logged: ['rate limited'],
      });
    });
  });

  describe('on an unexpected failure', () => {
    const failure = new Error(SECRET_DETAIL);

    it('resolves with 500 instead of throwing', async () => {
      const h = await harness();

      expect(await failingWith(h.deps, failure)).toEqual({ statusCode: 500 });
    });

    it('sends an internal_error frame to the sender only', async () => {
      const h = await harness();

      await failingWith(h.deps, failure);

      expect(h.messenger.sent).toEqual([
        { connectionId: 'A', frame: { type: 'error', code: 'internal_error', message: expect.any(String) } },
      ]);
    });

    it('does not claim that nothing was sent: a frame can fail after part of its work was done', async () => {
      const h = await harness();

      await failingWith(h.deps, failure);

      const [sent] = h.messenger.sent;
      const message = sent?.frame.type === 'error' ? sent.frame.message : '';
      expect({ claimsNothingSent: /nothing was sent/.test(message), saysInPart: /in part/.test(message) }).toEqual({
        claimsNothingSent: false,
        saysInPart: true,
      });
    });

    it('keeps the error detail and stack out of the internal_error frame', async () => {
      const h = await harness();

      await failingWith(h.deps, failure);

      expect(h.messenger.sent.map((s) => leaksDetail(s.frame))).toEqual([false]);
    });

    it('names the clientMsgId of the frame that failed, so the client can tell which message was not sent', async () => {
      const h = await harness();

      await failingWith(h.deps, failure, frameEvent('A', { action: 'sendmessage', text: 'hi', clientMsgId: 'c-3' }));

      expect(h.messenger.framesTo('A')).toEqual([
        { type: 'error', code: 'internal_error', message: expect.any(String), clientMsgId: 'c-3' },
      ]);
    });

    it('logs the failure for the operators', async () => {
      const h = await harness();

      await failingWith(h.deps, failure);

      expect(h.logger.find('message route failed')).toEqual([
        {
          level: 'error',
          message: 'message route failed',
          fields: expect.objectContaining({
            connectionId: 'A',
            error: expect.objectContaining({ message: SECRET_DETAIL }),
          }),
        },
      ]);
    });

    it('logs the error itself, so that the logger keeps its cause and its own fields', async () => {
      const h = await harness();
      const delivery = new DeliveryError('B', 'unavailable', { cause: new Error(SECRET_DETAIL) });

      await failingWith(h.deps, delivery);

      expect(h.logger.find('message route failed')[0]?.fields['error']).toBe(delivery);
    });

    it('resolves even when the internal_error frame cannot be sent, and logs that it could not', async () => {
      const h = await harness();
      h.messenger.on('A', new Error('socket hang up'));

      const response = await failingWith(h.deps, failure);

      expect({ response, logged: h.logger.find('could not send error frame').length }).toEqual({
        response: { statusCode: 500 },
        logged: 1,
      });
    });
  });

  it('answers 400 and sends nothing for an event without a connection id', async () => {
    const h = await harness();

    const response = await failingWith(h.deps, refusal, frameEvent('', 'hello all'));

    expect({ response, sent: h.messenger.sent }).toEqual({ response: { statusCode: 400 }, sent: [] });
  });

  it('answers 500 when the dependencies cannot be built, and logs why', async () => {
    const { result, lines } = await capturingOutput(() => failingWith(unbuildable, refusal));

    expect({ result, lines }).toEqual({
      result: { statusCode: 500 },
      lines: [errorLine('cannot build dependencies', 'ConfigError')],
    });
  });
});
