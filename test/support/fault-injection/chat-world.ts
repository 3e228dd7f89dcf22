import { ChatService } from '../../../src/domain/chat-service.ts';
import { createConnectHandler } from '../../../src/handlers/functions/connect.ts';
import { createDisconnectHandler } from '../../../src/handlers/functions/disconnect.ts';
import { createFanOutHandler } from '../../../src/handlers/functions/fanout.ts';
import { createMessageHandler } from '../../../src/handlers/functions/message.ts';
import type { Dependencies } from '../../../src/handlers/wiring/dependencies.ts';
import { RecordingLogger } from '../../fakes/recording-logger.ts';
import { RecordingMetrics } from '../../fakes/recording-metrics.ts';
import { statusOf } from '../handler-harness.ts';
import { connectEvent, disconnectEvent, frameEvent, lambdaContext } from '../lambda-events.ts';
import { sqsEvent } from '../sqs-events.ts';
import { FaultDice, type InvocationKind } from './fault-dice.ts';
import { withFaults } from './fault-proxy.ts';
import { SimNetwork, type Socket } from './sim-network.ts';
import { type QueuedMessage, SimQueue } from './sim-queue.ts';
import type { FaultSwitches } from './fault-kinds.ts';
import { inMemoryStorage, type Storage, type StorageFactory } from './storage.ts';
import type { WorldConfig } from './workload.ts';

/** Where the simulated clock starts. */
const START = Date.parse('2030-01-01T00:00:00.000Z');

/** A message a page sent with a clientMsgId: its room and step when first sent, and how often it was sent. */
export interface SentPost {
  readonly clientMsgId: string;
  readonly sender: Socket;
  readonly room: string;
  readonly firstStep: number;
  attempts: number;
}

/** The handlers' rate limit: far above what a workload sends, so that only faults refuse a frame. */
const RATE_LIMIT = { frames: 1_000_000, windowSeconds: 10 };

/**
 * The chat's real handlers and service over a run's storage (in-memory adapters behind the fault proxy, or
 * DynamoDB's behind its HTTP fault proxy), on one simulated clock; the sockets and pages of a simulated network;
 * and the fan-out queue with the worker that runs its jobs.
 */
export class ChatWorld {
  readonly config: WorldConfig;
  readonly dice: FaultDice;
  readonly network: SimNetwork;
  readonly queue: SimQueue;
  /** The storage as the harness and the invariants read it, without faults. */
  readonly connections: Storage['inspect']['connections'];
  readonly history: Storage['inspect']['history'];
  readonly presence: Storage['inspect']['presence'];
  readonly quota: Storage['inspect']['quota'];
  readonly logger = new RecordingLogger();
  readonly posts = new Map<string, SentPost>();
  /** The frame each socket last failed to have handled, to send again. */
  readonly unfinished = new Map<Socket, Record<string, unknown>>();
  step = 0;
  readonly #clock: { ms: number };
  readonly #storage: Storage;
  #invocations = 0;
  readonly #handlers: {
    connect: ReturnType<typeof createConnectHandler>;
    disconnect: ReturnType<typeof createDisconnectHandler>;
    message: ReturnType<typeof createMessageHandler>;
    fanOut: ReturnType<typeof createFanOutHandler>;
  };

  /** A world for this seed on the storage the factory builds (in-memory by default); `dispose` of it when done. */
  static async create(
    seed: number,
    config: WorldConfig,
    switches: FaultSwitches,
    storage: StorageFactory = inMemoryStorage,
  ): Promise<ChatWorld> {
    const clock = { ms: START };
    const now = (): Date => new Date(clock.ms);
    const dice = new FaultDice(seed, switches);
    const built = await storage({ seed, config, switches, now, dice, rateLimit: RATE_LIMIT });
    return new ChatWorld(config, dice, clock, built);
  }

  private constructor(config: WorldConfig, dice: FaultDice, clock: { ms: number }, storage: Storage) {
    this.config = config;
    this.dice = dice;
    this.#clock = clock;
    this.#storage = storage;
    this.connections = storage.inspect.connections;
    this.history = storage.inspect.history;
    this.presence = storage.inspect.presence;
    this.quota = storage.inspect.quota;
    const now = (): Date => new Date(clock.ms);
    this.network = new SimNetwork(dice);
    this.queue = new SimQueue(now);
    const faulty = <T extends object>(port: string, target: T): T => withFaults(port, target, dice);
    // Storage whose faults come from below its adapters is not wrapped again.
    const stored = <T extends object>(port: string, target: T): T =>
      storage.portFaults ? faulty(port, target) : target;
    const { ports } = storage;
    let ids = 0;
    const fanOutQueue = storage.fanOutQueue?.(this.queue) ?? faulty('queue', this.queue);
    const service = new ChatService({
      connections: stored('connections', ports.connections),
      history: stored('history', ports.history),
      messenger: this.network,
      concurrency: 2,
      quota: stored('quota', ports.quota),
      presence: stored('presence', ports.presence),
      fanOutQueue,
      presenceWindowMs: config.presenceWindowMs,
      bigRoomSize: config.bigRoomSize,
      fanOutShardSize: config.fanOutShardSize,
      shardProgress: stored('shardProgress', ports.shardProgress),
      now,
      newId: () => `id-${++ids}`,
    });
    const deps: Dependencies = {
      service,
      chatMode: 'broadcast',
      authMode: 'none',
      allowedOrigins: [],
      limits: { maxFrameBytes: 4096, maxTextBytes: 1024 },
      logger: this.logger,
      metrics: new RecordingMetrics(),
      rateLimiter: stored('rateLimiter', ports.rateLimiter),
      rateLimit: RATE_LIMIT,
      fanOutQueue,
    };
    this.#handlers = {
      connect: createConnectHandler(() => deps),
      disconnect: createDisconnectHandler(() => deps),
      message: createMessageHandler(() => deps),
      fanOut: createFanOutHandler(() => deps),
    };
  }

  /** What went wrong below the ports that the chat would not show, as the storage found it. */
  problems(): readonly string[] {
    return this.#storage.problems?.() ?? [];
  }

  /** Frees the storage's table, proxy and client, if it has any. */
  dispose(): Promise<void> {
    return this.#storage.close();
  }

  get now(): number {
    return this.#clock.ms;
  }

  advance(ms: number): void {
    this.#clock.ms += ms;
  }

  /** Runs $connect for a new socket; true when the handshake was accepted. */
  async connect(connectionId: string, owners: { userId?: string; sourceIp: string }, room?: string): Promise<Socket> {
    const socket = this.network.open(connectionId, owners, this.step);
    const event = connectEvent(connectionId, {
      sourceIp: owners.sourceIp,
      ...(room !== undefined ? { query: { room } } : {}),
      ...(owners.userId !== undefined ? { authorizer: { userId: owners.userId, name: owners.userId } } : {}),
    });
    const status = await this.#invoke('connect', `connect ${connectionId}`, () =>
      this.#handlers.connect(event, lambdaContext('connect')),
    );
    socket.state = status === 200 ? 'open' : 'closed';
    if (status !== 200) socket.closedHow = 'refused';
    return socket;
  }

  /** The socket closes: API Gateway runs $disconnect, unless that invocation is lost. */
  async close(socket: Socket, disconnectRuns: boolean): Promise<void> {
    if (socket.state === 'closed') return;
    socket.state = 'closed';
    this.unfinished.delete(socket);
    if (!disconnectRuns) {
      socket.closedHow = 'disconnect lost';
      return;
    }
    const base = disconnectEvent(socket.connectionId, { sourceIp: socket.sourceIp });
    const event =
      socket.userId === undefined
        ? base
        : { ...base, requestContext: { ...base.requestContext, authorizer: { userId: socket.userId } } };
    const status = await this.#invoke('disconnect', `disconnect ${socket.connectionId}`, () =>
      this.#handlers.disconnect(event, lambdaContext('disconnect')),
    );
    socket.closedHow = status === 200 ? (socket.helloDone ? 'disconnected' : 'abandoned') : 'disconnect failed';
  }

  /**
   * Sends a frame from a socket and, as the page does, the roster request a welcome of a new room or connection
   * makes. Returns whether the frame was handled (the client saw no error).
   */
  async send(socket: Socket, frame: Record<string, unknown>): Promise<boolean> {
    if (socket.state !== 'open') return false;
    const what = frame['action'] === 'sendmessage' ? `post ${String(frame['clientMsgId'])}` : String(frame['action']);
    const status = await this.#invoke('message', what, () =>
      this.#handlers.message(frameEvent(socket.connectionId, frame), lambdaContext('message')),
    );
    if (status === 200 && (frame['action'] === 'hello' || frame['action'] === 'join')) socket.helloDone = true;
    if (socket.page.wantsRoster && socket.state === 'open') {
      socket.page.wantsRoster = false;
      await this.#invoke('message', 'who', () =>
        this.#handlers.message(frameEvent(socket.connectionId, { action: 'who' }), lambdaContext('message')),
      );
    }
    return status === 200;
  }

  /**
   * Sends a frame until it is handled, at most `attempts` times, as a client that got an error resends the same
   * frame; one still unhandled is remembered, to be sent again once the system settles.
   */
  async sendWithRetries(socket: Socket, frame: Record<string, unknown>, attempts = 3): Promise<boolean> {
    for (let attempt = 0; attempt < attempts; attempt += 1) {
      const post = typeof frame['clientMsgId'] === 'string' ? this.posts.get(frame['clientMsgId']) : undefined;
      if (post !== undefined) post.attempts += 1;
      if (await this.send(socket, frame)) {
        if (this.unfinished.get(socket) === frame) this.unfinished.delete(socket);
        // A page that moved to another room does not send a message written for the room it left (its outbox
        // forgets what it was unsure of when it changes room).
        const moved = frame['action'] === 'join' || frame['action'] === 'leave';
        if (moved && this.unfinished.get(socket)?.['action'] === 'sendmessage') this.unfinished.delete(socket);
        return true;
      }
      if (socket.state !== 'open') return false;
    }
    this.unfinished.set(socket, frame);
    return false;
  }

  /** Runs one queued job in the fan-out worker; true when it succeeded, else the queue delivers it again. */
  async runJob(message: QueuedMessage): Promise<boolean> {
    message.receives += 1;
    const job = JSON.parse(message.body) as { kind: string; fanOutId?: string };
    const what = job.kind === 'shard' ? `shard ${String(job.fanOutId)}` : 'presence';
    let failed = true;
    await this.#invoke('worker', what, async () => {
      const result = await this.#handlers.fanOut(sqsEvent([message.body], message.receives), lambdaContext('fanout'));
      failed = result.batchItemFailures.length > 0;
      return { statusCode: failed ? 500 : 200 };
    });
    return !failed;
  }

  async #invoke(kind: InvocationKind, what: string, run: () => Promise<unknown>): Promise<number | undefined> {
    this.#invocations += 1;
    this.network.invocation = this.#invocations;
    this.network.what = what;
    this.dice.startInvocation(kind, what);
    const result = await run();
    return typeof result === 'object' ? statusOf(result as Parameters<typeof statusOf>[0]) : undefined;
  }
}
