import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ApiGatewayMessenger } from '../../src/adapters/api-gateway-messenger.ts';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import type { BroadcastReport, PostResult } from '../../src/domain/chat-service.ts';
import type { Connection } from '../../src/domain/connection.ts';
import { type Fate, FATES, FaultyConnectionsApi, type ReceivedPost } from '../support/faulty-connections-api.ts';
import { recordFigures } from '../support/reliability-figures.ts';
import { seededShuffle } from '../support/seeded-random.ts';
import { newChatService } from '../support/service-fixtures.ts';
import { InMemoryFanOutQueue } from '../../src/adapters/in-memory-fan-out-queue.ts';

/** The room under test: 400 recipients with a known mix of fates. */
const MIX: Readonly<Record<Fate, number>> = { healthy: 330, gone: 8, flaky: 24, failing: 10, slow: 20, hanging: 8 };
const ROOM = 'hall';
/** A second room whose members must hear nothing of the first. */
const SIDE_ROOM = 'side';
const SIDE_MEMBERS = 5;
const POSTS = 5;
const MAX_ATTEMPTS = 3;
// The SDK waits up to 1 s before retrying a throttled request, so one 429 and its retry must fit in the budget
// with room to spare on a busy machine; a hanging recipient fails on this timeout, never on a retry.
const TIMEOUT_MS = 2_000;
const CONCURRENCY = 50;

const receives = (fate: Fate | undefined): boolean => fate === 'healthy' || fate === 'flaky' || fate === 'slow';

interface SentFrame {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** A key naming one frame: the same message, presence or ack posted twice has the same key. */
function frameKey(post: ReceivedPost): string {
  const frame = JSON.parse(post.body) as SentFrame;
  switch (frame.type) {
    case 'message':
      return `message ${String(frame['id'])}`;
    case 'presence':
      return `presence ${String(frame['event'])} ${String(frame['connectionId'])}`;
    case 'ack':
      return `ack ${String(frame['clientMsgId'])}`;
    default:
      return `${frame.type} ${post.body}`;
  }
}

function countBy(posts: readonly ReceivedPost[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const post of posts) counts.set(frameKey(post), (counts.get(frameKey(post)) ?? 0) + 1);
  return counts;
}

/** How many of the posts repeat a frame already posted. */
function duplicates(posts: readonly ReceivedPost[]): number {
  return [...countBy(posts).values()].reduce((sum, n) => sum + n - 1, 0);
}

describe('a fan-out through the real messenger against a @connections API that fails in every known way', () => {
  const api = new FaultyConnectionsApi();
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let client: ApiGatewayManagementApiClient;
  const connections = new InMemoryConnectionRepository({ pageSize: 64 });
  const hall: string[] = [];
  const side: string[] = [];
  const byFate = new Map<Fate, string[]>(FATES.map((fate) => [fate, []]));
  let sender: Connection;
  const results: PostResult[] = [];
  /** The ids listed in the room before each post. */
  const listedBefore: string[][] = [];

  const ids = (fate: Fate): string[] => byFate.get(fate) ?? [];
  const listed = async (room: string): Promise<string[]> => {
    const found: string[] = [];
    for await (const page of connections.list(room)) found.push(...page);
    return found.sort();
  };

  beforeAll(async () => {
    await api.start();
    client = new ApiGatewayManagementApiClient({
      endpoint: api.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: MAX_ATTEMPTS,
      requestHandler: new NodeHttpHandler({ httpAgent: agent }),
    });
    const service = newChatService({
      connections,
      history: new InMemoryMessageHistory(),
      messenger: new ApiGatewayMessenger(client, { timeoutMs: TIMEOUT_MS }),
      concurrency: CONCURRENCY,
      // The leaves of members found gone are kept and their flushes queued, not run: the fan-outs under test are
      // the posts'.
      fanOutQueue: new InMemoryFanOutQueue(),
    });
    // Fates are spread over the room's pages in a fixed, shuffled order.
    const fates = seededShuffle(
      FATES.flatMap((fate) => Array.from({ length: MIX[fate] }, () => fate)),
      5,
    );
    fates.forEach((fate, i) => {
      const id = `h-${String(i).padStart(3, '0')}`;
      hall.push(id);
      ids(fate).push(id);
      api.fate(id, fate);
    });
    for (let i = 0; i < SIDE_MEMBERS; i += 1) {
      side.push(`s-${i}`);
      api.fate(`s-${i}`, 'healthy');
    }
    // Seated an hour ago, long past their handshakes: a 410 then means gone.
    const seating = newChatService({
      connections,
      history: new InMemoryMessageHistory(),
      messenger: new ApiGatewayMessenger(client, { timeoutMs: TIMEOUT_MS }),
      concurrency: CONCURRENCY,
      now: () => new Date(Date.now() - 3_600_000),
      // Their joins are kept, never announced: the fan-outs under test are the posts'.
      fanOutQueue: new InMemoryFanOutQueue(),
    });
    for (const id of hall) await seating.connect(id, { room: ROOM, name: `Member ${id}` });
    for (const id of side) await seating.connect(id, { room: SIDE_ROOM, name: `Side ${id}` });
    const senderId = ids('healthy')[0] ?? 'none';
    const row = await connections.get(senderId);
    if (row === undefined) throw new Error(`the sender ${senderId} was not stored`);
    sender = row;

    for (let run = 1; run <= POSTS; run += 1) {
      listedBefore.push(await listed(ROOM));
      results.push(await service.post(senderId, `message ${run}`, `c-${run}`));
    }

    const delivered = api.posts.filter((post) => post.answer === 200);
    const messagesMade = delivered.filter((post) => frameKey(post).startsWith('message ')).length;
    await recordFigures('messenger-faults', {
      recipients: hall.length,
      posts: POSTS,
      mix: MIX,
      faultsInjected: { ...api.injected },
      messageDeliveriesExpected: (MIX.healthy + MIX.flaky + MIX.slow) * POSTS,
      messageDeliveriesMade: messagesMade,
      duplicateDeliveries: hall.reduce(
        (sum, id) => sum + duplicates(delivered.filter((post) => post.connectionId === id)),
        0,
      ),
      rowsLost: hall.filter((id) => api.fateOf(id) !== 'gone').length - (await listed(ROOM)).length,
    });
  }, 120_000);

  afterAll(async () => {
    client?.destroy();
    agent.destroy();
    await api.stop();
  });

  it('delivers every message exactly once to every healthy, flaky and slow recipient, the sender included, and nothing else', () => {
    const messages = results.map((result) => `message ${result.message.id}`);
    const acks = results.map((_, i) => `ack c-${i + 1}`);
    const wrong = hall
      .filter((id) => receives(api.fateOf(id)))
      .flatMap((id) => {
        const delivered = api
          .postsTo(id)
          .filter((post) => post.answer === 200)
          .map(frameKey);
        const expected = id === sender.id ? [...messages, ...acks] : messages;
        return JSON.stringify(delivered.sort()) === JSON.stringify(expected.sort()) ? [] : [{ id, delivered }];
      });

    expect(wrong).toEqual([]);
  });

  it('gives a flaky recipient exactly one 429 and then one 200 for every frame', () => {
    const wrong = ids('flaky').flatMap((id) => {
      const perFrame = new Map<string, Array<number | 'hang'>>();
      for (const post of api.postsTo(id))
        perFrame.set(frameKey(post), [...(perFrame.get(frameKey(post)) ?? []), post.answer]);
      return [...perFrame.values()].every((answers) => JSON.stringify(answers) === '[429,200]')
        ? []
        : [{ id, perFrame: [...perFrame] }];
    });

    expect(wrong).toEqual([]);
  });

  it('takes the gone recipients out of the room during the first post and never posts to them again', async () => {
    const firstMessage = results[0]?.message.id;

    expect({
      listedAfterFirst: listedBefore[1]?.filter((id) => ids('gone').includes(id)),
      readable: (await Promise.all(ids('gone').map((id) => connections.get(id)))).filter((row) => row !== undefined),
      postsToGone: ids('gone').map((id) => api.postsTo(id).map(frameKey)),
    }).toEqual({
      listedAfterFirst: [],
      readable: [],
      postsToGone: ids('gone').map(() => [`message ${String(firstMessage)}`]),
    });
  });

  it('keeps failing and hanging recipients stored and keeps trying them on every frame', async () => {
    const frames = results.length;
    const kept = [...ids('failing'), ...ids('hanging')];
    const listedNow = await listed(ROOM);

    expect({
      missing: kept.filter((id) => !listedNow.includes(id)),
      framesTried: kept.map((id) => countBy(api.postsTo(id)).size),
      delivered: kept.flatMap((id) => api.postsTo(id).filter((post) => post.answer === 200)),
      failingAttemptsWithinLimit: ids('failing').every((id) =>
        [...countBy(api.postsTo(id)).values()].every((n) => n >= 1 && n <= MAX_ATTEMPTS),
      ),
      hangingAttemptsPerFrame: ids('hanging').flatMap((id) => [...new Set(countBy(api.postsTo(id)).values())]),
    }).toEqual({
      missing: [],
      framesTried: kept.map(() => frames),
      delivered: [],
      failingAttemptsWithinLimit: true,
      hangingAttemptsPerFrame: ids('hanging').map(() => 1),
    });
  });

  it('reports counts that match the injected mix exactly on every post', () => {
    const delivered = MIX.healthy + MIX.flaky + MIX.slow;
    const failed = MIX.failing + MIX.hanging;
    const counts = (report: BroadcastReport) => {
      const { room, recipients, gone, removed } = report;
      return { room, recipients, delivered: report.delivered, gone, removed, failed: report.failed };
    };

    expect(results.map((result) => counts(result.report))).toEqual(
      results.map((_, i) => ({
        room: ROOM,
        recipients: i === 0 ? hall.length : hall.length - MIX.gone,
        delivered,
        gone: i === 0 ? MIX.gone : 0,
        removed: i === 0 ? MIX.gone : 0,
        failed,
      })),
    );
  });

  it('names every failed recipient with its reason: unavailable after 500s, timeout when hanging', () => {
    const expected = [
      ...ids('failing').map((connectionId) => ({ connectionId, reason: 'unavailable' })),
      ...ids('hanging').map((connectionId) => ({ connectionId, reason: 'timeout' })),
    ].sort((a, b) => a.connectionId.localeCompare(b.connectionId));

    for (const { report } of results) {
      expect([...report.failures].sort((a, b) => a.connectionId.localeCompare(b.connectionId))).toEqual(expected);
    }
  });

  it('acknowledges each post to its sender with the counts of its report', () => {
    const acks = api
      .postsTo(sender.id)
      .filter((post) => post.answer === 200 && frameKey(post).startsWith('ack '))
      .map((post) => JSON.parse(post.body) as SentFrame);

    expect(acks).toEqual(
      results.map(({ message, report }, i) => ({
        type: 'ack',
        clientMsgId: `c-${i + 1}`,
        id: message.id,
        seq: message.seq,
        recipients: report.recipients,
        delivered: report.delivered,
        gone: report.gone,
        failed: report.failed,
      })),
    );
  });

  it("leaves the sender's own row, the other room and every id it did not create untouched", async () => {
    expect({
      sender: await connections.get(sender.id),
      side: await listed(SIDE_ROOM),
      postsToSide: side.flatMap((id) => api.postsTo(id)),
      unexpected: api.unexpected,
    }).toEqual({ sender, side: [...side].sort(), postsToSide: [], unexpected: [] });
  });
});
