import { DynamoDbConnectionQuota } from '../../src/adapters/dynamodb-connection-quota.ts';
import { CONNECTION_LIFETIME_MS } from '../../src/domain/chat-service.ts';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { connectionKey } from '../../src/adapters/dynamodb-keys.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type Server } from 'node:http';
import type { APIGatewayAuthorizerResult, APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { DynamoDbPresenceLog } from '../../src/adapters/dynamodb-presence-log.ts';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import { createAuthorizer } from '../../src/handlers/functions/authorizer.ts';
import { buildAuthorizerDependencies } from '../../src/handlers/wiring/authorizer-composition-root.ts';
import { buildDependencies } from '../../src/handlers/wiring/composition-root.ts';
import { createConnectHandler } from '../../src/handlers/functions/connect.ts';
import type { Dependencies, DependencyProvider } from '../../src/handlers/wiring/dependencies.ts';
import { createDisconnectHandler } from '../../src/handlers/functions/disconnect.ts';
import { createMessageHandler } from '../../src/handlers/functions/message.ts';
import { createFanOutHandler } from '../../src/handlers/functions/fanout.ts';
import { createPublishHandler } from '../../src/handlers/functions/publish.ts';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createQueues, type LocalQueue, localSqsClient, startLocalSqs } from '../../scripts/local-sqs.ts';
import { type BatchReport, SqsEventSource } from '../../scripts/sqs-event-source.ts';
import { type AwsCall, connectionsCalls, dynamoDbCalls, sqsCalls } from '../../scripts/local-iam/aws-calls.ts';
import { AwsCallRecorder, DYNAMODB_ACCESS_DENIED, RecordingProxy } from '../support/aws-call-recorder.ts';
import { type DynamoDbTarget, startDynaliteTarget } from '../support/dynamodb.ts';
import { FakeConnectionsApi } from '../support/fake-connections-api.ts';
import { DEFAULT_CONFIG } from '../support/in-memory-chat.ts';
import {
  authorizerEvent,
  connectEvent,
  disconnectEvent,
  frameEvent,
  httpApiEvent,
  lambdaContext,
} from '../support/lambda-events.ts';
import { sqsEvent } from '../support/sqs-events.ts';

/** The services whose calls the scenarios record, each through a proxy in front of a local endpoint. */
export const RECORDED_SERVICES = ['dynamodb', 'execute-api', 'sqs'] as const;

/** What the Lambda functions did in their scenarios. */
export interface RecordedFunctions {
  /** Each function's calls, by its serverless.yml name. */
  readonly calls: ReadonlyMap<string, readonly AwsCall[]>;
  /** Scenarios that did not reach the path they are for, each with what happened instead. */
  readonly unreached: readonly string[];
}

/** A frame as the fake @connections API received it, loosely read. */
interface SentFrame {
  readonly type?: string;
  readonly code?: string;
  readonly event?: string;
  readonly id?: string;
  readonly seq?: number;
  readonly shards?: number;
}

const HMAC_SECRET = 'a-stack-test-secret-of-at-least-32-characters';

/** The local world the functions run in: dynalite, a fake @connections API and fauxqs, each behind a recording proxy. */
class World {
  readonly recorder: AwsCallRecorder;
  /** The worker's queue of shard jobs. */
  readonly fanOutQueue: LocalQueue;
  /** The worker's queue of presence flushes. */
  readonly presenceQueue: LocalQueue;
  readonly sqsProxy: RecordingProxy;
  readonly dynamodb: DynamoDbTarget;
  readonly tableName: string;
  readonly dynamoProxy: RecordingProxy;
  readonly api: FakeConnectionsApi;
  readonly apiProxy: RecordingProxy;
  readonly unreached: string[] = [];
  readonly #containers = new Map<string, Dependencies>();
  #clients = 0;

  constructor(
    parts: Pick<
      World,
      | 'recorder'
      | 'dynamodb'
      | 'tableName'
      | 'dynamoProxy'
      | 'api'
      | 'apiProxy'
      | 'fanOutQueue'
      | 'presenceQueue'
      | 'sqsProxy'
    >,
  ) {
    this.recorder = parts.recorder;
    this.fanOutQueue = parts.fanOutQueue;
    this.presenceQueue = parts.presenceQueue;
    this.sqsProxy = parts.sqsProxy;
    this.dynamodb = parts.dynamodb;
    this.tableName = parts.tableName;
    this.dynamoProxy = parts.dynamoProxy;
    this.api = parts.api;
    this.apiProxy = parts.apiProxy;
  }

  /** A container's dependencies from the real composition root, built once per distinct environment. */
  deps(overrides: Record<string, string> = {}): DependencyProvider {
    const env = {
      CHAT_TABLE: this.tableName,
      WEBSOCKET_MANAGEMENT_ENDPOINT: this.apiProxy.endpoint,
      FANOUT_QUEUE_URL: this.fanOutQueue.url,
      PRESENCE_QUEUE_URL: this.presenceQueue.url,
      SQS_ENDPOINT: this.sqsProxy.endpoint,
      // One attempt: the scenarios that make deliveries fail need no backoff to reach their path.
      SEND_MAX_ATTEMPTS: '1',
      RATE_LIMIT_FRAMES: '100000',
      RATE_LIMIT_WINDOW_SECONDS: '3600',
      OWNER_RATE_LIMIT_FRAMES: '100000',
      ...overrides,
    };
    const key = JSON.stringify(env);
    let built = this.#containers.get(key);
    if (built === undefined) {
      built = buildDependencies(env);
      this.#containers.set(key, built);
    }
    const container = built;
    return () => container;
  }

  /** Frames sent to a connection from the `since`-th request of the fake API on. */
  framesTo(connectionId: string, since = 0): SentFrame[] {
    return this.api.received.slice(since).flatMap(({ connectionId: to, body }) => {
      if (to !== connectionId) return [];
      try {
        return [JSON.parse(body) as SentFrame];
      } catch {
        return [];
      }
    });
  }

  /** Notes a scenario whose outcome shows it did not take the path it is for. */
  expect(functionName: string, scenario: string, reached: boolean, instead: () => unknown): void {
    if (!reached)
      this.unreached.push(
        `${functionName}: "${scenario}" did not reach its path; instead: ${JSON.stringify(instead())}`,
      );
  }

  /** A handshake from a client of its own address, so that no per-address limit refuses an arranged connection. */
  #handshake(connectionId: string, query: Record<string, string>): APIGatewayProxyWebsocketEventV2 {
    this.#clients += 1;
    return connectEvent(connectionId, { query, sourceIp: `203.0.113.${this.#clients % 250}` });
  }

  /** Connects a client through the real $connect handler, outside any recording, and says it is open. */
  async arrangeConnected(connectionId: string, query: Record<string, string> = {}): Promise<void> {
    const response = await createConnectHandler(this.deps())(
      this.#handshake(connectionId, query),
      lambdaContext('connect'),
    );
    if (statusOf(response) !== 200)
      throw new Error(`could not arrange connection ${connectionId}: ${JSON.stringify(response)}`);
    this.api.live(connectionId);
  }

  /**
   * Connects a client whose socket has since closed without its $disconnect having run yet: API Gateway
   * answers 410 for it. It connected long enough ago to be past its handshake, when a 410 means gone.
   */
  async arrangeGone(connectionId: string, query: Record<string, string>): Promise<void> {
    await createConnectHandler(this.deps())(this.#handshake(connectionId, query), lambdaContext('connect'));
    const repository = new DynamoDbConnectionRepository(this.dynamodb.documentClient, { tableName: this.tableName });
    if ((await repository.get(connectionId)) === undefined)
      throw new Error(`could not arrange gone connection ${connectionId}`);
    // Long past its handshake, so that a 410 means gone.
    await this.dynamodb.documentClient.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: connectionKey(connectionId),
        UpdateExpression: 'SET connectedAt = :at',
        ExpressionAttributeValues: { ':at': Date.now() - 10 * 60_000 },
      }),
    );
  }
}

function statusOf(response: unknown): number | undefined {
  if (typeof response !== 'object' || response === null) return undefined;
  const status = (response as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

const isError = (code: string) => (frame: SentFrame) => frame.type === 'error' && frame.code === code;
const ofType = (type: string) => (frame: SentFrame) => frame.type === type;

async function messageScenarios(world: World): Promise<void> {
  const fn = 'message';
  const deps = world.deps();
  const handle = createMessageHandler(deps);
  const context = lambdaContext(fn);
  const send = async (from: string, frame: Parameters<typeof frameEvent>[1], handler = handle, sourceIp?: string) => {
    const since = world.api.received.length;
    const response = await handler(frameEvent(from, frame, sourceIp === undefined ? {} : { sourceIp }), context);
    return { status: statusOf(response), frames: world.framesTo(from, since), since };
  };
  await world.arrangeConnected('m-ann', { room: 'general', name: 'Ann' });
  await world.arrangeConnected('m-bob', { room: 'general', name: 'Bob' });
  await world.arrangeGone('m-ghost', { room: 'general', name: 'Ghost' });
  await world.arrangeGone('m-leaving', { room: 'general', name: 'Leaving' });
  await world.arrangeConnected('m-flood', { room: 'flood' });
  await world.arrangeConnected('m-owned-1', { room: 'owned' });
  await world.arrangeConnected('m-owned-2', { room: 'owned' });

  await world.recorder.as(fn, async () => {
    let result = await send('m-ann', { action: 'hello' });
    world.expect(fn, 'hello', result.frames.some(ofType('welcome')), () => result);

    result = await send('m-ann', { action: 'sendmessage', text: 'first', clientMsgId: 'c-1' });
    const ack = result.frames.find(ofType('ack'));
    world.expect(fn, 'sendmessage with clientMsgId', ack !== undefined, () => result);
    world.expect(fn, 'a recipient reported gone (410)', world.api.requestsFor('m-ghost') > 0, () =>
      world.api.received.slice(result.since),
    );

    result = await send('m-bob', { action: 'sendmessage', text: 'second' });
    world.expect(fn, 'sendmessage without clientMsgId', result.frames.some(ofType('message')), () => result);

    // A room of more members than a shard takes: its message goes to the worker as shard jobs.
    const sharding = createMessageHandler(world.deps({ FANOUT_SHARD_SIZE: '1' }));
    result = await send('m-ann', { action: 'sendmessage', text: 'to every shard', clientMsgId: 'c-shards' }, sharding);
    world.expect(
      fn,
      "a big room's message",
      result.frames.some((frame) => frame.type === 'ack' && (frame.shards ?? 0) > 0),
      () => result,
    );

    result = await send('m-bob', 'plain text, no JSON');
    world.expect(fn, 'plain text in broadcast mode', result.frames.some(ofType('message')), () => result);

    result = await send('m-ann', { action: 'echo', text: 'just me' });
    world.expect(fn, 'echo', result.frames.some(ofType('echo')), () => result);

    result = await send('m-bob', { action: 'hello', after: ack?.id ?? 'unknown', afterSeq: ack?.seq ?? 0 });
    world.expect(fn, 'hello after a message', result.frames.some(ofType('welcome')), () => result);

    result = await send('m-ann', {
      action: 'join',
      room: 'side',
      after: ack?.id ?? 'unknown',
      afterSeq: ack?.seq ?? 0,
    });
    world.expect(fn, 'join another room', result.frames.some(ofType('welcome')), () => result);
    result = await send('m-ann', { action: 'join', room: 'side' });
    world.expect(fn, 'join the room it is in', result.status === 200, () => result);

    result = await send('m-ann', { action: 'leave' });
    world.expect(fn, 'leave', result.frames.some(ofType('welcome')), () => result);

    result = await send('m-ann', { action: 'setname', name: 'Annie' });
    world.expect(fn, 'setname', result.status === 200 && !result.frames.some(ofType('error')), () => result);
    result = await send('m-ann', { action: 'setname', name: 'Annie' });
    world.expect(fn, 'setname to the same name', result.status === 200, () => result);

    result = await send('m-bob', { action: 'who' });
    world.expect(fn, 'who', result.frames.some(ofType('roster')), () => result);

    result = await send('m-bob', { action: 'ping' });
    world.expect(fn, 'ping', result.frames.some(ofType('pong')), () => result);

    // The sender's own socket closed: its welcome is answered 410.
    result = await send('m-leaving', { action: 'hello' });
    world.expect(fn, 'a sender reported gone (410)', world.api.requestsFor('m-leaving') > 0, () => result);

    world.api.script('m-ann', { status: 500 });
    result = await send('m-bob', { action: 'sendmessage', text: 'one delivery fails' });
    world.expect(fn, 'a delivery that fails', result.status === 200, () => result);

    for (const [scenario, frame, code] of [
      ['invalid JSON', '{"action":', 'invalid_json'],
      ['unknown action', { action: 'dance' }, 'unknown_action'],
      ['empty message', { action: 'sendmessage', text: '  ' }, 'empty_message'],
      ['binary frame', new Uint8Array([1, 2, 3]), 'binary_not_supported'],
      ['bad room', { action: 'join', room: 'no spaces allowed' }, 'invalid_room'],
    ] as const) {
      result = await send('m-bob', frame);
      world.expect(fn, scenario, result.frames.some(isError(code)), () => result);
    }

    result = await send('m-stranger', { action: 'sendmessage', text: 'who am I?' });
    world.expect(
      fn,
      'a frame from a connection that is not stored',
      result.frames.some(isError('unknown_connection')),
      () => result,
    );

    world.dynamoProxy.answerNext('dynamodb:GetItem', DYNAMODB_ACCESS_DENIED);
    result = await send('m-bob', { action: 'sendmessage', text: 'the table refuses' });
    world.expect(fn, 'a DynamoDB call that fails', result.frames.some(isError('internal_error')), () => result);

    const locked = createMessageHandler(world.deps({ AUTH_MODE: 'jwt' }));
    result = await send('m-bob', { action: 'setname', name: 'Robert' }, locked);
    world.expect(fn, 'setname when names come from tokens', result.frames.some(isError('name_locked')), () => result);

    const echoMode = createMessageHandler(world.deps({ CHAT_MODE: 'echo' }));
    result = await send('m-bob', 'plain text in echo mode', echoMode);
    world.expect(fn, 'plain text in echo mode', result.frames.some(ofType('echo')), () => result);

    // A small budget, then frames until it is spent: the first refusal is answered, later ones are dropped.
    const limited = createMessageHandler(world.deps({ RATE_LIMIT_FRAMES: '3' }));
    let refusals = 0;
    for (let frame = 0; frame < 20 && refusals === 0; frame += 1) {
      result = await send('m-flood', { action: 'ping' }, limited);
      refusals += result.frames.filter(isError('rate_limited')).length;
    }
    world.expect(fn, 'the rate limit hit', refusals === 1, () => result);
    result = await send('m-flood', { action: 'ping' }, limited);
    world.expect(fn, 'a frame over the limit after the refusal', result.frames.length === 0, () => result);

    // Two connections of one address share its budget: 3 frames between them, then one refusal, told once.
    const owned = createMessageHandler(world.deps({ OWNER_RATE_LIMIT_FRAMES: '3' }));
    const pings: string[] = [];
    for (const from of ['m-owned-1', 'm-owned-2', 'm-owned-1', 'm-owned-2', 'm-owned-1']) {
      result = await send(from, { action: 'ping' }, owned, '198.51.100.99');
      pings.push(
        result.frames.some(ofType('pong')) ? 'pong' : result.frames.some(isError('rate_limited')) ? 'refused' : '-',
      );
    }
    world.expect(
      fn,
      "an address's budget spent by its two connections",
      pings.join() === 'pong,pong,pong,refused,-',
      () => pings,
    );
  });
}

async function disconnectScenarios(world: World): Promise<void> {
  const fn = 'disconnect';
  const handle = createDisconnectHandler(world.deps());
  const context = lambdaContext(fn);
  await world.arrangeConnected('d-leaver', { room: 'exit', name: 'Leaver' });
  await world.arrangeConnected('d-stayer', { room: 'exit', name: 'Stayer' });
  await world.arrangeGone('d-ghost', { room: 'exit', name: 'Ghost' });
  await world.arrangeConnected('d-alone', { room: 'solo' });
  // The leave is kept for the room's next presence flush, which the fan-out worker sends.
  const presence = new DynamoDbPresenceLog(world.dynamodb.documentClient, {
    tableName: world.tableName,
    shards: DEFAULT_CONFIG.roomShards, // world.deps() keeps ROOM_SHARDS's default
  });
  // The worker has started the flush that announced d-alone's join, so its leave needs a flush of its own.
  const solo = await presence.clock('solo');
  if (solo.scheduled !== undefined && solo.lastFlushAt !== undefined)
    await presence.startScheduledFlush('solo', solo.scheduled.jobId, new Date(), solo.lastFlushAt);
  const pendingLeaves = async (room: string) =>
    (await presence.pending(room, 100)).filter((p) => p.change.event === 'leave').map((p) => p.change.connectionId);

  await world.recorder.as(fn, async () => {
    await handle(disconnectEvent('d-leaver'), context);
    const afterLeaver = await pendingLeaves('exit');
    world.expect(fn, 'a connection in a room with others', afterLeaver.includes('d-leaver'), () => afterLeaver);

    await handle(disconnectEvent('d-ghost'), context);
    const afterGhost = await pendingLeaves('exit');
    world.expect(fn, 'a connection whose socket closed unseen', afterGhost.includes('d-ghost'), () => afterGhost);

    const since = world.api.received.length;
    await handle(disconnectEvent('d-never-connected'), context);
    world.expect(fn, 'an unknown connection', world.api.received.length === since, () =>
      world.api.received.slice(since),
    );

    const response = await handle(disconnectEvent('d-alone'), context);
    world.expect(fn, 'the last member of a room', statusOf(response) === 200, () => response);
  });
}

// Not here: a $connect or $disconnect handler refusing a frame that names its route. API Gateway never routes
// a frame there (only the local emulator does), and the refusal's error frame needs @connections access that
// the connect role rightly lacks.
async function connectScenarios(world: World): Promise<void> {
  const fn = 'connect';
  const context = lambdaContext(fn);
  const open = createConnectHandler(world.deps({ ALLOWED_ORIGINS: 'https://chat.example.com' }));
  const authenticated = createConnectHandler(world.deps({ AUTH_MODE: 'jwt' }));
  const budgeted = createConnectHandler(world.deps({ OWNER_RATE_LIMIT_FRAMES: '10', CONNECT_WEIGHT: '5' }));
  const cases: Array<[string, ReturnType<typeof createConnectHandler>, APIGatewayProxyWebsocketEventV2, number]> = [
    ['no room, no name', open, connectEvent('c-plain', { sourceIp: '192.0.2.1' }), 200],
    [
      'a room and a name',
      open,
      connectEvent('c-named', { sourceIp: '192.0.2.2', query: { room: 'general', name: 'Cleo' } }),
      200,
    ],
    [
      'a second connection from one address',
      open,
      connectEvent('c-named-2', { sourceIp: '192.0.2.2', query: { name: 'Cleo' } }),
      200,
    ],
    [
      'an allowed origin',
      open,
      connectEvent('c-browser', { sourceIp: '192.0.2.3', origin: 'https://chat.example.com' }),
      200,
    ],
    [
      'another origin',
      open,
      connectEvent('c-elsewhere', { sourceIp: '192.0.2.4', origin: 'https://evil.example' }),
      403,
    ],
    [
      'a bad room',
      open,
      connectEvent('c-bad-room', { sourceIp: '192.0.2.5', query: { room: 'no spaces allowed' } }),
      400,
    ],
    [
      'a verified identity',
      authenticated,
      connectEvent('c-user', {
        sourceIp: '192.0.2.6',
        query: { room: 'general' },
        authorizer: { userId: 'user-1', name: 'Uma' },
      }),
      200,
    ],
    [
      'a second connection of one user',
      authenticated,
      connectEvent('c-user-2', { sourceIp: '192.0.2.7', authorizer: { userId: 'user-1', name: 'Uma' } }),
      200,
    ],
    ['no identity when one is required', authenticated, connectEvent('c-anonymous', { sourceIp: '192.0.2.8' }), 401],
    ...(['c-spender-1', 'c-spender-2', 'c-spender-3'] as const).map(
      (id, index): [string, ReturnType<typeof createConnectHandler>, APIGatewayProxyWebsocketEventV2, number] => [
        index < 2 ? `connect ${index + 1} of an address with a budget of 2` : "a connect over its address's budget",
        budgeted,
        connectEvent(id, { sourceIp: '192.0.2.10' }),
        index < 2 ? 200 : 429,
      ],
    ),
    [
      'a user at its cap, one of whose slots is held by a connection no longer stored',
      createConnectHandler(world.deps({ AUTH_MODE: 'jwt', MAX_CONNECTIONS_PER_USER: '1' })),
      connectEvent('c-capped', { sourceIp: '192.0.2.9', authorizer: { userId: 'user-capped', name: 'Cap' } }),
      200,
    ],
  ];
  // The slot of a $connect that failed after claiming it, two minutes ago: its row was never stored.
  const twoMinutesAgo = Date.now() - 120_000;
  await new DynamoDbConnectionQuota(world.dynamodb.documentClient, {
    tableName: world.tableName,
    caps: { perUser: 1, perIp: 0 },
    now: () => new Date(twoMinutesAgo),
  }).claim('c-lost', { userId: 'user-capped' }, new Date(twoMinutesAgo + CONNECTION_LIFETIME_MS));
  await world.recorder.as(fn, async () => {
    for (const [scenario, handle, event, expected] of cases) {
      const response = await handle(event, context);
      world.expect(fn, scenario, statusOf(response) === expected, () => response);
    }
  });
}

async function authorizerScenarios(world: World): Promise<void> {
  const fn = 'authorizer';
  const key = new TextEncoder().encode(HMAC_SECRET);
  const sign = (claims: Record<string, unknown>, secret = key) =>
    new SignJWT({ aud: 'chat', ...claims })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(secret);
  const withSecret = createAuthorizer(() =>
    buildAuthorizerDependencies({ AUTH_JWT_SECRET: HMAC_SECRET, AUTH_AUDIENCE: 'chat' }),
  );

  // A key set served over loopback: the authorizer's only network call, which is not an AWS call.
  const pair = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const keys: Server = createServer((_, response) =>
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })),
  );
  await new Promise<void>((resolve) => keys.listen(0, '127.0.0.1', resolve));
  const address = keys.address();
  const jwksUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/jwks.json`;
  const withKeySet = createAuthorizer(() =>
    buildAuthorizerDependencies({ AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: 'https://issuer.example' }),
  );
  const signedByKeySet = await new SignJWT({ sub: 'user-2', name: 'Kim', iss: 'https://issuer.example' })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setExpirationTime('5m')
    .sign(pair.privateKey);

  const effectOf = (result: APIGatewayAuthorizerResult) => result.policyDocument.Statement[0]?.Effect;
  const context = lambdaContext(fn);
  try {
    await world.recorder.as(fn, async () => {
      const cases: Array<[string, typeof withSecret, Record<string, string> | null, 'Allow' | 'Deny']> = [
        ['a good token', withSecret, { token: await sign({ sub: 'user-1', name: 'Ann' }) }, 'Allow'],
        [
          'a token signed with another secret',
          withSecret,
          { token: await sign({ sub: 'u' }, new TextEncoder().encode('x'.repeat(40))) },
          'Deny',
        ],
        ['a malformed token', withSecret, { token: 'not.a.jwt' }, 'Deny'],
        ['no token', withSecret, null, 'Deny'],
        ['a token checked against a key set URL', withKeySet, { token: signedByKeySet }, 'Allow'],
      ];
      for (const [scenario, handle, query, expected] of cases) {
        const result = await handle(authorizerEvent(query), context);
        world.expect(fn, scenario, effectOf(result) === expected, () => result);
      }
    });
  } finally {
    keys.closeAllConnections();
    await new Promise((resolve) => keys.close(resolve));
  }
}

/**
 * The worker as Lambda runs it: a local SQS event source per queue, presence flushes and shard jobs, polls it
 * through the recording proxy (on AWS, Lambda polls with the function's role) and invokes the real handler. The
 * queues then hold whatever jobs the other functions' scenarios queued, and some of their own.
 */
async function fanOutScenarios(world: World): Promise<void> {
  const fn = 'fanout';
  // A window longer than the scenarios take, so that the early flush below is still early when the worker runs.
  const handle = createFanOutHandler(world.deps({ PRESENCE_WINDOW_MS: '60000' }));
  await world.arrangeConnected('f-ann', { room: 'flush', name: 'Ann' });
  await world.arrangeConnected('f-bob', { room: 'flush', name: 'Bob' });
  // Its socket closed without its $disconnect yet: the flush's fan-out finds it gone and retires it.
  await world.arrangeGone('f-ghost', { room: 'flush', name: 'Ghost' });
  const arranging = localSqsClient(world.sqsProxy.endpoint);
  const send = (body: string, queue = world.presenceQueue) =>
    arranging.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
  await send(JSON.stringify({ kind: 'presence', room: 'flush', claimedAt: new Date().toISOString() }));
  await send('not a fan-out job');
  // A room that flushed just now, with its trailing flush scheduled: that flush's job, come early, is put back.
  const clocks = new DynamoDbPresenceLog(world.dynamodb.documentClient, { tableName: world.tableName });
  const flushedAt = new Date();
  const longAgo = new Date(0);
  await clocks.claimFlush('early', undefined, flushedAt, flushedAt, longAgo, 'f-claimed');
  await clocks.startScheduledFlush('early', 'f-claimed', flushedAt, flushedAt);
  await clocks.scheduleFlush('early', new Date(flushedAt.getTime() + 60_000), 'f-early', longAgo);
  await send(JSON.stringify({ kind: 'presence', room: 'early', jobId: 'f-early' }));
  // A big room's message, fanned out by shard: one job per shard of the room's index.
  const probe = { type: 'pong', connectionId: 'shard-probe' };
  const shards = DEFAULT_CONFIG.roomShards; // world.deps() keeps ROOM_SHARDS's default
  for (let shard = 0; shard < shards; shard += 1) {
    await send(
      JSON.stringify({ kind: 'shard', fanOutId: 'probe', room: 'flush', shard, page: 0, frame: probe }),
      world.fanOutQueue,
    );
  }
  const since = world.api.received.length;
  // The signal that their shard's job ran (the last queued here), whatever other jobs the queue held before it.
  const probedOf = () =>
    ['f-ann', 'f-bob'].filter((id) =>
      world.api.received.slice(since).some((r) => r.connectionId === id && r.body.includes('"shard-probe"')),
    );

  const reports: BatchReport[] = [];
  const polling = localSqsClient(world.sqsProxy.endpoint);
  const sources = [world.presenceQueue, world.fanOutQueue].map((queue) =>
    new SqsEventSource({
      client: polling,
      queueUrl: queue.url,
      functionName: fn,
      batchSize: 10,
      maximumBatchingWindowSeconds: 0,
      maximumConcurrency: 1,
      reportBatchItemFailures: true,
      waitTimeSeconds: 0,
      invoke: async (event) => ({ result: await handle(event, lambdaContext(fn)) }),
    }).onBatch((report) => reports.push(report)),
  );
  try {
    await world.recorder.as(fn, async () => {
      for (const source of sources) await source.start();
      const deadline = Date.now() + 30_000;
      const ran = () => reports.reduce((sum, r) => sum + r.records, 0);
      while ((ran() < 3 + shards || probedOf().length < 2) && Date.now() < deadline) await sleep(50);
      for (const source of sources) await source.stop();
    });
  } finally {
    arranging.destroy();
    polling.destroy();
  }
  const records = reports.reduce((sum, r) => sum + r.records, 0);
  const failed = reports.reduce((sum, r) => sum + r.failed, 0);
  world.expect(fn, 'a presence job', records - failed >= 1, () => reports);
  world.expect(fn, 'a member found gone by the flush', world.api.requestsFor('f-ghost') > 0, () => reports);
  world.expect(fn, 'a record that is not a fan-out job', failed >= 1, () => reports);
  const probed = probedOf();
  world.expect(fn, 'the shard jobs of a big room', probed.length === 2, () => ({ reports, probed }));
  const calls = world.recorder.byFunction().get(fn) ?? [];
  const putBack = calls.some((call) => call.action === 'sqs:SendMessage' && call.resource === '${PresenceQueue.Arn}');
  world.expect(fn, 'a scheduled flush that came early', putBack, () => calls.map((call) => call.action));
  await pagedShardScenario(world);
}

async function publishScenarios(world: World): Promise<void> {
  const fn = 'publish';
  const context = lambdaContext(fn);
  const handle = createPublishHandler(world.deps());
  const call = async (event: Parameters<typeof handle>[0], handler = handle) => {
    const since = world.api.received.length;
    const response = await handler(event, context);
    const body = typeof response.body === 'string' ? (JSON.parse(response.body) as Record<string, unknown>) : {};
    return { status: statusOf(response), body, since };
  };
  const publish = (body: unknown, options: Parameters<typeof httpApiEvent>[2] = {}) =>
    httpApiEvent('POST /rooms/{room}/messages', '/rooms/news/messages', { body, ...options });
  await world.arrangeConnected('p-ann', { room: 'news', name: 'Ann' });
  await world.arrangeConnected('p-bob', { room: 'news', name: 'Bob' });
  await world.arrangeGone('p-ghost', { room: 'news', name: 'Ghost' });
  // A room whose trailing flush was scheduled two minutes ago and never ran: its next message asks for it again.
  await world.arrangeConnected('p-cy', { room: 'lost', name: 'Cy' });
  const clocks = new DynamoDbPresenceLog(world.dynamodb.documentClient, {
    tableName: world.tableName,
    shards: DEFAULT_CONFIG.roomShards, // world.deps() keeps ROOM_SHARDS's default
  });
  // (Its connect scheduled a flush of its own: this one takes its place.)
  const scheduledLost = await clocks.scheduleFlush(
    'lost',
    new Date(Date.now() - 120_000),
    'p-lost',
    new Date(Date.now() + 1_000),
  );

  await world.recorder.as(fn, async () => {
    let result = await call(publish({ text: 'deploy finished', clientMsgId: 'deploy-1', name: 'Deploys' }));
    world.expect(fn, 'publish with clientMsgId', result.status === 200 && result.body['delivered'] === 2, () => result);
    world.expect(fn, 'a recipient reported gone (410)', world.api.requestsFor('p-ghost') > 0, () => result);
    const first = result.body;

    result = await call(publish({ text: 'deploy finished', clientMsgId: 'deploy-1', name: 'Deploys' }));
    world.expect(fn, 'a retry with the same clientMsgId', result.body['id'] === first['id'], () => result);

    result = await call(publish({ text: 'no clientMsgId' }));
    world.expect(fn, 'publish without clientMsgId', result.status === 200, () => result);

    result = await call(httpApiEvent('GET /rooms/{room}', '/rooms/news'));
    world.expect(fn, 'describe a room', result.body['members'] === 2, () => result);

    result = await call(
      httpApiEvent('GET /rooms/{room}/messages', '/rooms/news/messages', { query: { afterSeq: '0' } }),
    );
    world.expect(fn, 'list kept messages', Array.isArray(result.body['messages']), () => result);

    result = await call(publish('{"text":'));
    world.expect(fn, 'a body that is not JSON', result.status === 400, () => result);

    result = await call(publish({ text: 'who?' }, { caller: null }));
    world.expect(fn, 'a request without an IAM identity', result.status === 403, () => result);

    const limited = createPublishHandler(world.deps({ PUBLISH_RATE_LIMIT_REQUESTS: '2' }));
    const statuses: Array<number | undefined> = [];
    for (let request = 0; request < 4; request += 1)
      statuses.push(
        (await call(httpApiEvent('GET /rooms/{room}', '/rooms/news', { caller: 'arn:aws:iam::1:user/busy' }), limited))
          .status,
      );
    world.expect(fn, "a caller's budget spent", statuses.includes(429), () => statuses);

    // Above the shard size, the publish hands the room to shard jobs on the fan-out queue.
    const sharded = createPublishHandler(world.deps({ FANOUT_SHARD_SIZE: '1' }));
    result = await call(publish({ text: 'to every shard' }), sharded);
    world.expect(fn, 'publish into a big room', Number(result.body['shards']) > 0, () => result);

    world.dynamoProxy.answerNext('dynamodb:GetItem', DYNAMODB_ACCESS_DENIED);
    result = await call(publish({ text: 'the table refuses' }));
    world.expect(fn, 'a DynamoDB call that fails', result.status === 500, () => result);

    const clockBefore = await clocks.clock('lost');
    result = await call(httpApiEvent('POST /rooms/{room}/messages', '/rooms/lost/messages', { body: { text: 'hi' } }));
    const calls = world.recorder.byFunction().get(fn) ?? [];
    const askedAgain = calls.some(
      (call) => call.action === 'sqs:SendMessage' && call.resource === '${PresenceQueue.Arn}',
    );
    world.expect(fn, "a room's lost presence flush, asked for again", scheduledLost && askedAgain, () => ({
      scheduledLost,
      clock: clockBefore,
      result,
      actions: calls.map((call) => `${call.action} ${call.resource}`),
    }));
  });
}

/**
 * A shard of more members than a page holds: the worker delivers the first page, then queues a job for the next
 * (sqs:SendMessage from the worker's own role). Ten members over the room's shards put two in one shard at least;
 * with pages of one member, that shard's job queues a next page.
 */
async function pagedShardScenario(world: World): Promise<void> {
  const fn = 'fanout';
  const members = Array.from({ length: 10 }, (_, i) => `p-member-${i}`);
  for (const id of members) await world.arrangeConnected(id, { room: 'pages' });
  const handle = createFanOutHandler(world.deps({ FANOUT_SHARD_SIZE: '1' }));
  const frame = { type: 'pong', connectionId: 'page-probe' };
  const jobs = Array.from({ length: DEFAULT_CONFIG.roomShards }, (_, shard) =>
    JSON.stringify({ kind: 'shard', fanOutId: 'pages', room: 'pages', shard, page: 0, frame }),
  );
  const result = await world.recorder.as(fn, () => handle(sqsEvent(jobs), lambdaContext(fn)));
  const reading = localSqsClient(world.sqsProxy.endpoint);
  try {
    const { Messages = [] } = await reading.send(
      new ReceiveMessageCommand({ QueueUrl: world.fanOutQueue.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const nextPages = Messages.filter((m) => m.Body?.includes('"fanOutId":"pages"') && m.Body.includes('"after"'));
    world.expect(fn, 'a shard of more than one page', nextPages.length > 0, () => ({ result, Messages }));
  } finally {
    reading.destroy();
  }
}

/** Settings the AWS SDK and Powertools read from the process environment, as Lambda would set them. */
function lambdaEnvironment(dynamoDbEndpoint: string): Record<string, string | undefined> {
  return {
    AWS_ENDPOINT_URL_DYNAMODB: dynamoDbEndpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    // Metrics then warn through the global console, which a test can silence, instead of one of their own.
    POWERTOOLS_DEV: 'true',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
}

/**
 * Runs every function's real handler, built by the real composition root, through scenarios covering each
 * of its paths, one function after another, and records the AWS calls each made on the wire: DynamoDB
 * (dynalite behind a proxy), API Gateway's @connections API (a fake behind a proxy) and SQS (fauxqs behind a proxy). `stage` is the
 * stage whose API the @connections calls address.
 */
export async function recordFunctionCalls(stage: string): Promise<RecordedFunctions> {
  const dynamodb = await startDynaliteTarget();
  const saved = { ...process.env };
  const proxies: RecordingProxy[] = [];
  const api = await new FakeConnectionsApi().start();
  const sqs = await startLocalSqs(0);
  try {
    const tableName = await dynamodb.table();
    const recorder = new AwsCallRecorder();
    const dynamoProxy = await new RecordingProxy(
      dynamodb.endpoint,
      dynamoDbCalls({ [tableName]: '${ChatTable.Arn}' }),
      recorder,
    ).start();
    proxies.push(dynamoProxy);
    const stageResource = `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${WebsocketsApi}/${stage}`;
    const apiProxy = await new RecordingProxy(api.endpoint, connectionsCalls(stageResource), recorder).start();
    proxies.push(apiProxy);
    const queueClient = localSqsClient(sqs.endpoint);
    const queues = await createQueues(
      queueClient,
      [
        {
          logicalId: 'FanOutQueue',
          properties: {
            QueueName: 'stack-fanout',
            VisibilityTimeout: 1,
            RedrivePolicy: {
              deadLetterTargetArn: { 'Fn::GetAtt': ['FanOutDeadLetterQueue', 'Arn'] },
              maxReceiveCount: 5,
            },
          },
        },
        { logicalId: 'FanOutDeadLetterQueue', properties: { QueueName: 'stack-fanout-dlq' } },
        {
          logicalId: 'PresenceQueue',
          properties: {
            QueueName: 'stack-presence',
            VisibilityTimeout: 1,
            RedrivePolicy: {
              deadLetterTargetArn: { 'Fn::GetAtt': ['PresenceDeadLetterQueue', 'Arn'] },
              maxReceiveCount: 5,
            },
          },
        },
        { logicalId: 'PresenceDeadLetterQueue', properties: { QueueName: 'stack-presence-dlq' } },
      ],
      (id) => id,
    );
    queueClient.destroy();
    const fanOutQueue = queues.get('FanOutQueue');
    const presenceQueue = queues.get('PresenceQueue');
    if (fanOutQueue === undefined || presenceQueue === undefined)
      throw new Error('the local SQS made no fan-out or presence queue');
    const sqsProxy = await new RecordingProxy(
      sqs.endpoint,
      sqsCalls({
        'stack-fanout': '${FanOutQueue.Arn}',
        'stack-fanout-dlq': '${FanOutDeadLetterQueue.Arn}',
        'stack-presence': '${PresenceQueue.Arn}',
        'stack-presence-dlq': '${PresenceDeadLetterQueue.Arn}',
      }),
      recorder,
    ).start();
    proxies.push(sqsProxy);
    for (const [name, value] of Object.entries(lambdaEnvironment(dynamoProxy.endpoint))) {
      if (value === undefined) Reflect.deleteProperty(process.env, name);
      else process.env[name] = value;
    }
    const world = new World({
      recorder,
      dynamodb,
      tableName,
      dynamoProxy,
      api,
      apiProxy,
      fanOutQueue,
      presenceQueue,
      sqsProxy,
    });
    await authorizerScenarios(world);
    await connectScenarios(world);
    await disconnectScenarios(world);
    await messageScenarios(world);
    await fanOutScenarios(world);
    // After the worker's scenarios: their event source would run this one's shard jobs too.
    await publishScenarios(world);
    return { calls: recorder.byFunction(), unreached: world.unreached };
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) Reflect.deleteProperty(process.env, name);
    Object.assign(process.env, saved);
    for (const proxy of proxies) await proxy.stop();
    await api.stop();
    await sqs.stop();
    await dynamodb.stop();
  }
}
