import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ApiGatewayMessenger } from '../../src/adapters/api-gateway-messenger.ts';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import type { ChatService, PostResult } from '../../src/domain/chat-service.ts';
import { type DynamoDbTarget, startDynaliteTarget } from '../support/dynamodb.ts';
import { FaultyConnectionsApi } from '../support/faulty-connections-api.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { recordFigures } from '../support/reliability-figures.ts';
import type { StackTable } from '../support/stack-table.ts';
import { WireClient, type WireFrame } from '../support/wire-client.ts';
import { newChatService } from '../support/service-fixtures.ts';

const figures: Record<string, number> = {};

afterAll(async () => {
  await recordFigures('lost-disconnects', figures);
});

const ids = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);

describe('rows whose expiry has passed, through the DynamoDB adapter and the real messenger', () => {
  const EXPIRED = 50;
  const LIVE = 5;
  const api = new FaultyConnectionsApi();
  const agent = new Agent({ keepAlive: true });
  let target: DynamoDbTarget;
  let client: ApiGatewayManagementApiClient;
  let service: ChatService;
  let tableName: string;
  const live = ids('live', LIVE);
  const expired = ids('expired', EXPIRED);
  let result: PostResult;

  beforeAll(async () => {
    await api.start();
    target = await startDynaliteTarget();
    tableName = await target.table();
    client = new ApiGatewayManagementApiClient({
      endpoint: api.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 3,
      requestHandler: new NodeHttpHandler({ httpAgent: agent }),
    });
    const connections = new DynamoDbConnectionRepository(target.documentClient, { tableName, pageSize: 10 });
    service = newChatService({
      connections,
      history: new InMemoryMessageHistory(),
      messenger: new ApiGatewayMessenger(client, { timeoutMs: 1_500 }),
      concurrency: 8,
    });
    const now = Date.now();
    // Every id would be answered 200: a POST to an expired row would be counted, never refused.
    for (const id of [...live, ...expired]) api.fate(id, 'healthy');
    for (const id of live) await service.connect(id, { room: 'attic', name: id });
    for (const id of expired) {
      await connections.save({
        id,
        room: 'attic',
        name: id,
        connectedAt: new Date(now - 3 * 3_600_000),
        expiresAt: new Date(now - 60_000),
        revision: 0,
        announced: false,
      });
    }

    result = await service.post(live[0] ?? 'none', 'is anyone still here?');
    await service.who(live[0] ?? 'none');
    figures['expiredRowsPlanted'] = EXPIRED;
    figures['expiredRowsPostedTo'] = expired.filter((id) => api.postsTo(id).length > 0).length;
  }, 60_000);

  afterAll(async () => {
    client?.destroy();
    agent.destroy();
    await api.stop();
    await target?.stop();
  });

  it('never posts to a row whose expiry has passed', () => {
    expect(expired.flatMap((id) => api.postsTo(id))).toEqual([]);
  });

  it('delivers to every live member once and counts only them as recipients', () => {
    const { recipients, delivered, gone, failed } = result.report;

    expect({
      posts: live.map((id) => api.postsTo(id).filter((post) => post.body.includes('"type":"message"')).length),
      report: { recipients, delivered, gone, failed },
    }).toEqual({ posts: live.map(() => 1), report: { recipients: LIVE, delivered: LIVE, gone: 0, failed: 0 } });
  });

  it('leaves expired members out of the roster', () => {
    const roster = api.postsTo(live[0] ?? 'none').find((post) => post.body.includes('"type":"roster"'));
    const members = (JSON.parse(roster?.body ?? '{}') as { members?: Array<{ connectionId: string }> }).members ?? [];

    expect(members.map((member) => member.connectionId).sort()).toEqual(live);
  });
});

describe('rows left behind by clients that vanished without $disconnect, through the local stack', () => {
  const GHOSTS = 50;
  const OTHER_GHOSTS = 10;
  const LIVE = 5;
  let stack: TestStack;
  let table: StackTable;
  const clients: WireClient[] = [];
  const liveIds: string[] = [];
  const ghosts = ids('ghost', GHOSTS);
  const otherGhosts = ids('elsewhere-ghost', OTHER_GHOSTS);
  let firstAck: WireFrame | undefined;
  let secondAck: WireFrame | undefined;

  const isAck = (clientMsgId: string) => (frame: WireFrame) =>
    'type' in frame && frame['type'] === 'ack' && frame['clientMsgId'] === clientMsgId;
  const counts = (ack: WireFrame | undefined) =>
    ack !== undefined && 'type' in ack
      ? { recipients: ack['recipients'], delivered: ack['delivered'], gone: ack['gone'], failed: ack['failed'] }
      : undefined;

  beforeAll(async () => {
    stack = await startTestStack({ RATE_LIMIT_FRAMES: '100000', RATE_LIMIT_WINDOW_SECONDS: '1' });
    table = stack.table;
    for (let i = 0; i < LIVE; i += 1) {
      const client = await WireClient.connect(`${stack.websocketUrl}/?room=haunted&name=Live${i}`);
      clients.push(client);
      client.sendText('{"action":"ping"}');
      const pong = await client.waitFor((frame) => 'type' in frame && frame['type'] === 'pong');
      liveIds.push(pong !== undefined && 'connectionId' in pong ? String(pong['connectionId']) : `unknown-${i}`);
    }
    // Every join announced before the ghosts are planted: a presence flush still to come would meet them first,
    // and its 410s would take them out of the room before the first broadcast could count them.
    const lastJoin = liveIds.at(-1);
    const announcesLastJoin = (frame: WireFrame): boolean =>
      'type' in frame &&
      ((frame['type'] === 'presence' && frame['connectionId'] === lastJoin) ||
        (frame['type'] === 'presence_batch' &&
          Array.isArray(frame['changes']) &&
          frame['changes'].some((change: { connectionId?: unknown }) => change.connectionId === lastJoin)));
    if ((await clients[0]?.waitFor(announcesLastJoin, 20_000)) === undefined)
      throw new Error(`no presence frame announced ${lastJoin}`);
    const expiresAt = Math.floor(Date.now() / 1000) + 3_600;
    for (const id of ghosts) await table.plant(id, 'haunted', expiresAt);
    for (const id of otherGhosts) await table.plant(id, 'elsewhere', expiresAt);
    const [speaker] = clients;

    speaker?.sendText(JSON.stringify({ action: 'sendmessage', text: 'is anyone still here?', clientMsgId: 'first' }));
    firstAck = await speaker?.waitFor(isAck('first'), 20_000);
    speaker?.sendText(JSON.stringify({ action: 'sendmessage', text: 'and now?', clientMsgId: 'second' }));
    secondAck = await speaker?.waitFor(isAck('second'), 20_000);

    const items = await table.connections();
    figures['ghostRowsPlanted'] = GHOSTS;
    figures['ghostRowsTakenOutOfTheRoom'] = items.filter((item) => ghosts.includes(item.id) && item.retired).length;
    figures['otherRowsTouched'] = items.filter((item) => otherGhosts.includes(item.id) && item.retired).length;
    figures['liveClients'] = LIVE;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await stack?.stop();
  });

  it('delivers the first broadcast to every live client while it meets 50 ghosts', async () => {
    const texts = await Promise.all(
      clients.map(async (client) => {
        await client.waitFor((frame) => 'text' in frame && frame['text'] === 'and now?');
        return client.received.flatMap((frame) =>
          'type' in frame && frame['type'] === 'message' ? [frame['text']] : [],
        );
      }),
    );

    expect({ texts, ack: counts(firstAck) }).toEqual({
      texts: clients.map(() => ['is anyone still here?', 'and now?']),
      ack: { recipients: LIVE + GHOSTS, delivered: LIVE, gone: GHOSTS, failed: 0 },
    });
  });

  it('takes exactly the ghosts out of the room, keeping their rows only for a $disconnect that never comes', async () => {
    const items = await table.connections();

    expect({
      members: await table.roomMembers('haunted'),
      retired: items.filter((item) => item.retired).map((item) => item.id),
      elsewhere: await table.roomMembers('elsewhere'),
    }).toEqual({ members: [...liveIds].sort(), retired: ghosts, elsewhere: otherGhosts });
  });

  it('never sends to a ghost again: the next broadcast reaches only the live clients', () => {
    expect(counts(secondAck)).toEqual({ recipients: LIVE, delivered: LIVE, gone: 0, failed: 0 });
  });
});
