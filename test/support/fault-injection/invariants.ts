import { CONNECTION_LIFETIME_MS } from '../../../src/domain/chat-service.ts';
import { HISTORY_LENGTH } from '../../../src/domain/message-history.ts';
import type { ChatMessage } from '../../../src/domain/frames.ts';
import type { SettledRun } from './run-workload.ts';
import type { Socket } from './sim-network.ts';
import { ROOMS } from './workload.ts';

/** One broken invariant: its number (as {@link checkInvariants} lists them; 0: the run itself failed, or an adapter below the ports broke its promise) and what was found. */
export interface Violation {
  readonly invariant: 0 | 1 | 2 | 3 | 4;
  readonly message: string;
}

const sorted = (ids: Iterable<string>): string => [...ids].sort().join(', ') || '(none)';

/**
 * The invariants after settling:
 * 1. each open page's roster (welcome, `who` pages, presence frames applied by `rev` as the page applies them)
 *    is its room's membership (the open sockets whose connection is in that room), for rooms up to the big-room
 *    size; `who` lists it at every size; the last member count the page received, and `who`'s, is its size;
 * 2. each acknowledged message reached every page that stayed open in its room from before it was sent to the
 *    end (live, or by the replay of a later hello or join, while the room keeps it), and reached any page at
 *    most once per invocation that sends it: a post of that clientMsgId, a run of one of its shard jobs, a welcome;
 * 3. each owner's quota slots are held by its open sockets, no more;
 * 4. no room has a pending presence change left.
 */
export async function checkInvariants(run: SettledRun): Promise<Violation[]> {
  const members = await membership(run);
  return [
    ...(await rosters(run, members)),
    ...(await messages(run, members)),
    ...(await quotaSlots(run)),
    ...(await pendingPresence(run)),
  ];
}

/** The connections of each room whose sockets are open, by the table's own record of their room. */
async function membership({ world }: SettledRun): Promise<Map<string, Set<string>>> {
  const rooms = new Map<string, Set<string>>(ROOMS.map((room) => [room, new Set<string>()]));
  for (const socket of world.network.openSockets()) {
    const row = await world.connections.get(socket.connectionId);
    if (row !== undefined) rooms.set(row.room, (rooms.get(row.room) ?? new Set<string>()).add(row.id));
  }
  return rooms;
}

async function rosters(run: SettledRun, rooms: Map<string, Set<string>>): Promise<Violation[]> {
  const { world, lastWho } = run;
  const found: Violation[] = [];
  const fail = (message: string): number => found.push({ invariant: 1, message });
  for (const socket of world.network.openSockets()) {
    const id = socket.connectionId;
    const row = await world.connections.get(id);
    if (row === undefined) {
      fail(`open socket ${id} has no connection in the table`);
      continue;
    }
    const real = rooms.get(row.room) ?? new Set<string>();
    const { page } = socket;
    if (page.room !== row.room) fail(`${id}'s page shows room ${String(page.room)}, its connection is in ${row.room}`);
    else if (real.size <= world.config.bigRoomSize && sorted(page.members.keys()) !== sorted(real)) {
      fail(`${id}'s roster of ${row.room} is [${sorted(page.members.keys())}], its members are [${sorted(real)}]`);
    }
    if (page.memberCount !== real.size) {
      fail(`${id} was last told ${row.room} has ${String(page.memberCount)} members; it has ${real.size}`);
    }
    const listed = lastWho.get(socket);
    if (listed === undefined) fail(`${id}'s who got no roster without faults`);
    else {
      if (sorted(listed.ids) !== sorted(real))
        fail(`who lists ${row.room} as [${sorted(listed.ids)}] for ${id}, not [${sorted(real)}]`);
      if (listed.count !== real.size) fail(`who counts ${row.room} as ${listed.count} for ${id}; it has ${real.size}`);
    }
  }
  return found;
}

async function messages(run: SettledRun, rooms: Map<string, Set<string>>): Promise<Violation[]> {
  const { world } = run;
  const found: Violation[] = [];
  const kept = new Map<string, number>();
  for (const room of ROOMS) kept.set(room, Math.max(0, ...(await world.history.recent(room)).map((m) => m.seq)));
  const byId = new Map<string, ChatMessage>();
  for (const { frame } of world.network.deliveries) if (frame.type === 'message') byId.set(frame.id, frame);
  const openById = new Map(
    world.network.openSockets().map((socket): [string, Socket] => [socket.connectionId, socket]),
  );
  for (const post of world.posts.values()) {
    const messageId = post.sender.page.acks.get(post.clientMsgId);
    if (messageId === undefined) continue;
    const message = byId.get(messageId);
    const latest = kept.get(post.room) ?? 0;
    if (message !== undefined && message.seq <= latest - HISTORY_LENGTH) continue;
    for (const memberId of rooms.get(post.room) ?? []) {
      const member = openById.get(memberId);
      if (member === undefined || member.lastMoveStep >= post.firstStep) continue;
      if (!member.page.arrivals.has(messageId)) {
        found.push({
          invariant: 2,
          message: `acknowledged ${post.clientMsgId} (${messageId}) from ${post.sender.connectionId} never reached ${memberId}, in ${post.room} since before it was sent`,
        });
      }
    }
  }
  const perInvocation = new Map<string, number>();
  const clientMsgIdOf = new Map<string, string>();
  for (const post of world.posts.values()) {
    const id = post.sender.page.acks.get(post.clientMsgId);
    if (id !== undefined) clientMsgIdOf.set(id, post.clientMsgId);
  }
  for (const { connectionId, frame, invocation, what } of world.network.deliveries) {
    if (frame.type !== 'message') continue;
    const key = `${invocation}|${connectionId}|${frame.id}`;
    perInvocation.set(key, (perInvocation.get(key) ?? 0) + 1);
    const sending = what.startsWith('post ') ? world.posts.get(what.slice('post '.length)) : undefined;
    const known = clientMsgIdOf.get(frame.id);
    const entitled =
      what === `shard ${frame.id}` ||
      what === 'hello' ||
      what === 'join' ||
      what === 'leave' ||
      (sending?.sender.connectionId === frame.from && (known === undefined || known === sending.clientMsgId));
    if (!entitled) {
      found.push({
        invariant: 2,
        message: `${frame.id} reached ${connectionId} from an invocation that does not send it: ${what}`,
      });
    }
  }
  for (const [key, count] of perInvocation) {
    if (count > 1) {
      const [invocation, connectionId, id] = key.split('|');
      found.push({
        invariant: 2,
        message: `${String(id)} reached ${String(connectionId)} ${count} times in invocation ${String(invocation)}`,
      });
    }
  }
  return found;
}

/** Counts each owner's held slots by claiming the free ones with probes (then giving them back). */
async function quotaSlots({ world }: SettledRun): Promise<Violation[]> {
  const found: Violation[] = [];
  const owners = new Map<string, { owner: { userId?: string; sourceIp?: string }; cap: number; sockets: Socket[] }>();
  for (const socket of world.network.sockets.values()) {
    const keys: Array<[string, { userId?: string; sourceIp?: string }, number]> = [
      [`ip ${socket.sourceIp}`, { sourceIp: socket.sourceIp }, world.config.perIp],
      ...(socket.userId !== undefined
        ? [
            [`user ${socket.userId}`, { userId: socket.userId }, world.config.perUser] as [
              string,
              { userId: string },
              number,
            ],
          ]
        : []),
    ];
    for (const [key, owner, cap] of keys) {
      const entry = owners.get(key) ?? { owner, cap, sockets: [] };
      entry.sockets.push(socket);
      owners.set(key, entry);
    }
  }
  // Probes claim as a $connect at this instant would: slots of connections no longer live are taken back.
  const expiresAt = new Date(world.now + CONNECTION_LIFETIME_MS);
  for (const [key, { owner, cap, sockets }] of owners) {
    let free = 0;
    while (free < cap && (await world.quota.claim(`probe-${free}`, owner, expiresAt)) === 'claimed') free += 1;
    for (let i = 0; i < free; i += 1) await world.quota.release(`probe-${i}`, owner);
    const open = sockets.filter((socket) => socket.state === 'open');
    if (cap - free !== open.length) {
      const closed = sockets
        .filter((socket) => socket.state === 'closed')
        .map((s) => `${s.connectionId} (${String(s.closedHow)})`);
      found.push({
        invariant: 3,
        message: `${key} holds ${cap - free} slots for ${open.length} open sockets [${sorted(open.map((s) => s.connectionId))}]; closed: ${closed.join(', ') || '(none)'}`,
      });
    }
  }
  return found;
}

async function pendingPresence({ world }: SettledRun): Promise<Violation[]> {
  const found: Violation[] = [];
  for (const room of ROOMS) {
    const pending = await world.presence.pending(room, Number.MAX_SAFE_INTEGER);
    if (pending.length > 0) {
      const clock = await world.presence.clock(room);
      const changes = pending
        .map(({ change }) => `${change.event} ${change.connectionId} rev ${change.rev}`)
        .join(', ');
      found.push({
        invariant: 4,
        message: `${room} still has ${pending.length} pending presence changes after settling (${changes}); scheduled flush: ${clock.scheduled === undefined ? 'none' : `due ${clock.scheduled.due.toISOString()}`}`,
      });
    }
  }
  return found;
}
