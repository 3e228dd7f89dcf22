import type { RosterFrame } from '../../../src/domain/frames.ts';
import { LOST_FLUSH_MS, UNREQUESTED_FLUSH_MS } from '../../../src/domain/presence-flush.ts';
import { seededShuffle } from '../seeded-random.ts';
import { ChatWorld } from './chat-world.ts';
import { streamOf } from './fault-dice.ts';
import type { FaultSwitches } from './fault-kinds.ts';
import type { Socket } from './sim-network.ts';
import type { StorageFactory } from './storage.ts';
import { VISIBILITY_TIMEOUT_MS } from './sim-queue.ts';
import { ROOMS, type Op, type Workload } from './workload.ts';

/** A settled run: the world, and what each open socket's last `who` listed and counted. */
export interface SettledRun {
  readonly world: ChatWorld;
  readonly lastWho: ReadonlyMap<Socket, { readonly ids: readonly string[]; readonly count: number }>;
}

/** The most steps a drain takes before it reports the queue as never emptying. */
const MAX_DRAIN_ROUNDS = 2_000;

/**
 * Runs the workload's steps with faults, then settles the system without them, on the storage the factory
 * builds (in-memory by default). The caller disposes of the run's world once it has checked it.
 */
export async function runWorkload(
  workload: Workload,
  switches: FaultSwitches,
  storage?: StorageFactory,
): Promise<SettledRun> {
  const world = await ChatWorld.create(workload.seed, workload.config, switches, storage);
  try {
    return await runSteps(world, workload, switches);
  } catch (error) {
    await world.dispose();
    throw error;
  }
}

async function runSteps(world: ChatWorld, workload: Workload, switches: FaultSwitches): Promise<SettledRun> {
  const pages = new Map<number, Socket>();
  let connections = 0;
  for (const op of workload.ops) {
    world.step = op.id;
    world.dice.startStep(op.id);
    const random = streamOf(workload.seed, op.id, 1);
    await runOp(world, op, pages, random, switches, () => `c${op.id}-${++connections}`);
  }
  world.dice.stop();
  return settle(world);
}

async function runOp(
  world: ChatWorld,
  op: Op,
  pages: Map<number, Socket>,
  random: () => number,
  switches: FaultSwitches,
  newConnectionId: () => string,
): Promise<void> {
  if (op.kind === 'tick') {
    world.advance(op.ms);
    return;
  }
  if (op.kind === 'worker') {
    await runWorker(world, op.jobs, random, switches);
    return;
  }
  if (op.kind === 'connect') {
    if (pages.get(op.page)?.state === 'open') return;
    const owners = { ...(op.userId !== undefined ? { userId: op.userId } : {}), sourceIp: op.sourceIp };
    // A refused handshake (not a cap) is tried again, with a new connection id, now and then.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const socket = await world.connect(newConnectionId(), owners, op.room);
      pages.set(op.page, socket);
      if (socket.state === 'open' || random() < 0.3) return;
    }
    return;
  }
  const socket = pages.get(op.page);
  if (socket === undefined || socket.state !== 'open') return;
  const watermark = socket.page.progress.watermark;
  const afterSeq = watermark === undefined ? {} : { afterSeq: watermark };
  switch (op.kind) {
    case 'hello':
      await world.sendWithRetries(socket, { action: 'hello', ...afterSeq });
      return;
    case 'join':
      socket.lastMoveStep = world.step;
      await world.sendWithRetries(socket, {
        action: 'join',
        room: op.room,
        ...(op.room === socket.page.room ? afterSeq : {}),
      });
      return;
    case 'leave':
      socket.lastMoveStep = world.step;
      await world.sendWithRetries(socket, { action: 'leave' });
      return;
    case 'rename':
      await world.sendWithRetries(socket, { action: 'setname', name: op.name });
      return;
    case 'post':
      await post(world, socket, `m${op.id}`);
      return;
    case 'who':
      await who(world, socket);
      return;
    case 'close':
      await world.close(socket, op.how === 'disconnect');
      return;
  }
}

async function post(world: ChatWorld, socket: Socket, clientMsgId: string): Promise<void> {
  const row = await world.connections.get(socket.connectionId);
  if (row === undefined) return;
  world.posts.set(clientMsgId, { clientMsgId, sender: socket, room: row.room, firstStep: world.step, attempts: 0 });
  await world.sendWithRetries(socket, { action: 'sendmessage', text: `text of ${clientMsgId}`, clientMsgId });
}

/** Asks for the roster and follows its `next` cursors, as a page whose user asks for more does. */
async function who(world: ChatWorld, socket: Socket): Promise<{ ids: string[]; count: number } | undefined> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let pageNo = 0; pageNo < 100; pageNo += 1) {
    socket.page.requestRoster(cursor);
    socket.page.wantsRoster = false;
    const before = world.network.deliveries.length;
    const ok = await world.send(socket, cursor === undefined ? { action: 'who' } : { action: 'who', cursor });
    if (!ok) return undefined;
    const roster = world.network.deliveries
      .slice(before)
      .map(({ connectionId, frame }) => (connectionId === socket.connectionId ? frame : undefined))
      .find((frame): frame is RosterFrame => frame?.type === 'roster');
    if (roster === undefined) return undefined;
    ids.push(...roster.members.map((member) => member.connectionId));
    cursor = roster.next;
    if (cursor === undefined) return { ids, count: roster.count };
  }
  return undefined;
}

/**
 * The fan-out worker's turn: takes the due jobs (in any order, with `reordered-jobs`), runs up to `limit` of
 * them, and puts the rest back. A job may come late; a failed one comes back after the visibility timeout; one
 * that ran may be delivered again.
 */
async function runWorker(
  world: ChatWorld,
  limit: number,
  random: () => number,
  switches: FaultSwitches,
): Promise<void> {
  const due = world.queue.takeDue();
  const ordered = switches.has('reordered-jobs') ? seededShuffle(due, Math.floor(random() * 2 ** 31)) : due;
  let ran = 0;
  for (const message of ordered) {
    if (ran >= limit) {
      world.queue.putBack(message, message.dueAt);
      continue;
    }
    if (switches.has('late-jobs') && random() < 0.15) {
      world.queue.putBack(message, world.now + 1000 + Math.floor(random() * 20_000));
      continue;
    }
    ran += 1;
    if (!(await world.runJob(message))) world.queue.putBack(message, world.now + VISIBILITY_TIMEOUT_MS);
    else if (switches.has('repeated-jobs') && random() < 0.1) {
      world.queue.putBack(message, world.now + Math.floor(random() * 30_000));
    }
  }
}

/** Runs every job, advancing the clock to each one's due time, until the queue is empty. */
async function drain(world: ChatWorld): Promise<void> {
  for (let round = 0; round < MAX_DRAIN_ROUNDS; round += 1) {
    for (const message of world.queue.takeDue()) {
      if (!(await world.runJob(message))) world.queue.putBack(message, world.now + VISIBILITY_TIMEOUT_MS);
    }
    const next = world.queue.nextDueAt();
    if (next === undefined) return;
    world.advance(Math.max(1, next - world.now));
  }
  throw new Error(`the fan-out queue still holds ${world.queue.size} jobs after ${MAX_DRAIN_ROUNDS} rounds`);
}

/**
 * Settles without faults: frames that failed are sent again, handshakes completed, every job run past every
 * window and LOST_FLUSH_MS; an empty room gets a late visitor; one member of each room posts (the sweep that
 * finds closed sockets gone); pages with a gap ask for it; every member asks `who`; the queue is drained.
 */
async function settle(world: ChatWorld): Promise<SettledRun> {
  world.step = Number.MAX_SAFE_INTEGER - 1;
  const open = (): Socket[] => world.network.openSockets();
  for (const [socket, frame] of [...world.unfinished]) await world.sendWithRetries(socket, frame, 1);
  for (const socket of open()) if (!socket.helloDone) await world.sendWithRetries(socket, { action: 'hello' }, 1);
  // Past the point where a flush due up to a window from now counts as lost, and an unrequested change as such.
  world.advance(LOST_FLUSH_MS + UNREQUESTED_FLUSH_MS + 5000);
  await drain(world);
  let visitors = 0;
  for (const room of ROOMS) {
    if (open().some((socket) => socket.page.room === room)) continue;
    visitors += 1;
    const socket = await world.connect(`visitor-${visitors}`, { sourceIp: `203.0.113.${visitors}` }, room);
    await world.sendWithRetries(socket, { action: 'hello' }, 1);
  }
  await drain(world);
  world.step = Number.MAX_SAFE_INTEGER;
  for (const room of ROOMS) {
    const sweeper = open().find((socket) => socket.page.room === room);
    if (sweeper !== undefined) await post(world, sweeper, `sweep-${room}`);
  }
  await drain(world);
  for (const socket of open()) {
    const gap = socket.page.progress.gapAfter;
    if (gap !== undefined) await world.sendWithRetries(socket, { action: 'hello', afterSeq: gap }, 1);
  }
  await drain(world);
  const lastWho = new Map<Socket, { ids: string[]; count: number }>();
  for (const socket of open()) {
    const listed = await who(world, socket);
    if (listed !== undefined) lastWho.set(socket, listed);
  }
  await drain(world);
  return { world, lastWho };
}
