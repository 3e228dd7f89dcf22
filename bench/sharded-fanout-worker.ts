/**
 * One sharded fan-out of a big room, simulated in virtual time in a fresh process: the real ChatService (post,
 * which queues the shard jobs, and deliverShard, which lists a page and queues the next) behind the real fan-out
 * handler and its Middy chain, over the real in-memory connection repository and presence log. What AWS does is
 * simulated: an SQS queue (visibility timeout, batches of up to batchSize, records handed back), Lambda's event
 * source (at most maximumConcurrency invocations, each with its time limit, one vCPU per environment), DynamoDB's
 * Query latency, PostToConnection's round trips and the account's regional budget as one token bucket shared by
 * every worker. CPU per delivery is charged analytically to the environment's one vCPU. Prints one JSON line.
 */
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { ChatService } from '../src/domain/chat-service.ts';
import type { ConnectionChanges } from '../src/domain/connection.ts';
import type { ConnectionRepository, ShardPage } from '../src/domain/connection-repository.ts';
import type { FanOutJob, FanOutQueue } from '../src/domain/fan-out-queue.ts';
import type { DeliveryOutcome, Messenger } from '../src/domain/messenger.ts';
import type { ChatMetrics, Logger, MetricName } from '../src/domain/observability.ts';
import { shardOf } from '../src/domain/room-shards.ts';
import { InMemoryConnectionRepository } from '../src/adapters/in-memory-connection-repository.ts';
import { InMemoryMessageHistory } from '../src/adapters/in-memory-message-history.ts';
import { InMemoryPresenceLog } from '../src/adapters/in-memory-presence-log.ts';
import { InMemoryRateLimiter } from '../src/adapters/in-memory-rate-limiter.ts';
import { delaySecondsFor, messageBodyOf } from '../src/adapters/sqs-fan-out-queue.ts';
import { createFanOutHandler } from '../src/handlers/functions/fanout.ts';
import type { Dependencies } from '../src/handlers/wiring/dependencies.ts';
import { seededRandom } from '../test/support/seeded-random.ts';
import type { LatencyModel } from './simulated-messenger.ts';
import { normal, quantile } from './stats.ts';
import { InMemoryShardProgress } from '../src/adapters/in-memory-shard-progress.ts';

export interface ShardedFanoutParams {
  readonly label: string;
  /** Members of the one room, the sender among them. */
  readonly n: number;
  /** ROOM_SHARDS, FANOUT_SHARD_SIZE and BROADCAST_CONCURRENCY as loadConfig reads them. */
  readonly shards: number;
  readonly shardSize: number;
  readonly broadcastConcurrency: number;
  /** The fan-out function's event source and limits, from serverless.yml. */
  readonly maxConcurrency: number;
  readonly batchSize: number;
  readonly timeoutMs: number;
  readonly visibilityTimeoutMs: number;
  readonly vcpu: number;
  /** The regional PostToConnection budget, a token bucket that every send waits on (a paced client). */
  readonly budgetPerSecond: number;
  readonly burst: number;
  /** CPU per delivery of the real messenger (bench/messenger.ts), charged per send at one vCPU. */
  readonly cpuUsPerDelivery: number;
  readonly latency: LatencyModel;
  /** SQS SendMessage round trip, paid by the producer (the message function, or a shard job queuing its next page). */
  readonly sqsSendMs: number;
  /** From a record's becoming visible (or a slot's freeing) to the invocation's start, on a warm environment. */
  readonly invokeMs: number;
  /** Added to the first invocation of each new execution environment. */
  readonly coldStartMs: number;
  /** DynamoDB Query round trip for one page of a shard (keys only, about 430 KB for 5,000 members). */
  readonly queryMs: number;
  /** CPU of reading that page (the SDK's parse and unmarshalling, the adapter), on the environment's vCPU. */
  readonly listCpuMs: number;
  readonly seed: number;
}

export interface InvocationRecord {
  readonly env: number;
  readonly startMs: number;
  readonly durationMs: number;
  readonly records: number;
  readonly jobsRun: number;
  readonly handedBack: number;
  readonly deliveries: number;
  readonly timedOut: boolean;
}

export interface ShardedFanoutResult {
  readonly params: ShardedFanoutParams;
  readonly idealMs: number;
  readonly totalMs: number;
  readonly ratio: number;
  /** When the message function's post returned (its shard jobs queued). */
  readonly postMs: number;
  readonly shardJobs: number;
  readonly jobsRun: number;
  readonly invocations: number;
  readonly environments: number;
  readonly maxInvocationMs: number;
  readonly p50InvocationMs: number;
  readonly timedOut: number;
  readonly handedBack: number;
  readonly maxRecordsPerInvocation: number;
  readonly meanRecordsPerInvocation: number;
  readonly maxReceiveCount: number;
  readonly delivered: number;
  readonly missed: number;
  readonly duplicates: number;
  readonly extraSends: number;
  /** Deliveries reported by the handler's metrics (the real countFanOut), summed over invocations. */
  readonly metricDeliveries: number;
  /** Mean invocations running, over the run. */
  readonly meanConcurrency: number;
  /** When the last of each shard's pages was delivered, ms. */
  readonly shardEndMs: readonly number[];
  /** Sends per second in each 10 s of the run. */
  readonly ratePer10s: readonly number[];
  readonly tokenWaitMeanMs: number;
  readonly cpuBusyShare: number;
  readonly simHeapMb: number;
  readonly realMs: number;
  readonly handlerErrors: readonly string[];
  readonly invocationList: readonly InvocationRecord[];
}

interface TimerEvent {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
}

/** A discrete-event clock: promises resolved in virtual time, in order, once every microtask before them has run. */
class VirtualClock {
  now = 0;
  readonly #heap: TimerEvent[] = [];
  #seq = 0;

  at(time: number, fire: () => void): void {
    const heap = this.#heap;
    heap.push({ at: Math.max(time, this.now), seq: (this.#seq += 1), fire });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as TimerEvent, heap[parent] as TimerEvent)) break;
      [heap[i], heap[parent]] = [heap[parent] as TimerEvent, heap[i] as TimerEvent];
      i = parent;
    }
  }

  sleepUntil(time: number): Promise<void> {
    if (time <= this.now) return Promise.resolve();
    return new Promise((resolve) => this.at(time, resolve));
  }

  /** Runs until no event is left. */
  async run(): Promise<void> {
    for (;;) {
      // Every microtask (the service's awaits) settles before virtual time moves on.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const next = this.#pop();
      if (next === undefined) return;
      this.now = next.at;
      next.fire();
      while (this.#heap[0] !== undefined && this.#heap[0].at === this.now) this.#pop()?.fire();
    }
  }

  #pop(): TimerEvent | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && before(heap[left] as TimerEvent, heap[least] as TimerEvent)) least = left;
      if (right < heap.length && before(heap[right] as TimerEvent, heap[least] as TimerEvent)) least = right;
      if (least === i) return top;
      [heap[i], heap[least]] = [heap[least] as TimerEvent, heap[i] as TimerEvent];
      i = least;
    }
  }
}

const before = (a: TimerEvent, b: TimerEvent): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/** The account's PostToConnection budget (GCRA, as bench/simulated-messenger.ts): when a send gets its token. */
class RegionalBudget {
  readonly #intervalMs: number;
  readonly #toleranceMs: number;
  #theoreticalArrival = 0;
  waitedMs = 0;

  constructor(perSecond: number, burst: number) {
    this.#intervalMs = 1000 / perSecond;
    this.#toleranceMs = burst * this.#intervalMs;
  }

  admit(now: number): number {
    const arrival = Math.max(this.#theoreticalArrival, now);
    this.#theoreticalArrival = arrival + this.#intervalMs;
    const at = Math.max(now, arrival - this.#toleranceMs);
    this.waitedMs += at - now;
    return at;
  }
}

/** One Lambda execution environment: one vCPU, one invocation at a time, its own ChatService as its container builds. */
interface Environment {
  readonly id: number;
  cpuFreeAt: number;
  cpuBusyMs: number;
  /** Deliveries the handler's metrics counted (the real countFanOut), over the environment's life. */
  deliveries: number;
  /** The running invocation's deadline; work after it is lost, as Lambda ends the invocation there. */
  deadline: number;
  dead: boolean;
  warm: boolean;
}

interface QueuedMessage {
  readonly id: string;
  readonly body: string;
  visibleAt: number;
  receiveCount: number;
  receivedAt: number;
  deleted: boolean;
}

const ID_SUFFIX = 'AbCdEfG=';
const idOf = (index: number): string => `Q${index.toString(36).padStart(7, '0')}${ID_SUFFIX}`;
const indexOf = (id: string): number => Number.parseInt(id.slice(1, 8), 36);
const ROOM = 'stage';
const EPOCH = Date.parse('2030-01-01T00:00:00Z');

async function simulate(params: ShardedFanoutParams): Promise<ShardedFanoutResult> {
  const realStart = performance.now();
  const clock = new VirtualClock();
  const now = (): Date => new Date(EPOCH + clock.now);
  const random = seededRandom(params.seed);
  const budget = new RegionalBudget(params.budgetPerSecond, params.burst);
  const cpuMs = params.cpuUsPerDelivery / 1000 / params.vcpu;
  const listCpuMs = params.listCpuMs / params.vcpu;

  const sends = new Uint8Array(params.n);
  let lastDeliveryAt = 0;
  let extraSends = 0;
  const per10s: number[] = [];
  const shardEnd = new Array<number>(params.shards).fill(0);
  const shardOfIndex = new Uint8Array(params.n);

  // Shared state, as DynamoDB is: the room index and the room's presence clock with its member count.
  const repository = new InMemoryConnectionRepository({ shards: params.shards, now });
  const connectedAt = new Date(EPOCH - 3_600_000);
  const expiresAt = new Date(EPOCH + 3 * 3_600_000);
  for (let i = 0; i < params.n; i += 1) {
    await repository.save({
      id: idOf(i),
      room: ROOM,
      name: `Guest ${i}`,
      connectedAt,
      expiresAt,
      revision: 0,
      announced: true,
    });
  }
  const presence = new InMemoryPresenceLog();
  await presence.record(
    ROOM,
    { event: 'join', connectionId: idOf(0), name: 'Guest 0', rev: 0, at: now().toISOString() },
    params.n,
  );
  await presence.forget(
    ROOM,
    (await presence.pending(ROOM, 10)).map(({ key }) => key),
  );
  const history = new InMemoryMessageHistory();

  // ---- SQS ----
  const queue: QueuedMessage[] = [];
  let messageIds = 0;
  let shardJobs = 0;
  let maxReceiveCount = 0;
  const source = { dispatch: (): void => undefined };
  const makeVisible = (message: QueuedMessage): void => {
    clock.at(message.visibleAt, () => source.dispatch());
  };

  /** The fan-out queue as one environment's SqsFanOutQueue sees it: a SendMessage round trip, then the message. */
  class SimulatedSqs implements FanOutQueue {
    readonly #env: Environment | undefined;
    constructor(env: Environment | undefined) {
      this.#env = env;
    }
    async enqueue(job: FanOutJob, delayMs?: number): Promise<void> {
      await clock.sleepUntil(clock.now + params.sqsSendMs);
      this.#arrive(job, delayMs);
    }
    /** A SendMessageBatch round trip per 10 jobs, as SqsFanOutQueue sends jobs of the size these are. */
    async enqueueAll(jobs: readonly FanOutJob[]): Promise<void> {
      for (let i = 0; i < jobs.length; i += 10) {
        await clock.sleepUntil(clock.now + params.sqsSendMs);
        for (const job of jobs.slice(i, i + 10)) this.#arrive(job);
      }
    }
    #arrive(job: FanOutJob, delayMs?: number): void {
      const body = messageBodyOf(job);
      // A send that Lambda's end of the invocation cut off never reached SQS.
      if (this.#env !== undefined && (this.#env.dead || clock.now > this.#env.deadline)) return;
      if (job.kind === 'shard') shardJobs += 1;
      const message: QueuedMessage = {
        id: `msg-${(messageIds += 1)}`,
        body,
        visibleAt: clock.now + delaySecondsFor(delayMs) * 1000,
        receiveCount: 0,
        receivedAt: 0,
        deleted: false,
      };
      queue.push(message);
      makeVisible(message);
    }
  }

  /** PostToConnection from one environment: its token, its CPU on the environment's vCPU, then the round trip. */
  class VirtualMessenger implements Messenger {
    readonly #env: Environment | undefined;
    constructor(env: Environment | undefined) {
      this.#env = env;
    }
    async send(connectionId: string): Promise<DeliveryOutcome> {
      const env = this.#env;
      if (env !== undefined && (env.dead || clock.now > env.deadline)) return 'delivered';
      const admitted = budget.admit(clock.now);
      let sentAt = admitted;
      if (env !== undefined) {
        const cpuStart = Math.max(admitted, env.cpuFreeAt);
        env.cpuFreeAt = cpuStart + cpuMs;
        env.cpuBusyMs += cpuMs;
        sentAt = env.cpuFreeAt;
      }
      const doneAt = sentAt + latency();
      await clock.sleepUntil(doneAt);
      // Lambda ended the invocation before this request left: it was never made.
      if (env !== undefined && (env.dead || sentAt > env.deadline)) return 'delivered';
      const index = indexOf(connectionId);
      const count = sends[index] ?? 0;
      if (count > 0) extraSends += 1;
      sends[index] = Math.min(255, count + 1);
      lastDeliveryAt = Math.max(lastDeliveryAt, doneAt);
      const bucket = Math.floor(sentAt / 10_000);
      per10s[bucket] = (per10s[bucket] ?? 0) + 1;
      const shard = shardOfIndex[index] ?? 0;
      shardEnd[shard] = Math.max(shardEnd[shard] ?? 0, doneAt);
      return 'delivered';
    }
  }

  const latency = (): number => {
    const { medianMs, sigma, tailShare, tailMs } = params.latency;
    const base = medianMs * Math.exp(sigma * normal(random));
    return random() < tailShare ? base + tailMs * (1 + random()) : base;
  };

  /** DynamoDbConnectionRepository as a worker sees it: the in-memory rows, a Query's round trip and parse CPU. */
  class QueriedRepository implements ConnectionRepository {
    readonly #env: Environment | undefined;
    readonly shards = params.shards;
    constructor(env: Environment | undefined) {
      this.#env = env;
    }
    save = repository.save.bind(repository);
    readonly takesSlots = false;
    saveWithSlots = repository.saveWithSlots.bind(repository);
    get = repository.get.bind(repository);
    update = (id: string, changes: ConnectionChanges) => repository.update(id, changes);
    retire = repository.retire.bind(repository);
    remove = repository.remove.bind(repository);
    removeWithSlots = repository.removeWithSlots.bind(repository);
    list = (room: string) => repository.list(room);
    members = repository.members.bind(repository);
    async listShard(room: string, shard: number, limit: number, after?: string): Promise<ShardPage> {
      const page = await repository.listShard(room, shard, limit, after);
      const env = this.#env;
      const arrived = clock.now + params.queryMs;
      if (env === undefined) {
        await clock.sleepUntil(arrived);
        return page;
      }
      const parsedAt = Math.max(arrived, env.cpuFreeAt) + listCpuMs;
      env.cpuFreeAt = parsedAt;
      env.cpuBusyMs += listCpuMs;
      await clock.sleepUntil(parsedAt);
      return page;
    }
  }

  // Shared by every simulated worker, as the table is.
  const shardProgress = new InMemoryShardProgress();
  const serviceFor = (env: Environment | undefined): ChatService =>
    new ChatService({
      connections: new QueriedRepository(env),
      history,
      messenger: new VirtualMessenger(env),
      concurrency: params.broadcastConcurrency,
      presence,
      fanOutQueue: new SimulatedSqs(env),
      shardProgress,
      presenceWindowMs: 1000,
      bigRoomSize: 100,
      fanOutShardSize: params.shardSize,
      now,
    });

  const silentLogger: Logger = {
    info: () => undefined,
    error: () => undefined,
    appendKeys: () => undefined,
    resetKeys: () => undefined,
  };

  // ---- Lambda's SQS event source ----
  const environments: Environment[] = [];
  const idle: Array<{ env: Environment; handler: ReturnType<typeof createFanOutHandler> }> = [];
  const invocations: InvocationRecord[] = [];
  let running = 0;
  const handlerErrors: string[] = [];

  const newEnvironment = (): { env: Environment; handler: ReturnType<typeof createFanOutHandler> } => {
    const env: Environment = {
      id: environments.length,
      cpuFreeAt: 0,
      cpuBusyMs: 0,
      deliveries: 0,
      deadline: 0,
      dead: false,
      warm: false,
    };
    environments.push(env);
    const service = serviceFor(env);
    const metrics: ChatMetrics = {
      count: (name: MetricName, value = 1) => {
        if (name === 'Deliveries') env.deliveries += value;
      },
      publish: () => undefined,
    };
    const deps: Dependencies = {
      service,
      chatMode: 'broadcast',
      authMode: 'none',
      allowedOrigins: [],
      limits: { maxFrameBytes: 16_384, maxTextBytes: 4096 },
      logger: silentLogger,
      metrics,
      rateLimiter: new InMemoryRateLimiter({ frames: 30, windowSeconds: 10 }, now),
      rateLimit: { frames: 30, windowSeconds: 10 },
      fanOutQueue: new SimulatedSqs(env),
    };
    return { env, handler: createFanOutHandler(() => deps) };
  };

  const invoke = async (
    slot: { env: Environment; handler: ReturnType<typeof createFanOutHandler> },
    batch: QueuedMessage[],
  ): Promise<void> => {
    const { env, handler } = slot;
    const startMs = clock.now;
    env.deadline = startMs + params.timeoutMs;
    env.cpuFreeAt = Math.max(env.cpuFreeAt, startMs);
    const event: SQSEvent = {
      Records: batch.map((message): SQSRecord => ({
        messageId: message.id,
        receiptHandle: `${message.id}#${message.receiveCount}`,
        body: message.body,
        attributes: {
          ApproximateReceiveCount: String(message.receiveCount),
          SentTimestamp: String(EPOCH),
          SenderId: 'AROAEXAMPLE:message',
          ApproximateFirstReceiveTimestamp: String(EPOCH),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:ws-chat-bench-fanout',
        awsRegion: 'us-east-1',
      })),
    };
    const context: Context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName: 'ws-chat-bench-fanout',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:ws-chat-bench-fanout',
      memoryLimitInMB: String(Math.round(params.vcpu * 1769)),
      awsRequestId: `req-${invocations.length}`,
      logGroupName: '/aws/lambda/ws-chat-bench-fanout',
      logStreamName: 'bench',
      // Virtual time: the handler stops starting records when less than its margin is left.
      getRemainingTimeInMillis: () => Math.max(0, env.deadline - clock.now),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
    const deliveriesBefore = env.deliveries;
    let failedIds = new Set<string>();
    const handled = handler(event, context).then(
      (response) => {
        failedIds = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
        return 'done' as const;
      },
      (error: unknown) => {
        // The handler reports failed records rather than throwing; only Middy's early timeout, which runs on
        // real timers, can reject it here, and the run is then not valid.
        handlerErrors.push(String(error));
        failedIds = new Set(batch.map((m) => m.id));
        return 'done' as const;
      },
    );
    const limit = clock.sleepUntil(env.deadline + 1).then(() => 'timeout' as const);
    const outcome = await Promise.race([handled, limit]);
    const durationMs = clock.now - startMs;
    if (outcome === 'timeout') {
      // Lambda ends the invocation: the batch fails whole and every record comes back after its visibility timeout.
      env.dead = true;
      failedIds = new Set(batch.map((m) => m.id));
    }
    for (const message of batch) {
      if (failedIds.has(message.id)) {
        message.visibleAt = message.receivedAt + params.visibilityTimeoutMs;
        makeVisible(message);
      } else {
        message.deleted = true;
      }
    }
    invocations.push({
      env: env.id,
      startMs,
      durationMs,
      records: batch.length,
      jobsRun: batch.length - failedIds.size,
      handedBack: outcome === 'timeout' ? 0 : failedIds.size,
      deliveries: env.deliveries - deliveriesBefore,
      timedOut: outcome === 'timeout',
    });
    running -= 1;
    if (!env.dead) idle.push(slot);
    source.dispatch();
  };

  source.dispatch = (): void => {
    for (;;) {
      if (running >= params.maxConcurrency) return;
      const visible = queue.filter((m) => !m.deleted && m.visibleAt <= clock.now);
      if (visible.length === 0) return;
      // A poller's ReceiveMessage takes up to batchSize of what is visible; they are invisible from then on.
      const batch = visible.sort((a, b) => a.visibleAt - b.visibleAt).slice(0, params.batchSize);
      for (const message of batch) {
        message.receiveCount += 1;
        maxReceiveCount = Math.max(maxReceiveCount, message.receiveCount);
        message.receivedAt = clock.now;
        message.visibleAt = Number.POSITIVE_INFINITY;
      }
      running += 1;
      const slot = idle.pop() ?? newEnvironment();
      const startAt = clock.now + params.invokeMs + (slot.env.warm ? 0 : params.coldStartMs);
      slot.env.warm = true;
      clock.at(startAt, () => void invoke(slot, batch));
      // Deleted messages are dropped from the scan now and then, so it stays short.
      if (queue.length > 1000) {
        const live = queue.filter((m) => !m.deleted);
        queue.length = 0;
        queue.push(...live);
      }
    }
  };

  // Which shard each member is in, for the per-shard completion times only.
  for (let i = 0; i < params.n; i += 1) shardOfIndex[i] = shardOf(idOf(i), params.shards);

  // ---- the message function: the sender posts; post() stores it and queues the shard jobs ----
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  let postMs = 0;
  const sender = serviceFor(undefined);
  const posted = sender.post(idOf(0), 'hello everyone, this is the sharded fan-out benchmark').then((result) => {
    postMs = clock.now;
    return result;
  });
  await clock.run();
  const { report } = await posted;
  const simHeapMb = process.memoryUsage().heapUsed / 1024 / 1024;

  let delivered = 0;
  let missed = 0;
  let duplicates = 0;
  for (let i = 0; i < params.n; i += 1) {
    const count = sends[i] ?? 0;
    if (count === 0) missed += 1;
    else delivered += 1;
    if (count > 1) duplicates += 1;
  }
  const durations = invocations.map((i) => i.durationMs);
  const totalMs = lastDeliveryAt;
  const idealMs = (params.n / params.budgetPerSecond) * 1000;
  const cpuBusy = environments.reduce((sum, env) => sum + env.cpuBusyMs, 0);
  if (report.shards !== params.shards) throw new Error(`post queued ${report.shards} shard jobs, not ${params.shards}`);
  return {
    params,
    idealMs,
    totalMs,
    ratio: totalMs / idealMs,
    postMs,
    shardJobs,
    jobsRun: invocations.reduce((sum, i) => sum + i.jobsRun, 0),
    invocations: invocations.length,
    environments: environments.length,
    maxInvocationMs: Math.max(...durations),
    p50InvocationMs: quantile(durations, 0.5),
    timedOut: invocations.filter((i) => i.timedOut).length,
    handedBack: invocations.reduce((sum, i) => sum + i.handedBack, 0),
    maxRecordsPerInvocation: Math.max(...invocations.map((i) => i.records)),
    meanRecordsPerInvocation: invocations.reduce((sum, i) => sum + i.records, 0) / invocations.length,
    maxReceiveCount,
    delivered,
    missed,
    duplicates,
    extraSends,
    metricDeliveries: environments.reduce((sum, env) => sum + env.deliveries, 0),
    meanConcurrency: invocations.reduce((sum, i) => sum + i.durationMs, 0) / Math.max(1, totalMs),
    shardEndMs: shardEnd,
    ratePer10s: Array.from(per10s, (count) => (count ?? 0) / 10),
    tokenWaitMeanMs: budget.waitedMs / Math.max(1, delivered + extraSends),
    cpuBusyShare: cpuBusy / Math.max(1, totalMs * params.maxConcurrency),
    simHeapMb,
    realMs: performance.now() - realStart,
    handlerErrors,
    invocationList: invocations,
  };
}

const raw = process.argv[2];
if (raw === undefined) throw new Error('usage: node --expose-gc bench/sharded-fanout-worker.ts <params json>');
const result = await simulate(JSON.parse(raw) as ShardedFanoutParams);
process.stdout.write(`${JSON.stringify(result)}\n`);
