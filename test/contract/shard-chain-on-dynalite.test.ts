import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import { DynamoDbShardProgress } from '../../src/adapters/dynamodb-shard-progress.ts';
import type { ShardJob } from '../../src/domain/fan-out-queue.ts';
import { RecordingMessenger } from '../fakes/recording-messenger.ts';
import { type DynamoDbTarget, startDynaliteTarget } from '../support/dynamodb.ts';
import { DynamoDbFaultProxy, SCRIPTED_FAULTS_ONLY } from '../support/dynamodb-fault-proxy.ts';
import { InProcessFanOut } from '../support/in-process-fan-out.ts';
import { liveRow, serviceOver, T0 } from '../support/service-fixtures.ts';

const PAGE = 3;
const MEMBERS = 12;

describe('a shard chain on dynalite whose first job fails after queueing its next page', () => {
  let target: DynamoDbTarget;
  let proxy: DynamoDbFaultProxy;
  let client: DynamoDBDocumentClient;

  beforeAll(async () => {
    target = await startDynaliteTarget();
    proxy = await new DynamoDbFaultProxy(target.endpoint, SCRIPTED_FAULTS_ONLY, 1).start();
    // One attempt: the fault scripted for a request fails the job rather than being retried away by the SDK.
    client = proxy.documentClient(1);
  });

  afterAll(async () => {
    client.destroy();
    await proxy.stop();
    await target.stop();
  });

  it('delivers every page after the first once when the job runs again a second later', async () => {
    const tableName = await target.table();
    let now = T0;
    const clock = (): Date => now;
    const connections = new DynamoDbConnectionRepository(client, { tableName, now: clock });
    const ids = Array.from({ length: MEMBERS }, (_, i) => `m${String(i).padStart(2, '0')}`);
    for (const id of ids) await connections.save(liveRow(id, 'hall'));
    const messenger = new RecordingMessenger();
    const fanOut = new InProcessFanOut(clock, { runAtOnce: false });
    const service = serviceOver(connections, messenger, {
      fanOut,
      fanOutShardSize: PAGE,
      shardProgress: new DynamoDbShardProgress(client, { tableName, now: clock }),
      now: clock,
    });
    const job: ShardJob = {
      kind: 'shard',
      fanOutId: 'f-1',
      room: 'hall',
      shard: 0,
      page: 0,
      frame: { type: 'pong', connectionId: 'probe' },
    };

    proxy.failNext('PutItem shardjob#', 'dropBefore');
    await expect(service.deliverShard(job)).rejects.toThrow();
    // The rerun lists its page with the next second's expiry cut-off, so its own cursor is not the first run's.
    now = new Date(T0.getTime() + 1_000);
    await service.deliverShard(job);
    await fanOut.runDue();

    const listed: string[] = [];
    for (let after: string | undefined, more = true; more;) {
      const page = await connections.listShard('hall', 0, PAGE, after);
      listed.push(...page.ids);
      after = page.next;
      more = after !== undefined;
    }
    const laterPages = listed.slice(PAGE);
    const received = (id: string): number => messenger.framesTo(id).length;
    expect(laterPages.map((id) => [id, received(id)])).toEqual(laterPages.map((id) => [id, 1]));
  });
});
