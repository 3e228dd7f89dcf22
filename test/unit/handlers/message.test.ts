import { describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import type { ErrorCode } from '../../../src/domain/frames.ts';
import { createMessageHandler } from '../../../src/handlers/functions/message.ts';
import { FailingConnectionRepository } from '../../fakes/failing-connection-repository.ts';
import { capturingOutput, errorLine } from '../../support/captured-output.ts';
import { summary } from '../../support/frame-summary.ts';
import { harness, SECRET_DETAIL, unbuildable } from '../../support/handler-harness.ts';
import { connectEvent, frameEvent, lambdaContext } from '../../support/lambda-events.ts';
import { listed } from '../../support/service-fixtures.ts';

describe('message handler with authentication on', () => {
  it('refuses setname with name_locked and keeps the verified name', async () => {
    const h = await harness({ authMode: 'jwt' });

    await h.message(frameEvent('A', '{"action":"setname","name":"Mallory"}'));

    expect({ frames: h.messenger.framesTo('A'), name: (await h.connections.get('A'))?.name }).toEqual({
      frames: [{ type: 'error', code: 'name_locked', message: 'names come from your sign-in here' }],
      name: 'Name A',
    });
  });
});

describe('message handler', () => {
  describe('chat messages', () => {
    it("in broadcast mode sends a plain text frame to every connection of the sender's room", async () => {
      const h = await harness({ chatMode: 'broadcast', rooms: { lobby: ['A', 'B', 'C'], kitchen: ['K'] } });

      const response = await h.message(frameEvent('A', 'hello all'));

      expect({ response, to: h.messenger.sent.map((s) => s.connectionId).sort() }).toEqual({
        response: { statusCode: 200 },
        to: ['A', 'B', 'C'],
      });
    });

    it("sends a message frame that names its sender, its sender's name and its room", async () => {
      const h = await harness({ chatMode: 'broadcast' });

      await h.message(frameEvent('A', 'hello all'));

      expect(h.messenger.framesTo('C')).toEqual([
        {
          type: 'message',
          id: expect.any(String),
          seq: 1,
          room: 'lobby',
          from: 'A',
          name: 'Name A',
          text: 'hello all',
          sentAt: expect.any(String),
        },
      ]);
    });

    it("keeps the message in its room's history", async () => {
      const h = await harness({ chatMode: 'broadcast' });

      await h.message(frameEvent('A', 'hello all'));

      expect((await h.history.recent('lobby')).map((m) => m.text)).toEqual(['hello all']);
    });

    it('in echo mode echoes a plain text frame to its sender only', async () => {
      const h = await harness({ chatMode: 'echo' });

      await h.message(frameEvent('A', 'just me'));

      expect(h.messenger.sent).toEqual([
        {
          connectionId: 'A',
          frame: { type: 'echo', id: expect.any(String), from: 'A', text: 'just me', sentAt: expect.any(String) },
        },
      ]);
    });

    it('echoes a frame whose action is echo even in broadcast mode', async () => {
      const h = await harness({ chatMode: 'broadcast' });

      await h.message(frameEvent('A', { action: 'echo', text: 'ping' }));

      expect(h.messenger.sent.map((s) => [s.connectionId, s.frame.type])).toEqual([['A', 'echo']]);
    });

    it('broadcasts a sendmessage frame of the AWS sample client even in echo mode', async () => {
      const h = await harness({ chatMode: 'echo' });

      await h.message(frameEvent('A', { action: 'sendmessage', data: 'hi all' }));

      expect(h.messenger.sent.map((s) => s.connectionId).sort()).toEqual(['A', 'B', 'C']);
    });

    it('lands the AWS sample client, which connects without a room, in the lobby', async () => {
      const h = await harness({ rooms: { lobby: ['L'], kitchen: ['K'] } });
      await h.connect(connectEvent('S'));

      await h.message(frameEvent('S', { action: 'sendmessage', data: 'hello from 2019' }));

      expect(
        h.messenger.sent
          .filter((s) => s.frame.type === 'message')
          .map((s) => [s.connectionId, s.frame.type === 'message' ? s.frame.room : s.frame.type])
          .sort(),
      ).toEqual([
        ['L', 'lobby'],
        ['S', 'lobby'],
      ]);
    });

    it('acknowledges a sendmessage with a clientMsgId to its sender, after its own copy', async () => {
      const h = await harness();

      await h.message(frameEvent('A', { action: 'sendmessage', text: 'did you get it?', clientMsgId: 'c-1' }));

      const [message, ack] = h.messenger.framesTo('A');
      expect(ack).toEqual({
        type: 'ack',
        clientMsgId: 'c-1',
        id: message?.type === 'message' ? message.id : 'no message came first',
        seq: 1,
        recipients: 3,
        delivered: 3,
        gone: 0,
        failed: 0,
      });
    });

    it("takes a sendmessage resent from the same page's new connection, named by its clientId, for the message it resends", async () => {
      const h = await harness();
      const frame = { action: 'sendmessage', text: 'did you get it?', clientMsgId: 'c-1', clientId: 'page-1' };

      await h.message(frameEvent('A', frame));
      await h.message(frameEvent('B', frame));

      const acks = ['A', 'B'].map((id) => h.messenger.framesTo(id).flatMap((f) => (f.type === 'ack' ? [f.id] : [])));
      expect({ differ: acks[0]?.[0] === undefined, acks: acks[1] }).toEqual({ differ: false, acks: acks[0] });
    });

    it('sends no ack for a message without a clientMsgId', async () => {
      const h = await harness();

      await h.message(frameEvent('A', { action: 'sendmessage', text: 'hi' }));

      expect(h.messenger.sent.filter((s) => s.frame.type === 'ack')).toEqual([]);
    });

    it('logs the fan-out report of a message', async () => {
      const h = await harness({ chatMode: 'broadcast' });
      h.messenger.on('C', 'gone');

      await h.message(frameEvent('A', 'hello all'));

      expect(h.logger.find('fan-out').map((entry) => entry.fields)).toEqual([
        {
          connectionId: 'A',
          route: '$default',
          requestId: lambdaContext('message').awsRequestId,
          action: 'broadcast',
          room: 'lobby',
          recipients: 3,
          delivered: 2,
          gone: 1,
          removed: 1,
          failed: 0,
          failures: [],
          shards: 0,
        },
      ]);
    });
  });

  describe('ping', () => {
    it('answers a ping with a pong that names the caller, to the caller only', async () => {
      const h = await harness();

      await h.message(frameEvent('B', { action: 'ping' }));

      expect(h.messenger.sent).toEqual([{ connectionId: 'B', frame: { type: 'pong', connectionId: 'B' } }]);
    });
  });

  describe('hello', () => {
    it('welcomes the caller alone: its room was told it joined when it connected', async () => {
      const h = await harness({ rooms: { kitchen: ['A', 'B'], lobby: ['L'] } });

      const response = await h.message(frameEvent('A', { action: 'hello' }));

      expect({ response, sent: h.messenger.sent.map((s) => [s.connectionId, summary(s.frame)]) }).toEqual({
        response: { statusCode: 200 },
        sent: [['A', 'welcome kitchen replay=0']],
      });
    });

    it("replays the room's history after the id the caller names", async () => {
      const h = await harness({ rooms: { kitchen: ['A', 'B'] } });
      for (const text of ['one', 'two', 'three']) await h.message(frameEvent('A', text));
      const [first] = await h.history.recent('kitchen');
      h.messenger.sent.length = 0;

      await h.message(frameEvent('B', { action: 'hello', after: first?.id ?? 'missing' }));

      expect(
        h.messenger
          .framesTo('B')
          .filter((f) => f.type !== 'presence')
          .map(summary),
      ).toEqual(['welcome kitchen replay=2', 'message two', 'message three']);
    });
  });

  describe('join', () => {
    it('moves the caller to the room, lowercased, and answers 200', async () => {
      const h = await harness();

      const response = await h.message(frameEvent('A', { action: 'join', room: 'Kitchen' }));

      expect({ response, room: (await h.connections.get('A'))?.room }).toEqual({
        response: { statusCode: 200 },
        room: 'kitchen',
      });
    });

    it('welcomes the caller to the new room and tells both rooms', async () => {
      const h = await harness({ rooms: { lobby: ['A', 'B'], kitchen: ['K'] } });

      await h.message(frameEvent('A', { action: 'join', room: 'kitchen' }));

      expect(h.messenger.sent.map((s) => [s.connectionId, summary(s.frame)])).toEqual([
        ['B', 'presence leave lobby A'],
        ['A', 'presence join kitchen A'],
        ['K', 'presence join kitchen A'],
        ['A', 'welcome kitchen replay=0'],
      ]);
    });

    it('answers a join to an invalid room with one invalid_room error frame to the sender only', async () => {
      const h = await harness();

      await h.message(frameEvent('A', { action: 'join', room: 'no spaces!' }));

      expect(h.messenger.sent).toEqual([
        { connectionId: 'A', frame: { type: 'error', code: 'invalid_room', message: expect.any(String) } },
      ]);
    });

    it('leaves the caller in its room when the room it asks for is invalid', async () => {
      const h = await harness();

      await h.message(frameEvent('A', { action: 'join', room: 'no spaces!' }));

      expect(await listed(h.connections, 'lobby')).toEqual(['A', 'B', 'C']);
    });
  });

  describe('leave', () => {
    it('returns the caller to the lobby', async () => {
      const h = await harness({ rooms: { kitchen: ['A'] } });

      await h.message(frameEvent('A', { action: 'leave' }));

      expect((await h.connections.get('A'))?.room).toBe('lobby');
    });
  });

  describe('setname', () => {
    it('renames the caller and tells its room the new and the previous name', async () => {
      const h = await harness({ rooms: { kitchen: ['A', 'B'] } });

      await h.message(frameEvent('A', { action: 'setname', name: 'Ann' }));

      expect(h.messenger.framesTo('B')).toEqual([
        {
          type: 'presence',
          event: 'rename',
          room: 'kitchen',
          connectionId: 'A',
          name: 'Ann',
          previousName: 'Name A',
          rev: 1,
          at: expect.any(String),
          members: 2,
        },
      ]);
    });

    it.each([
      { case: 'a control character', name: 'Ann\u0007' },
      { case: 'a right-to-left override', name: 'Ann\u202eeL' },
      { case: '40 characters', name: 'x'.repeat(40) },
    ])('answers a name with $case with one invalid_name error frame to the sender only', async ({ name }) => {
      const h = await harness();

      await h.message(frameEvent('A', { action: 'setname', name }));

      expect(h.messenger.sent).toEqual([
        { connectionId: 'A', frame: { type: 'error', code: 'invalid_name', message: expect.any(String) } },
      ]);
    });

    it("keeps the caller's name when the name it asks for is invalid", async () => {
      const h = await harness();

      await h.message(frameEvent('A', { action: 'setname', name: 'x'.repeat(40) }));

      expect((await h.connections.get('A'))?.name).toBe('Name A');
    });
  });

  describe('who', () => {
    it('sends the caller the roster of its room', async () => {
      const h = await harness({ rooms: { kitchen: ['A', 'B'], lobby: ['L'] } });

      await h.message(frameEvent('A', { action: 'who' }));

      expect(h.messenger.sent).toEqual([
        {
          connectionId: 'A',
          frame: {
            type: 'roster',
            room: 'kitchen',
            members: [
              { connectionId: 'A', name: 'Name A', rev: 0 },
              { connectionId: 'B', name: 'Name B', rev: 0 },
            ],
            count: 2,
          },
        },
      ]);
    });

    it('sends the page after the cursor the caller names', async () => {
      const h = await harness({ rooms: { kitchen: ['A', 'B'] } });
      const cursor = (await h.connections.members('kitchen', 1)).next;

      await h.message(frameEvent('A', { action: 'who', cursor }));

      expect(h.messenger.framesTo('A')).toEqual([
        { type: 'roster', room: 'kitchen', members: [{ connectionId: 'B', name: 'Name B', rev: 0 }], count: 2 },
      ]);
    });

    it.each([
      { case: 'a cursor the server never gave', cursor: 'made-up', code: 'invalid_frame' },
      { case: 'a cursor that is not a string', cursor: 42, code: 'invalid_frame' },
    ])('answers $case with one error frame to the sender only', async ({ cursor, code }) => {
      const h = await harness({ rooms: { kitchen: ['A', 'B'] } });

      await h.message(frameEvent('A', { action: 'who', cursor }));

      expect(h.messenger.sent).toEqual([
        { connectionId: 'A', frame: { type: 'error', code, message: expect.stringContaining('cursor') } },
      ]);
    });
  });

  describe('a connection that is not registered', () => {
    const actions: ReadonlyArray<{ action: string } & Record<string, unknown>> = [
      { action: 'sendmessage', text: 'hi' },
      { action: 'hello' },
      { action: 'join', room: 'kitchen' },
      { action: 'leave' },
      { action: 'setname', name: 'Ann' },
      { action: 'who' },
    ];

    it.each(actions)('gets an unknown_connection error frame, and no one else anything, for $action', async (frame) => {
      const h = await harness();

      await h.message(frameEvent('ghost', frame));

      expect(h.messenger.sent).toEqual([
        { connectionId: 'ghost', frame: { type: 'error', code: 'unknown_connection', message: expect.any(String) } },
      ]);
    });

    it('is not registered by its frame', async () => {
      const h = await harness();

      await h.message(frameEvent('ghost', { action: 'join', room: 'kitchen' }));

      expect(await h.connections.get('ghost')).toBeUndefined();
    });
  });

  describe('refused frames', () => {
    const invalidFrames: ReadonlyArray<{ code: ErrorCode; body: string | Uint8Array }> = [
      { code: 'binary_not_supported', body: Buffer.from('hello') },
      { code: 'frame_too_large', body: 'x'.repeat(257) },
      { code: 'invalid_json', body: '{bad' },
      { code: 'invalid_frame', body: '{"text":5}' },
      { code: 'unknown_action', body: '{"action":"shout","text":"hi"}' },
      { code: 'empty_message', body: '   ' },
      { code: 'message_too_large', body: 'x'.repeat(65) },
      { code: 'invalid_room', body: '{"action":"join","room":"a.b"}' },
      { code: 'invalid_name', body: '{"action":"setname","name":""}' },
    ];

    it.each(invalidFrames)('answers a $code frame with one error frame to its sender only', async (frame) => {
      const h = await harness();

      await h.message(frameEvent('A', frame.body));

      expect(h.messenger.sent).toEqual([
        { connectionId: 'A', frame: { type: 'error', code: frame.code, message: expect.any(String) } },
      ]);
    });

    it.each(invalidFrames)('leaves the connection table unchanged on a $code frame', async (frame) => {
      const h = await harness();

      await h.message(frameEvent('A', frame.body));

      expect(await listed(h.connections)).toEqual(['A', 'B', 'C']);
    });

    it.each([
      { code: 'empty_message', frame: { action: 'sendmessage', text: '  ', clientMsgId: 'c-1' } },
      { code: 'message_too_large', frame: { action: 'sendmessage', text: 'x'.repeat(65), clientMsgId: 'c-1' } },
      { code: 'unknown_action', frame: { action: 'shout', text: 'hi', clientMsgId: 'c-1' } },
    ])('names the clientMsgId of a message refused with $code in its error frame', async ({ code, frame }) => {
      const h = await harness();

      await h.message(frameEvent('A', frame));

      expect(h.messenger.sent).toEqual([
        { connectionId: 'A', frame: { type: 'error', code, message: expect.any(String), clientMsgId: 'c-1' } },
      ]);
    });

    it('stores nothing in the history for a refused message', async () => {
      const h = await harness();

      await h.message(frameEvent('A', { action: 'sendmessage', text: '  ' }));

      expect(await h.history.recent('lobby')).toEqual([]);
    });
  });

  it('resolves with 500 instead of throwing on an unexpected failure', async () => {
    const h = await harness({
      repository: (table) => new FailingConnectionRepository(table).failList(new Error(SECRET_DETAIL)),
    });

    const response = await h.message(frameEvent('A', 'hello all'));

    expect(response).toEqual({ statusCode: 500 });
  });

  it('answers 400 and sends nothing when the event carries no connection id', async () => {
    const h = await harness();

    const response = await h.message(frameEvent('', 'hello all'));

    expect({ response, sent: h.messenger.sent }).toEqual({ response: { statusCode: 400 }, sent: [] });
  });

  it('resolves with 500 instead of throwing when the dependencies cannot be built, and logs why', async () => {
    const message = createMessageHandler(unbuildable);

    const { result, lines } = await capturingOutput(() =>
      message(frameEvent('A', 'hello all'), lambdaContext('message')),
    );

    expect({ result, lines }).toEqual({
      result: { statusCode: 500 },
      lines: [errorLine('cannot build dependencies', 'ConfigError')],
    });
  });
});

describe('message handler under a flood', () => {
  it('weighs a hello by the replay and presence it causes: a budget of 30 admits three', async () => {
    const h = await harness({ rooms: { kitchen: ['A', 'B'] }, rateLimit: { frames: 30, windowSeconds: 10 } });

    for (let i = 0; i < 5; i += 1) await h.message(frameEvent('A', { action: 'hello' }));

    const toA = h.messenger.framesTo('A').map((frame) => (frame.type === 'error' ? `error ${frame.code}` : frame.type));
    expect(toA.filter((type) => type === 'welcome' || type.startsWith('error'))).toEqual([
      'welcome',
      'welcome',
      'welcome',
      'error rate_limited',
    ]);
  });

  it('counts a frame that does not parse as one frame', async () => {
    const h = await harness({ rateLimit: { frames: 2, windowSeconds: 10 } });

    await h.message(frameEvent('A', '{bad'));
    await h.message(frameEvent('A', '{bad'));
    await h.message(frameEvent('A', '{bad'));

    expect(h.messenger.framesTo('A').map((frame) => (frame.type === 'error' ? frame.code : frame.type))).toEqual([
      'invalid_json',
      'invalid_json',
      'rate_limited',
    ]);
  });

  it('tells a flooding connection once per window that it is rate limited, and drops its excess frames', async () => {
    const h = await harness({ rateLimit: { frames: 3, windowSeconds: 10 } });

    const responses = [];
    for (let i = 0; i < 6; i += 1) responses.push(await h.message(frameEvent('A', `flood ${i}`)));

    const errors = h.messenger.framesTo('A').filter((frame) => frame.type === 'error');
    const texts = h.messenger.framesTo('B').flatMap((frame) => (frame.type === 'message' ? [frame.text] : []));
    expect({ statuses: responses.map((r) => (typeof r === 'object' ? r.statusCode : r)), errors, texts }).toEqual({
      statuses: [200, 200, 200, 429, 429, 429],
      errors: [{ type: 'error', code: 'rate_limited', message: expect.stringContaining('at most 3 every 10 s') }],
      texts: ['flood 0', 'flood 1', 'flood 2'],
    });
  });

  it('keeps other connections chatting while one floods', async () => {
    const h = await harness({ rateLimit: { frames: 2, windowSeconds: 10 } });
    for (let i = 0; i < 5; i += 1) await h.message(frameEvent('A', `flood ${i}`));

    await h.message(frameEvent('B', 'calm words'));

    expect(h.messenger.framesTo('C').flatMap((frame) => (frame.type === 'message' ? [frame.text] : []))).toEqual([
      'flood 0',
      'flood 1',
      'calm words',
    ]);
  });

  it('counts invalid frames against the budget too', async () => {
    const h = await harness({ rateLimit: { frames: 2, windowSeconds: 10 } });
    await h.message(frameEvent('A', '{bad'));
    await h.message(frameEvent('A', '{bad'));

    await h.message(frameEvent('A', 'a real message'));

    expect(h.messenger.framesTo('B')).toEqual([]);
  });
});

describe('observability', () => {
  it('counts the message and its deliveries, and publishes the metrics once per invocation', async () => {
    const h = await harness();

    await h.message(frameEvent('A', 'hello all'));

    expect({
      messages: h.metrics.total('Messages'),
      deliveries: h.metrics.total('Deliveries'),
      published: h.metrics.published,
    }).toEqual({ messages: 1, deliveries: 3, published: 1 });
  });

  it('still publishes the metrics of an invocation that failed, with the refusal counted', async () => {
    const h = await harness();

    await h.message(frameEvent('A', '{bad'));

    expect({ refused: h.metrics.total('RefusedFrames'), published: h.metrics.published }).toEqual({
      refused: 1,
      published: 1,
    });
  });
});

describe('events that reach a handler not meant for them', () => {
  it('refuses a binary frame that arrives as a Buffer, as the local emulator passes it', async () => {
    const h = await harness();
    const event = { ...frameEvent('A', ''), body: Buffer.from([0xff, 0x00, 0x7b]) };

    await h.message(event as unknown as APIGatewayProxyWebsocketEventV2);

    expect(h.messenger.framesTo('A')).toEqual([
      { type: 'error', code: 'binary_not_supported', message: 'send text frames, not binary' },
    ]);
  });
});
