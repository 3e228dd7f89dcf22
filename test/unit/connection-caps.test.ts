import { describe, expect, it } from '@jest/globals';
import { InMemoryConnectionQuota } from '../../src/adapters/in-memory-connection-quota.ts';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import { InMemoryRateLimiter } from '../../src/adapters/in-memory-rate-limiter.ts';
import { ChatService } from '../../src/domain/chat-service.ts';
import type { ConnectionCaps } from '../../src/domain/connection-quota.ts';
import { createConnectHandler } from '../../src/handlers/functions/connect.ts';
import type { Dependencies } from '../../src/handlers/wiring/dependencies.ts';
import { createDisconnectHandler } from '../../src/handlers/functions/disconnect.ts';
import { RecordingLogger } from '../fakes/recording-logger.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { RecordingMetrics } from '../fakes/recording-metrics.ts';
import { connectEvent, disconnectEvent, lambdaContext } from '../support/lambda-events.ts';

/** The $connect and $disconnect handlers' Middy chains over in-memory adapters with these caps. */
function handlers(caps: ConnectionCaps, authMode: Dependencies['authMode'] = 'none') {
  const connections = new InMemoryConnectionRepository();
  const metrics = new RecordingMetrics();
  const limit = { frames: 1000, windowSeconds: 10 };
  const deps: Dependencies = {
    service: new ChatService({
      connections,
      history: new InMemoryMessageHistory(),
      messenger: new RecordingMessenger(),
      concurrency: 4,
      quota: new InMemoryConnectionQuota(caps),
    }),
    chatMode: 'broadcast',
    authMode,
    allowedOrigins: [],
    limits: { maxFrameBytes: 1024, maxTextBytes: 256 },
    logger: new RecordingLogger(),
    metrics,
    rateLimiter: new InMemoryRateLimiter(limit),
    rateLimit: limit,
  };
  const connect = createConnectHandler(() => deps);
  const disconnect = createDisconnectHandler(() => deps);
  return {
    connections,
    metrics,
    async connect(event: Parameters<typeof connect>[0]): Promise<unknown> {
      const result = await connect(event, lambdaContext('connect'));
      return typeof result === 'object' && result !== null ? result.statusCode : result;
    },
    disconnect: (event: Parameters<typeof disconnect>[0]) => disconnect(event, lambdaContext('disconnect')),
  };
}

const uma = { userId: 'user-uma', name: 'Uma' };

describe('connection caps at the handshake', () => {
  it('refuses a user\'s handshake past its cap with 429, and records no connection for it', async () => {
    const chat = handlers({ perUser: 2, perIp: 0 }, 'jwt');

    const statuses = [
      await chat.connect(connectEvent('A', { authorizer: uma, sourceIp: '203.0.113.1' })),
      await chat.connect(connectEvent('B', { authorizer: uma, sourceIp: '203.0.113.2' })),
      await chat.connect(connectEvent('C', { authorizer: uma, sourceIp: '203.0.113.3' })),
    ];

    expect({ statuses, stored: await chat.connections.get('C') }).toEqual({ statuses: [200, 200, 429], stored: undefined });
  });

  it('refuses a handshake past its address\'s cap with 429, whoever its user', async () => {
    const chat = handlers({ perUser: 10, perIp: 1 }, 'jwt');
    await chat.connect(connectEvent('A', { authorizer: uma, sourceIp: '203.0.113.9' }));

    const status = await chat.connect(connectEvent('B', { authorizer: { userId: 'user-vic', name: 'Vic' }, sourceIp: '203.0.113.9' }));

    expect(status).toBe(429);
  });

  it('counts a refused handshake as no connection', async () => {
    const chat = handlers({ perUser: 0, perIp: 1 });
    await chat.connect(connectEvent('A', { sourceIp: '203.0.113.9' }));

    await chat.connect(connectEvent('B', { sourceIp: '203.0.113.9' }));

    expect(chat.metrics.total('Connections')).toBe(1);
  });

  it('gives a closed connection\'s slot to the next handshake from its address', async () => {
    const chat = handlers({ perUser: 0, perIp: 1 });
    await chat.connect(connectEvent('A', { sourceIp: '203.0.113.9' }));

    await chat.disconnect(disconnectEvent('A', { sourceIp: '203.0.113.9' }));

    expect(await chat.connect(connectEvent('B', { sourceIp: '203.0.113.9' }))).toBe(200);
  });

  it('gives a closed connection\'s slot back to its user, whom the closing event does not name', async () => {
    const chat = handlers({ perUser: 1, perIp: 0 }, 'jwt');
    await chat.connect(connectEvent('A', { authorizer: uma }));

    await chat.disconnect(disconnectEvent('A'));

    expect(await chat.connect(connectEvent('B', { authorizer: uma }))).toBe(200);
  });
});
