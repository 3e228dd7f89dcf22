import { describe, expect, it } from '@jest/globals';
import { createConnectHandler } from '../../../src/handlers/functions/connect.ts';
import { FailingConnectionRepository } from '../../fakes/failing-connection-repository.ts';
import { capturingOutput, errorLine } from '../../support/captured-output.ts';
import { summary } from '../../support/frame-summary.ts';
import type { WebSocketEvent } from '../../../src/handlers/frames/websocket-event.ts';
import {
  harness,
  type HarnessOptions,
  leaksDetail,
  SECRET_DETAIL,
  statusOf,
  unbuildable,
} from '../../support/handler-harness.ts';
import { connectEvent, frameEvent, lambdaContext } from '../../support/lambda-events.ts';
import { listed } from '../../support/service-fixtures.ts';

describe('$connect handler with an origin allow-list and authentication', () => {
  it('refuses a browser handshake from an origin not on the list with 403 and stores nothing', async () => {
    const h = await harness({ rooms: {}, allowedOrigins: ['https://chat.example.com'] });

    const response = await h.connect(connectEvent('A', { origin: 'https://evil.example' }));

    expect({ status: statusOf(response), stored: await listed(h.connections) }).toEqual({ status: 403, stored: [] });
  });

  it('accepts a handshake from an origin on the list', async () => {
    const h = await harness({ rooms: {}, allowedOrigins: ['https://chat.example.com'] });

    await h.connect(connectEvent('A', { origin: 'https://chat.example.com' }));

    expect(await listed(h.connections)).toEqual(['A']);
  });

  it('records the verified user and name from the authorizer, not the name the query asks for', async () => {
    const h = await harness({ rooms: {}, authMode: 'jwt' });

    await h.connect(
      connectEvent('A', { authorizer: { userId: 'user-1', name: 'Ann Verified' }, query: { name: 'Mallory' } }),
    );

    expect(await h.connections.get('A')).toMatchObject({ userId: 'user-1', name: 'Ann Verified' });
  });

  it('refuses with 401 a verified user id longer than the connection caps can count, and stores nothing', async () => {
    const h = await harness({ rooms: {}, authMode: 'jwt', caps: { perUser: 1, perIp: 0 } });

    const response = await h.connect(connectEvent('A', { authorizer: { userId: 'u'.repeat(257), name: 'Ann' } }));

    expect({ status: statusOf(response), stored: await listed(h.connections) }).toEqual({ status: 401, stored: [] });
  });

  it('refuses with 401 a handshake that reached it without a verified identity when authentication is on', async () => {
    const h = await harness({ rooms: {}, authMode: 'jwt' });

    const response = await h.connect(connectEvent('A', { query: { name: 'Mallory' } }));

    expect({ status: statusOf(response), stored: await listed(h.connections) }).toEqual({ status: 401, stored: [] });
  });
});

describe('$connect handler refusing a handshake', () => {
  it.each<{
    case: string;
    status: number;
    reason: string;
    options: HarnessOptions;
    event: WebSocketEvent;
    first?: WebSocketEvent;
  }>([
    {
      case: 'an origin not on the list',
      status: 403,
      reason: 'origin_not_allowed',
      options: { allowedOrigins: ['https://chat.example.com'] },
      event: connectEvent('A', { origin: 'https://evil.example' }),
    },
    {
      case: 'a bad room',
      status: 400,
      reason: 'invalid_query',
      options: {},
      event: connectEvent('A', { query: { room: '!' } }),
    },
    {
      case: 'no verified identity',
      status: 401,
      reason: 'not_authenticated',
      options: { authMode: 'jwt' },
      event: connectEvent('A'),
    },
    {
      case: 'a user at its cap',
      status: 429,
      reason: 'user_at_cap',
      options: { authMode: 'jwt', caps: { perUser: 1, perIp: 0 } },
      first: connectEvent('A', { authorizer: { userId: 'u', name: 'Ann' } }),
      event: connectEvent('B', { authorizer: { userId: 'u', name: 'Ann' } }),
    },
    {
      case: 'an address at its cap',
      status: 429,
      reason: 'ip_at_cap',
      options: { caps: { perUser: 0, perIp: 1 } },
      first: connectEvent('A', { sourceIp: '203.0.113.9' }),
      event: connectEvent('B', { sourceIp: '203.0.113.9' }),
    },
  ])('logs $case as information without an error, and counts it by its reason', async (refusal) => {
    const h = await harness({ rooms: {}, ...refusal.options });
    if (refusal.first !== undefined) await h.connect(refusal.first);
    const earlier = h.logger.entries.length;
    const publishedEarlier = h.metrics.published;

    const response = await h.connect(refusal.event);

    expect({
      status: statusOf(response),
      logged: h.logger.entries
        .slice(earlier)
        .map(({ level, message, fields }) => ({ level, message, error: fields['error'] })),
      counted: h.metrics.dimensioned,
      published: h.metrics.published - publishedEarlier,
    }).toEqual({
      status: refusal.status,
      logged: [{ level: 'info', message: 'handshake refused', error: undefined }],
      counted: [{ name: 'HandshakesRefused', value: 1, dimensions: { Reason: refusal.reason } }],
      published: 1,
    });
  });
});

describe('$connect handler', () => {
  it('stores the connection in the lobby and answers 200', async () => {
    const h = await harness({ rooms: {} });

    const response = await h.connect(connectEvent('A'));

    expect({ response, stored: await listed(h.connections, 'lobby') }).toEqual({
      response: { statusCode: 200 },
      stored: ['A'],
    });
  });

  it('stores the room the query string names, lowercased', async () => {
    const h = await harness({ rooms: {} });

    await h.connect(connectEvent('A', { query: { room: 'Kitchen' } }));

    expect((await h.connections.get('A'))?.room).toBe('kitchen');
  });

  it('stores the name the query string gives, trimmed', async () => {
    const h = await harness({ rooms: {} });

    await h.connect(connectEvent('A', { query: { name: ' Ann Lee ' } }));

    expect((await h.connections.get('A'))?.name).toBe('Ann Lee');
  });

  it('gives a connection that names no one a guest name', async () => {
    const h = await harness({ rooms: {} });

    await h.connect(connectEvent('L0SM9cOFvHcCIhw='));

    expect((await h.connections.get('L0SM9cOFvHcCIhw='))?.name).toBe('Guest CIhw');
  });

  it('tells the room it joined, the members there already and the newcomer alike', async () => {
    const h = await harness();

    await h.connect(connectEvent('D', { query: { room: 'lobby', name: 'Dee' } }));

    expect(h.messenger.sent.map((s) => [s.connectionId, summary(s.frame)])).toEqual(
      ['A', 'B', 'C', 'D'].map((id) => [id, 'presence join lobby D']),
    );
  });

  it.each<{ case: string; query: Record<string, string> }>([
    { case: 'a room with a space and punctuation', query: { room: 'no spaces!' } },
    { case: 'a room over 32 characters', query: { room: 'x'.repeat(33) } },
    { case: 'an empty room', query: { room: '' } },
    { case: 'a name with a control character', query: { name: 'Ann\u0000' } },
    { case: 'a name of 40 characters', query: { name: 'x'.repeat(40) } },
  ])('refuses $case with 400 and stores nothing', async ({ query }) => {
    const h = await harness({ rooms: {} });

    const response = await h.connect(connectEvent('A', { query }));

    expect({ response, stored: await h.connections.get('A') }).toEqual({
      response: expect.objectContaining({ statusCode: 400 }),
      stored: undefined,
    });
  });

  it('names the query parameter it refused in the 400 response', async () => {
    const h = await harness({ rooms: {} });

    const response = await h.connect(connectEvent('A', { query: { room: 'no spaces!' } }));

    expect(response).toMatchObject({ statusCode: 400, body: expect.stringMatching(/^room: /) });
  });

  it('refuses a name that mixes look-alike alphabets with 400, saying so, and stores nothing', async () => {
    const h = await harness({ rooms: {} });

    const response = await h.connect(connectEvent('A', { query: { name: '\u0410lice' } }));

    expect({ response, stored: await h.connections.get('A') }).toEqual({
      response: expect.objectContaining({
        statusCode: 400,
        body: 'name: a name cannot mix Latin and Cyrillic letters, which look alike',
      }),
      stored: undefined,
    });
  });

  it('answers 500 instead of throwing when the connection cannot be stored', async () => {
    const h = await harness({
      rooms: {},
      repository: (table) => new FailingConnectionRepository(table).failSave(new Error(SECRET_DETAIL)),
    });

    const response = await h.connect(connectEvent('A'));

    expect(response).toMatchObject({ statusCode: 500 });
  });

  it('puts no stack trace or error detail in the 500 response', async () => {
    const h = await harness({
      rooms: {},
      repository: (table) => new FailingConnectionRepository(table).failSave(new Error(SECRET_DETAIL)),
    });

    const response = await h.connect(connectEvent('A'));

    expect(leaksDetail(response)).toBe(false);
  });

  it('answers 500 instead of throwing when the dependencies cannot be built, and logs why', async () => {
    const connect = createConnectHandler(unbuildable);

    const { result, lines } = await capturingOutput(() => connect(connectEvent('A'), lambdaContext('connect')));

    expect({ result, lines }).toEqual({
      result: expect.objectContaining({ statusCode: 500 }),
      lines: [errorLine('connect failed', 'ConfigError')],
    });
  });

  it("counts the connection and publishes the invocation's metrics", async () => {
    const h = await harness({ rooms: {} });

    await h.connect(connectEvent('A'));

    expect([h.metrics.total('Connections'), h.metrics.published]).toEqual([1, 1]);
  });

  it('leaves the table alone when a message frame names $connect as its action', async () => {
    const h = await harness();
    await h.connections.update('A', { room: 'kitchen' });

    await h.connect(frameEvent('A', { action: '$connect' }));

    expect(await h.connections.get('A')).toMatchObject({ room: 'kitchen', name: 'Name A' });
  });

  it('posts nothing when a message frame names $connect as its action: its role may not use @connections', async () => {
    const h = await harness();

    await h.connect(frameEvent('A', { action: '$connect' }));

    expect(h.messenger.sent).toEqual([]);
  });
});
