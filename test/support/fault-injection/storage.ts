import { InMemoryConnectionQuota } from '../../../src/adapters/in-memory-connection-quota.ts';
import { InMemoryConnectionRepository } from '../../../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../../../src/adapters/in-memory-message-history.ts';
import { InMemoryPresenceLog } from '../../../src/adapters/in-memory-presence-log.ts';
import { InMemoryRateLimiter } from '../../../src/adapters/in-memory-rate-limiter.ts';
import { InMemoryShardProgress } from '../../../src/adapters/in-memory-shard-progress.ts';
import type { ConnectionQuota } from '../../../src/domain/connection-quota.ts';
import type { ConnectionRepository } from '../../../src/domain/connection-repository.ts';
import type { MessageHistory } from '../../../src/domain/message-history.ts';
import type { PresenceLog } from '../../../src/domain/presence.ts';
import type { RateLimit, RateLimiter } from '../../../src/domain/rate-limiter.ts';
import type { ShardProgress } from '../../../src/domain/shard-progress.ts';
import type { FanOutQueue } from '../../../src/domain/fan-out-queue.ts';
import type { FaultDice } from './fault-dice.ts';
import type { FaultSwitches } from './fault-kinds.ts';
import type { SimQueue } from './sim-queue.ts';
import type { WorldConfig } from './workload.ts';

/** The chat's storage ports, as the service and the handlers use them. */
export interface StoragePorts {
  readonly connections: ConnectionRepository;
  readonly history: MessageHistory;
  readonly presence: PresenceLog;
  readonly quota: ConnectionQuota;
  readonly rateLimiter: RateLimiter;
  readonly shardProgress: ShardProgress;
}

/** One run's storage: the ports the chat runs on, and the same data as the harness reads it, without faults. */
export interface Storage {
  readonly ports: StoragePorts;
  readonly inspect: Pick<StoragePorts, 'connections' | 'history' | 'presence' | 'quota'>;
  /**
   * Whether the suite's port proxy injects these ports' faults; false when they come from below the adapters
   * (the DynamoDB fault proxy), where the generic proxy would only add faults no real adapter shows.
   */
  readonly portFaults: boolean;
  /**
   * The fan-out queue the handlers send through, put in front of the run's simulated queue (the SQS adapter on
   * fauxqs, whose faults come from below it); without one, they send to the simulated queue, behind the port proxy.
   */
  readonly fanOutQueue?: (sim: SimQueue) => FanOutQueue;
  /** What went wrong below the ports that the chat would not show (a queue adapter's broken promise). */
  problems?(): readonly string[];
  /** Frees what the run held (a table, a proxy, a client). */
  close(): Promise<void>;
}

/** What a storage is built from: the seed's settings, the simulated clock, and the run's fault dice. */
export interface StorageContext {
  readonly seed: number;
  readonly config: WorldConfig;
  readonly switches: FaultSwitches;
  readonly now: () => Date;
  readonly dice: FaultDice;
  readonly rateLimit: RateLimit;
}

/** Builds one run's storage. */
export type StorageFactory = (context: StorageContext) => Promise<Storage>;

/** The in-memory adapters, whose faults the suite's port proxy injects. */
export const inMemoryStorage: StorageFactory = async ({ config, now, rateLimit }) => {
  const presence = new InMemoryPresenceLog();
  // Slots of connections no longer live are taken back by an owner at its cap, as on DynamoDB.
  const quota: InMemoryConnectionQuota = new InMemoryConnectionQuota(
    { perUser: config.perUser, perIp: config.perIp },
    now,
    async (id: string): Promise<boolean> => (await connections.get(id)) !== undefined,
  );
  // A new connection's row and its owners' slots in one step, as the composition root wires DynamoDB.
  const connections: InMemoryConnectionRepository = new InMemoryConnectionRepository({
    pageSize: 2,
    shards: config.roomShards,
    now,
    presence,
    quota,
  });
  const history = new InMemoryMessageHistory();
  return {
    ports: {
      connections,
      history,
      presence,
      quota,
      rateLimiter: new InMemoryRateLimiter(rateLimit, now),
      shardProgress: new InMemoryShardProgress(),
    },
    inspect: { connections, history, presence, quota },
    portFaults: true,
    close: async () => {},
  };
};
