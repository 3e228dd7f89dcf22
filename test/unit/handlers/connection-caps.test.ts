import { describe, expect, it } from '@jest/globals';
import type { ConnectionCaps } from '../../../src/domain/connection-quota.ts';
import type { Dependencies } from '../../../src/handlers/wiring/dependencies.ts';
import { harness, statusOf } from '../../support/handler-harness.ts';
import { connectEvent, disconnectEvent } from '../../support/lambda-events.ts';

/** The $connect and $disconnect handlers' Middy chains over in-memory adapters with these caps, and no one connected. */
async function handlers(caps: ConnectionCaps, authMode: Dependencies['authMode'] = 'none') {
  const h = await harness({ rooms: {}, caps, authMode });
  return {
    connections: h.connections,
    metrics: h.metrics,
    connect: async (event: Parameters<typeof h.connect>[0]) => statusOf(await h.connect(event)),
    disconnect: h.disconnect,
  };
}

const uma = { userId: 'user-uma', name: 'Uma' };

describe('connection caps at the handshake', () => {
  it("refuses a user's handshake past its cap with 429, and records no connection for it", async () => {
    const chat = await handlers({ perUser: 2, perIp: 0 }, 'jwt');

    const statuses = [
      await chat.connect(connectEvent('A', { authorizer: uma, sourceIp: '203.0.113.1' })),
      await chat.connect(connectEvent('B', { authorizer: uma, sourceIp: '203.0.113.2' })),
      await chat.connect(connectEvent('C', { authorizer: uma, sourceIp: '203.0.113.3' })),
    ];

    expect({ statuses, stored: await chat.connections.get('C') }).toEqual({
      statuses: [200, 200, 429],
      stored: undefined,
    });
  });

  it("refuses a handshake past its address's cap with 429, whoever its user", async () => {
    const chat = await handlers({ perUser: 10, perIp: 1 }, 'jwt');
    await chat.connect(connectEvent('A', { authorizer: uma, sourceIp: '203.0.113.9' }));

    const status = await chat.connect(
      connectEvent('B', { authorizer: { userId: 'user-vic', name: 'Vic' }, sourceIp: '203.0.113.9' }),
    );

    expect(status).toBe(429);
  });

  it('counts a refused handshake as no connection', async () => {
    const chat = await handlers({ perUser: 0, perIp: 1 });
    await chat.connect(connectEvent('A', { sourceIp: '203.0.113.9' }));

    await chat.connect(connectEvent('B', { sourceIp: '203.0.113.9' }));

    expect(chat.metrics.total('Connections')).toBe(1);
  });

  it("gives a closed connection's slot to the next handshake from its address", async () => {
    const chat = await handlers({ perUser: 0, perIp: 1 });
    await chat.connect(connectEvent('A', { sourceIp: '203.0.113.9' }));

    await chat.disconnect(disconnectEvent('A', { sourceIp: '203.0.113.9' }));

    expect(await chat.connect(connectEvent('B', { sourceIp: '203.0.113.9' }))).toBe(200);
  });

  it("gives a closed connection's slot back to its user, whom the closing event does not name", async () => {
    const chat = await handlers({ perUser: 1, perIp: 0 }, 'jwt');
    await chat.connect(connectEvent('A', { authorizer: uma }));

    await chat.disconnect(disconnectEvent('A'));

    expect(await chat.connect(connectEvent('B', { authorizer: uma }))).toBe(200);
  });
});
