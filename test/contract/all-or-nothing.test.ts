import { describe, expect, it } from '@jest/globals';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import { DynamoDbPresenceLog } from '../../src/adapters/dynamodb-presence-log.ts';
import { InMemoryMessageHistory } from '../../src/adapters/in-memory-message-history.ts';
import type { ChatService } from '../../src/domain/chat-service.ts';
import { LOST_FLUSH_MS, UNREQUESTED_FLUSH_MS } from '../../src/domain/presence-flush.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { type DynamoDbFault, scriptedFaultsOnDynalite } from '../support/dynamodb-fault-proxy.ts';
import { InProcessFanOut } from '../support/in-process-fan-out.ts';
import { listed, newChatService } from '../support/service-fixtures.ts';

/** The SDK's attempts per request: a fault injected this many times in a row outlives its retries. */
const ATTEMPTS = 3;
const ROOMS = ['hall', 'kitchen'] as const;

type Operation = 'connect' | 'join' | 'rename' | 'disconnect';

/**
 * Every membership change on DynamoDB, with one of its requests failed for good (every attempt) or applied with its
 * answer lost (so the SDK replays it), request by request. Whatever failed, once the room is used again (a post
 * finds closed sockets gone, a `who` asks for flushes nobody asked for), each room counts exactly its listed
 * members and no change waits unannounced.
 */
describe('membership changes that fail at any request on DynamoDB', () => {
  const faults = scriptedFaultsOnDynalite(1, ATTEMPTS);

  /** Ann and Bob in the hall, Cy in the kitchen, each welcomed; a clock the test moves. */
  async function chat() {
    const tableName = await faults.target.table();
    let now = Date.now();
    const clock = (): Date => new Date(now);
    const messenger = new RecordingMessenger();
    const fanOut = new InProcessFanOut(clock);
    const connections = new DynamoDbConnectionRepository(faults.client, { tableName, now: clock });
    const presence = new DynamoDbPresenceLog(faults.client, { tableName, now: clock });
    const service: ChatService = newChatService({
      connections,
      presence,
      history: new InMemoryMessageHistory(),
      fanOutQueue: fanOut,
      messenger,
      concurrency: 4,
      now: clock,
    });
    fanOut.attach(service);
    /** Sockets closed by the test: the messenger answers `gone` for them. */
    const closed = new Set<string>();
    for (const [id, room] of [
      ['ann', 'hall'],
      ['bob', 'hall'],
      ['cy', 'kitchen'],
    ] as const) {
      await service.connect(id, { room });
      await service.hello(id);
    }
    return {
      service,
      messenger,
      closed,
      /** Lets time pass beyond every grace, then uses each room as its members would. */
      async settle(): Promise<void> {
        now += LOST_FLUSH_MS + UNREQUESTED_FLUSH_MS + 1;
        for (const room of ROOMS) {
          const [member] = (await listed(connections, room)).filter((id) => !closed.has(id));
          if (member === undefined) continue;
          await service.post(member, 'anyone there?');
          await service.who(member);
        }
        await fanOut.runDue();
      },
      async counts(): Promise<Record<string, { counted: number; listed: number; pending: number }>> {
        const entries = await Promise.all(
          ROOMS.map(async (room) => {
            const counted = (await presence.clock(room)).members;
            const members = (await listed(connections, room)).length;
            return [room, { counted, listed: members, pending: (await presence.pending(room, 100)).length }] as const;
          }),
        );
        return Object.fromEntries(entries);
      },
    };
  }

  async function run(
    { service, messenger, closed }: { service: ChatService; messenger: RecordingMessenger; closed: Set<string> },
    operation: Operation,
  ): Promise<void> {
    if (operation === 'connect') await service.connect('dee', { room: 'kitchen' });
    if (operation === 'join') await service.join('bob', 'kitchen');
    if (operation === 'rename') await service.rename('bob', 'Robert');
    if (operation === 'disconnect') {
      messenger.on('bob', 'gone');
      closed.add('bob');
      await service.disconnect('bob');
    }
  }

  /** How many requests the operation makes when none fails. */
  async function requestsOf(operation: Operation): Promise<number> {
    const world = await chat();
    const before = faults.proxy.seen.length;
    await run(world, operation);
    return faults.proxy.seen.length - before;
  }

  const cases: Array<[Operation, DynamoDbFault, number]> = [];
  for (const operation of ['connect', 'join', 'rename', 'disconnect'] as const) {
    cases.push([operation, 'dropBefore', ATTEMPTS], [operation, 'dropAfter', 1]);
  }

  it.each(cases)(
    'keeps every count and announcement whole when a %s has any one request %s (%i attempts)',
    async (operation, fault, times) => {
      const requests = await requestsOf(operation);
      const outcomes: string[] = [];
      for (let index = 0; index < requests; index += 1) {
        const world = await chat();
        const { settle, counts } = world;
        faults.proxy.failAt(index, fault, times);
        const label = faults.proxy.seen.length;
        await run(world, operation).catch(() => undefined);
        const failed = faults.proxy.seen[label + index] ?? '(none)';
        await settle();
        const rooms = await counts();
        for (const [room, { counted, listed: members, pending }] of Object.entries(rooms)) {
          if (counted !== members || pending !== 0)
            outcomes.push(`${failed}: ${room} counts ${counted}, lists ${members}, ${pending} pending`);
        }
      }
      expect(outcomes).toEqual([]);
    },
  );
});
