import { describe, expect, it } from '@jest/globals';
import type { ChatMessage } from '../../../src/domain/frames.ts';
import type { HttpApiResult } from '../../../src/handlers/frames/http-request.ts';
import { FailingConnectionRepository } from '../../fakes/failing-connection-repository.ts';
import { capturingOutput } from '../../support/captured-output.ts';
import { harness, leaksDetail, SECRET_DETAIL } from '../../support/handler-harness.ts';
import { httpApiEvent, PUBLISHER_ARN } from '../../support/lambda-events.ts';

const PUBLISH = 'POST /rooms/{room}/messages';
const DESCRIBE = 'GET /rooms/{room}';
const MESSAGES = 'GET /rooms/{room}/messages';

const publishTo = (room: string, body: unknown, options: Parameters<typeof httpApiEvent>[2] = {}) =>
  httpApiEvent(PUBLISH, `/rooms/${room}/messages`, { body, ...options });

function answer(result: HttpApiResult) {
  return {
    status: result.statusCode,
    type: result.headers?.['content-type'],
    body: typeof result.body === 'string' ? (JSON.parse(result.body) as Record<string, unknown>) : undefined,
  };
}

describe('publish handler: POST /rooms/{room}/messages', () => {
  it('stores the text in the room and sends it to every member, answering the ack’s content', async () => {
    const h = await harness({ rooms: { kitchen: ['A', 'B'], lobby: ['C'] } });

    const result = answer(await h.publish(publishTo('kitchen', { text: 'Dinner is ready', clientMsgId: 'd-1' })));

    const [kept] = await h.history.recent('kitchen');
    expect({
      result,
      kept: { from: kept?.from, name: kept?.name, text: kept?.text },
      to: h.messenger.sent.map((s) => s.connectionId).sort(),
    }).toEqual({
      result: {
        status: 200,
        type: 'application/json',
        body: { clientMsgId: 'd-1', id: kept?.id, seq: 1, recipients: 2, delivered: 2, gone: 0, failed: 0 },
      },
      kept: { from: 'publisher:Notice', name: 'Notice', text: 'Dinner is ready' },
      to: ['A', 'B'],
    });
  });

  it('shows the name the publisher gives, and logs the caller, whom no frame names', async () => {
    const h = await harness({ rooms: { kitchen: ['A'] } });

    await h.publish(publishTo('kitchen', { text: 'v2.3 is live', name: 'Deploys' }));

    expect({
      frame: h.messenger.framesTo('A').map((f) => (f.type === 'message' ? [f.from, f.name] : f.type)),
      framesNameCaller: JSON.stringify(h.messenger.sent).includes(PUBLISHER_ARN),
      logged: h.logger.entries.some((line) => line.fields['caller'] === PUBLISHER_ARN),
    }).toEqual({ frame: [['publisher:Deploys', 'Deploys']], framesNameCaller: false, logged: true });
  });

  it('takes a retry with the same clientMsgId for the same message: one kept, the same id and seq answered', async () => {
    const h = await harness({ rooms: { kitchen: ['A'] } });

    const first = answer(await h.publish(publishTo('kitchen', { text: 'shipped', clientMsgId: 'order-7' })));
    const retry = answer(await h.publish(publishTo('kitchen', { text: 'shipped', clientMsgId: 'order-7' })));

    expect({
      kept: (await h.history.recent('kitchen')).length,
      same: [retry.body?.['id'], retry.body?.['seq']],
    }).toEqual({ kept: 1, same: [first.body?.['id'], first.body?.['seq']] });
  });

  it("keeps two callers' messages with the same clientMsgId apart", async () => {
    const h = await harness({ rooms: { kitchen: ['A'] } });

    await h.publish(publishTo('kitchen', { text: 'one', clientMsgId: 'same' }));
    await h.publish(
      publishTo('kitchen', { text: 'two', clientMsgId: 'same' }, { caller: 'arn:aws:iam::1:user/other' }),
    );

    expect((await h.history.recent('kitchen')).map((m) => m.text)).toEqual(['one', 'two']);
  });

  it('publishes into a room nobody is in: delivered to no one, kept for whoever joins', async () => {
    const h = await harness();

    const result = answer(await h.publish(publishTo('attic', { text: 'anyone?' })));

    expect({
      status: result.status,
      recipients: result.body?.['recipients'],
      kept: (await h.history.recent('attic')).length,
    }).toEqual({
      status: 200,
      recipients: 0,
      kept: 1,
    });
  });

  it.each([
    ['a body that is not JSON', '{"text":', 400, 'invalid_json'],
    ['a body without text', {}, 400, 'invalid_request'],
    ['a field the API does not know', { text: 'hi', colour: 'red' }, 400, 'invalid_request'],
    ['a text of only white space', { text: '   ' }, 400, 'empty_message'],
    ['a text over the size limit', { text: 'x'.repeat(65) }, 400, 'message_too_large'],
    ['a text with a terminal escape', { text: 'a\u001b[2Jb' }, 400, 'invalid_text'],
    ['a clientMsgId with spaces', { text: 'hi', clientMsgId: 'not ok' }, 400, 'invalid_request'],
    ['a name of two look-alike alphabets', { text: 'hi', name: 'Аlice' }, 400, 'invalid_name'],
    ['a body over the frame limit', { text: 'hi', pad: 'x'.repeat(300) }, 413, 'body_too_large'],
  ])('refuses %s with a problem, and publishes nothing', async (_, body, status, code) => {
    const h = await harness({ rooms: { kitchen: ['A'] } });

    const result = answer(await h.publish(publishTo('kitchen', body)));

    expect({ result, kept: (await h.history.recent('kitchen')).length, sent: h.messenger.sent.length }).toEqual({
      result: {
        status,
        type: 'application/problem+json',
        body: { type: `urn:ws-chat:problem:${code}`, title: expect.any(String), status, detail: expect.any(String) },
      },
      kept: 0,
      sent: 0,
    });
  });

  it('refuses a room name the chat does not allow', async () => {
    const h = await harness();

    const result = answer(await h.publish(publishTo('no%20spaces', { text: 'hi' })));

    expect([result.status, result.body?.['type']]).toEqual([400, 'urn:ws-chat:problem:invalid_room']);
  });

  it('refuses a body that is not sent as JSON', async () => {
    const h = await harness();

    const result = answer(
      await h.publish(publishTo('kitchen', 'text=hi', { headers: { 'content-type': 'text/plain' } })),
    );

    expect([result.status, result.body?.['type']]).toEqual([415, 'urn:ws-chat:problem:unsupported_media_type']);
  });

  it('refuses a request that carries no IAM identity', async () => {
    const h = await harness({ rooms: { kitchen: ['A'] } });

    const result = answer(await h.publish(publishTo('kitchen', { text: 'hi' }, { caller: null })));

    expect({ result: [result.status, result.body?.['type']], sent: h.messenger.sent.length }).toEqual({
      result: [403, 'urn:ws-chat:problem:forbidden'],
      sent: 0,
    });
  });

  it('answers a failure of the table with a 500 problem that tells nothing of it, and logs it', async () => {
    const h = await harness({
      rooms: { kitchen: ['A'] },
      repository: (table) => new FailingConnectionRepository(table).failList(new Error(SECRET_DETAIL)),
    });

    const { result } = await capturingOutput(() => h.publish(publishTo('kitchen', { text: 'hi' })));

    expect({
      status: result.statusCode,
      type: result.headers?.['content-type'],
      leaks: leaksDetail(result.body),
      logged: h.logger.entries.some((line) => line.level === 'error'),
    }).toEqual({ status: 500, type: 'application/problem+json', leaks: false, logged: true });
  });

  it("refuses a caller over its budget with a 429 and Retry-After, while another caller's requests pass", async () => {
    const h = await harness({ rooms: { kitchen: ['A'] }, publishLimit: { frames: 2, windowSeconds: 10 } });

    const statuses: number[] = [];
    for (let request = 0; request < 5; request += 1)
      statuses.push((await h.publish(publishTo('kitchen', { text: `m${request}` }))).statusCode ?? 0);
    const refused = await h.publish(publishTo('kitchen', { text: 'again' }));
    const other = await h.publish(publishTo('kitchen', { text: 'mine' }, { caller: 'arn:aws:iam::1:user/other' }));

    expect({
      statuses,
      retryAfter: refused.headers?.['retry-after'],
      other: other.statusCode,
      kept: (await h.history.recent('kitchen')).map((m) => m.text),
    }).toEqual({
      statuses: [200, 200, 429, 429, 429],
      retryAfter: '5',
      other: 200,
      kept: ['m0', 'm1', 'mine'],
    });
  });
});

describe('publish handler: GET /rooms/{room} and GET /rooms/{room}/messages', () => {
  it("tells a room's member count and the seq of its newest kept message", async () => {
    const h = await harness({ rooms: { kitchen: ['A', 'B'] } });
    await h.publish(publishTo('kitchen', { text: 'one' }));
    await h.publish(publishTo('kitchen', { text: 'two' }));

    const result = answer(await h.publish(httpApiEvent(DESCRIBE, '/rooms/kitchen')));

    expect(result).toEqual({
      status: 200,
      type: 'application/json',
      body: { room: 'kitchen', members: 2, latestSeq: 2 },
    });
  });

  it('describes a room nobody ever used as empty', async () => {
    const h = await harness();

    const result = answer(await h.publish(httpApiEvent(DESCRIBE, '/rooms/Nowhere')));

    expect(result.body).toEqual({ room: 'nowhere', members: 0, latestSeq: 0 });
  });

  it('lists the kept messages numbered above afterSeq, oldest first', async () => {
    const h = await harness({ rooms: { kitchen: ['A'] } });
    for (const text of ['one', 'two', 'three']) await h.publish(publishTo('kitchen', { text }));

    const result = answer(
      await h.publish(httpApiEvent(MESSAGES, '/rooms/kitchen/messages', { query: { afterSeq: '1' } })),
    );

    const messages = (result.body?.['messages'] ?? []) as ChatMessage[];
    expect({ room: result.body?.['room'], listed: messages.map((m) => [m.seq, m.text]) }).toEqual({
      room: 'kitchen',
      listed: [
        [2, 'two'],
        [3, 'three'],
      ],
    });
  });

  it.each([['-1'], ['1.5'], ['soon']])('refuses afterSeq=%s with a problem', async (afterSeq) => {
    const h = await harness();

    const result = answer(await h.publish(httpApiEvent(MESSAGES, '/rooms/kitchen/messages', { query: { afterSeq } })));

    expect([result.status, result.body?.['type']]).toEqual([400, 'urn:ws-chat:problem:invalid_request']);
  });
});
