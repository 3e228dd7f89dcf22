import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/handlers/wiring/config.ts';

const required = {
  CHAT_TABLE: 'chat-table',
  WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://abc123.execute-api.eu-west-1.amazonaws.com/dev',
  FANOUT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ws-chat-dev-fanout',
  PRESENCE_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ws-chat-dev-presence',
};

/** The ConfigError that loading throws; fails the test when the settings are accepted. */
function configErrorOf(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('loadConfig', () => {
  it('applies a default to every optional setting', () => {
    expect(loadConfig(required)).toEqual({
      chatTable: 'chat-table',
      managementEndpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/dev',
      presenceWindowMs: 1000,
      bigRoomSize: 100,
      fanOutShardSize: 5000,
      roomShards: 8,
      roomGrowAt: 1000,
      fanOutQueueUrls: {
        shard: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ws-chat-dev-fanout',
        presence: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ws-chat-dev-presence',
      },
      chatMode: 'broadcast',
      authMode: 'none',
      allowedOrigins: [],
      broadcastConcurrency: 200,
      sendTimeoutMs: 3000,
      sendMaxAttempts: 3,
      historyRetentionSeconds: 7 * 86_400,
      limits: { maxFrameBytes: 16_384, maxTextBytes: 4_096 },
      rateLimit: { frames: 30, windowSeconds: 10 },
      ownerLimit: { frames: 30, windowSeconds: 10 },
      publishLimit: { frames: 60, windowSeconds: 10 },
      connectWeight: 5,
      connectionCaps: { perUser: 10, perIp: 100 },
    });
  });

  it("reads the owners' budget and a connect's weight, where a budget of 0 budgets no owner", () => {
    const config = loadConfig({
      ...required,
      OWNER_RATE_LIMIT_FRAMES: '0',
      CONNECT_WEIGHT: '7',
      RATE_LIMIT_WINDOW_SECONDS: '20',
    });

    expect([config.ownerLimit, config.connectWeight]).toEqual([{ frames: 0, windowSeconds: 20 }, 7]);
    expect(configErrorOf({ ...required, CONNECT_WEIGHT: '0' }).message).toContain('CONNECT_WEIGHT');
  });

  it("reads each publish API caller's budget, where 0 budgets no caller", () => {
    const config = loadConfig({ ...required, PUBLISH_RATE_LIMIT_REQUESTS: '0', RATE_LIMIT_WINDOW_SECONDS: '20' });

    expect(config.publishLimit).toEqual({ frames: 0, windowSeconds: 20 });
    expect(configErrorOf({ ...required, PUBLISH_RATE_LIMIT_REQUESTS: '-1' }).message).toContain(
      'PUBLISH_RATE_LIMIT_REQUESTS',
    );
  });

  it('refuses a missing fan-out queue URL, naming the setting', () => {
    expect(configErrorOf({ ...required, FANOUT_QUEUE_URL: undefined }).message).toContain('FANOUT_QUEUE_URL');
  });

  it('refuses a missing presence queue URL, naming the setting', () => {
    expect(configErrorOf({ ...required, PRESENCE_QUEUE_URL: undefined }).message).toContain('PRESENCE_QUEUE_URL');
  });

  it('reads a local SQS endpoint, and treats an empty one as unset', () => {
    expect([
      loadConfig({ ...required, SQS_ENDPOINT: 'http://127.0.0.1:9324' }).sqsEndpoint,
      loadConfig({ ...required, SQS_ENDPOINT: '' }).sqsEndpoint,
    ]).toEqual(['http://127.0.0.1:9324', undefined]);
  });

  it('reads the connection caps per user and per address, where 0 caps nothing', () => {
    const config = loadConfig({ ...required, MAX_CONNECTIONS_PER_USER: '3', MAX_CONNECTIONS_PER_IP: '0' });

    expect(config.connectionCaps).toEqual({ perUser: 3, perIp: 0 });
  });

  it.each([
    ['a negative cap', { MAX_CONNECTIONS_PER_USER: '-1' }, 'MAX_CONNECTIONS_PER_USER'],
    ['a fractional cap', { MAX_CONNECTIONS_PER_IP: '2.5' }, 'MAX_CONNECTIONS_PER_IP'],
    ['a cap that is not a number', { MAX_CONNECTIONS_PER_IP: 'many' }, 'MAX_CONNECTIONS_PER_IP'],
    ['a cap too large for one item', { MAX_CONNECTIONS_PER_USER: '100000' }, 'MAX_CONNECTIONS_PER_USER'],
  ])('refuses %s, naming the setting', (_label, env, setting) => {
    expect(configErrorOf({ ...required, ...env }).message).toContain(setting);
  });

  it('reads every setting from its environment variable', () => {
    const config = loadConfig({
      ...required,
      CHAT_MODE: 'echo',
      BROADCAST_CONCURRENCY: '8',
      SEND_TIMEOUT_MS: '1500',
      SEND_MAX_ATTEMPTS: '2',
      HISTORY_RETENTION_SECONDS: '3600',
      MAX_FRAME_BYTES: '8192',
      MAX_TEXT_BYTES: '1024',
    });

    expect(config).toMatchObject({
      chatMode: 'echo',
      broadcastConcurrency: 8,
      sendTimeoutMs: 1500,
      sendMaxAttempts: 2,
      historyRetentionSeconds: 3600,
      limits: { maxFrameBytes: 8192, maxTextBytes: 1024 },
    });
  });

  it('reads the table that keeps connections and history from CHAT_TABLE', () => {
    expect(loadConfig({ ...required, CHAT_TABLE: 'ws-chat-prod' }).chatTable).toBe('ws-chat-prod');
  });

  it('accepts a history retention of up to a year', () => {
    expect(loadConfig({ ...required, HISTORY_RETENTION_SECONDS: String(365 * 86_400) }).historyRetentionSeconds).toBe(
      365 * 86_400,
    );
  });

  it('accepts the plain http endpoint of a local emulator', () => {
    const config = loadConfig({ ...required, WEBSOCKET_MANAGEMENT_ENDPOINT: 'http://localhost:3001' });

    expect(config.managementEndpoint).toBe('http://localhost:3001');
  });

  it.each([
    { setting: 'CHAT_TABLE', env: { ...required, CHAT_TABLE: undefined } },
    { setting: 'CHAT_TABLE', env: { ...required, CHAT_TABLE: 'ab' } },
    { setting: 'WEBSOCKET_MANAGEMENT_ENDPOINT', env: { ...required, WEBSOCKET_MANAGEMENT_ENDPOINT: undefined } },
    { setting: 'WEBSOCKET_MANAGEMENT_ENDPOINT', env: { ...required, WEBSOCKET_MANAGEMENT_ENDPOINT: 'not a url' } },
    { setting: 'WEBSOCKET_MANAGEMENT_ENDPOINT', env: { ...required, WEBSOCKET_MANAGEMENT_ENDPOINT: 'wss://a.b/dev' } },
    { setting: 'CHAT_MODE', env: { ...required, CHAT_MODE: 'shout' } },
    { setting: 'BROADCAST_CONCURRENCY', env: { ...required, BROADCAST_CONCURRENCY: '0' } },
    { setting: 'BROADCAST_CONCURRENCY', env: { ...required, BROADCAST_CONCURRENCY: 'many' } },
    { setting: 'BROADCAST_CONCURRENCY', env: { ...required, BROADCAST_CONCURRENCY: '2.5' } },
    { setting: 'SEND_TIMEOUT_MS', env: { ...required, SEND_TIMEOUT_MS: '60000' } },
    { setting: 'SEND_MAX_ATTEMPTS', env: { ...required, SEND_MAX_ATTEMPTS: '0' } },
    { setting: 'HISTORY_RETENTION_SECONDS', env: { ...required, HISTORY_RETENTION_SECONDS: '0' } },
    { setting: 'HISTORY_RETENTION_SECONDS', env: { ...required, HISTORY_RETENTION_SECONDS: String(365 * 86_400 + 1) } },
    { setting: 'HISTORY_RETENTION_SECONDS', env: { ...required, HISTORY_RETENTION_SECONDS: 'a week' } },
    { setting: 'MAX_FRAME_BYTES', env: { ...required, MAX_FRAME_BYTES: '65536' } },
  ])('refuses a bad $setting with a ConfigError that names it', ({ setting, env }) => {
    expect(configErrorOf(env).message).toContain(`${setting}:`);
  });

  it.each([
    { MAX_TEXT_BYTES: '16384', MAX_FRAME_BYTES: '16384' },
    { MAX_TEXT_BYTES: '20000', MAX_FRAME_BYTES: '16384' },
  ])('refuses a MAX_TEXT_BYTES of $MAX_TEXT_BYTES with a MAX_FRAME_BYTES of $MAX_FRAME_BYTES', (limits) => {
    expect(configErrorOf({ ...required, ...limits }).message).toContain('MAX_TEXT_BYTES');
  });

  it('names every bad setting in one error', () => {
    const message = configErrorOf({ CHAT_MODE: 'shout', BROADCAST_CONCURRENCY: '0' }).message;

    const settings = ['CHAT_TABLE', 'WEBSOCKET_MANAGEMENT_ENDPOINT', 'CHAT_MODE', 'BROADCAST_CONCURRENCY'];
    expect(settings.filter((setting) => !message.includes(`${setting}:`))).toEqual([]);
  });

  it('names a text limit not below the frame limit together with the other bad settings', () => {
    const message = configErrorOf({ ...required, CHAT_MODE: 'shout', MAX_TEXT_BYTES: '20000' }).message;

    expect(['CHAT_MODE', 'MAX_TEXT_BYTES'].filter((setting) => !message.includes(`${setting}:`))).toEqual([]);
  });

  it('reads a comma-separated origin allow-list, ignoring spaces and empty entries', () => {
    expect(
      loadConfig({ ...required, ALLOWED_ORIGINS: 'https://a.example, https://b.example,' }).allowedOrigins,
    ).toEqual(['https://a.example', 'https://b.example']);
  });

  it('refuses an authentication mode it does not know', () => {
    expect(configErrorOf({ ...required, AUTH_MODE: 'basic' }).message).toContain('AUTH_MODE:');
  });

  it('treats an empty variable as unset and applies its default', () => {
    const config = loadConfig({ ...required, CHAT_MODE: '', BROADCAST_CONCURRENCY: '', MAX_TEXT_BYTES: '' });

    expect([config.chatMode, config.broadcastConcurrency, config.limits.maxTextBytes]).toEqual([
      'broadcast',
      200,
      4_096,
    ]);
  });

  it('refuses a text limit whose escaped JSON could exceed what PostToConnection accepts', () => {
    const message = configErrorOf({ ...required, MAX_FRAME_BYTES: '32768', MAX_TEXT_BYTES: '16385' }).message;

    expect(message).toContain('MAX_TEXT_BYTES:');
  });

  it('keeps the validation issues as the cause', () => {
    expect(configErrorOf({}).cause).toBeInstanceOf(Error);
  });
});
