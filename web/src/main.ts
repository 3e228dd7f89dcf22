import { ChatConnection, type ConnectionState, type IncomingFrame } from './chat-connection.ts';
import { describeErrorFrame } from './error-text.ts';
import { nameProblem, readPageParams, validName, validRoom, validServerUrl, validToken } from './page-params.ts';
import { Revisions } from './revisions.ts';
import { RoomProgress } from './room-progress.ts';
import { SendLimiter } from './send-limiter.ts';
import { ackText } from './ack-text.ts';
import { Outbox, randomClientId } from './outbox.ts';
import { type NamedMember, type PageChange, type PresenceLine, presenceLines } from './presence-lines.ts';
import { userTag } from './user-tag.ts';
import { isPublished } from '../../src/domain/message-history.ts';

interface ShownMessage {
  readonly id: string;
  readonly seq: number;
  readonly from: string;
  readonly name: string;
  readonly userId: string | undefined;
  readonly text: string;
  readonly sentAt: string;
}

/** A member of the room as the roster shows it. */
interface ShownMember {
  readonly name: string;
  readonly userId: string | undefined;
}

/** A membership change as a presence frame tells it, with its revision and when it happened (ms since epoch). */
type LoggedChange = PageChange & { rev: number | undefined; at: number | undefined };

/** Changes of a presence frame or batch to tell, with the changes the batch counted but did not list. */
interface News {
  readonly changes: readonly LoggedChange[];
  readonly unlisted: { readonly joined: number; readonly left: number; readonly renamed: number };
}

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the page has no #${id}`);
  return found;
}

const statusView = element('status', HTMLElement);
const list = element('messages', HTMLOListElement);
const roster = element('roster', HTMLUListElement);
const rosterTitle = element('roster-title', HTMLElement);
const rosterMore = element('roster-more', HTMLButtonElement);
const roomTitle = element('room-title', HTMLElement);
const composer = element('composer', HTMLFormElement);
const input = element('message', HTMLInputElement);
const roomForm = element('room-form', HTMLFormElement);
const roomInput = element('room', HTMLInputElement);
const nameForm = element('name-form', HTMLFormElement);
const nameInput = element('name', HTMLInputElement);
const serverForm = element('server-form', HTMLFormElement);
const serverInput = element('server-url', HTMLInputElement);
const serverNotice = element('server-notice', HTMLElement);
const serverNoticeText = element('server-notice-text', HTMLElement);
const serverNoticeButton = element('server-notice-action', HTMLButtonElement);

const params = readPageParams(new URLSearchParams(location.search));
/** Where the page keeps a linked sign-in token for this tab, so that a reload stays signed in. */
const TOKEN_KEY = 'chat.token';
// A token left in the address would go with every link copied from it (and into the history): it leaves at once.
if (new URLSearchParams(location.search).has('token')) {
  const address = new URL(location.href);
  address.searchParams.delete('token');
  history.replaceState(history.state, '', address);
}
if (params.token !== undefined) sessionStorage.setItem(TOKEN_KEY, params.token);
/** Where the page keeps the name the person saved, for every tab and the next visit. */
const NAME_KEY = 'chat.name';
/** Where the page keeps this tab's connection ids, so that a reload still knows the messages it sent as its own. */
const CONNECTIONS_KEY = 'chat.connections';
/** How many of the tab's connection ids it keeps: a day of reconnects every two hours, and many reloads. */
const KEPT_CONNECTIONS = 50;

function keptConnectionIds(): string[] {
  try {
    const kept: unknown = JSON.parse(sessionStorage.getItem(CONNECTIONS_KEY) ?? '[]');
    return Array.isArray(kept) ? kept.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}
/** A person sends a line a second at most, for a while; the server lets a connection send 30 frames in 10 s. */
const limiter = new SendLimiter(8, 1_000);
/** How long a missing message may stay missing, while later ones are shown, before the page asks for it. */
const GAP_WAIT_MS = 3_000;

/** The page's state: who we are, where, and what we have shown. */
const state = {
  /**
   * The only server the page's sign-in token is sent to: the one config.json names; without config.json, the
   * development default, or the server of a link once the person agreed to it.
   */
  homeServer: '',
  /** Whether config.json named the home server. */
  configured: false,
  serverUrl: '',
  /** A server a link asked for, not yet agreed to by the person. */
  offeredServer: undefined as string | undefined,
  /**
   * A sign-in token for chats that require one: from `?token=` (kept for the tab, out of the address), or the
   * development token config.json gives.
   */
  token: params.token ?? validToken(sessionStorage.getItem(TOKEN_KEY)),
  room: params.room ?? 'lobby',
  /** The name the page asks for when it connects: the server's name for it, or one the person just saved. */
  name: params.name ?? validName(localStorage.getItem(NAME_KEY)) ?? '',
  /** The name the server last said this page's member has: what a refused rename falls back to. */
  serverName: undefined as string | undefined,
  ownId: undefined as string | undefined,
  /** Every connection this tab has had, this one included: a message from any of them is the person's own. */
  ownIds: new Set(keptConnectionIds()),
  /** Messages of the current room by id: a replay or a redelivery shows nothing twice. */
  shown: new Map<string, ShownMessage>(),
  /** How much of the current room's history the page has, so a reconnect asks only for the rest. */
  progress: new RoomProgress(),
  gapTimer: undefined as ReturnType<typeof setTimeout> | undefined,
  /** Watermarks the page has already asked the server to fill a gap after: once per gap. */
  requestedGaps: new Set<number>(),
  /** The revision of the last welcome applied per connection, and of the last presence per member. */
  welcomeRevisions: new Revisions(),
  memberRevisions: new Revisions(),
  members: new Map<string, ShownMember>(),
  /** How many members the room has, as the server last said; a big room's roster lists only some. */
  memberCount: undefined as number | undefined,
  /** The cursor of the roster's next page, when the server has more to list. */
  rosterNext: undefined as string | undefined,
  /** Whether the roster frame awaited is a further page, added to the members shown, or the first. */
  rosterAppending: false,
  /** Members whose last applied presence in this room was a leave: a roster taken earlier may still list them. */
  /** Members this page saw leave, with the revision of their leave. */
  departed: new Map<string, number | undefined>(),
  /**
   * Presence news that came before this connection's welcome (a join is announced to the room at connect): told
   * once the welcome says which member is the page's own, whose join is not news.
   */
  unwelcomedNews: [] as News[],
  /** Acks that arrived before their message was shown. */
  acks: new Map<string, string>(),
  /** The messages awaiting their ack: a resend of one goes under its clientMsgId. */
  outbox: new Outbox(randomClientId()),
};
let connection: ChatConnection | undefined;

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** Every string from the network goes through textContent, never innerHTML: it is shown, never run. */
function textElement(tag: string, className: string, text: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

/**
 * A name in its own bidirectional isolate: whatever direction characters it holds stay inside it, so they
 * cannot reorder the words around it.
 */
function isolatedName(name: string): HTMLElement {
  const node = document.createElement('bdi');
  node.textContent = name;
  return node;
}

/**
 * The name, then marks no name can make, each an element of its own: the tag of a verified user (two signed-in
 * users of one name show different tags), and "(you)" on this page's own connection.
 */
function nameParts(connectionId: string, name: string, userId: string | undefined): Array<Node | string> {
  const parts: Array<Node | string> = [isolatedName(name)];
  if (userId !== undefined) {
    const tag = textElement('span', 'tag', userTag(userId));
    tag.title = "This user's tag, the same on every connection of theirs";
    parts.push(' ', tag);
  }
  if (isOwn(connectionId)) parts.push(' ', textElement('span', 'you', '(you)'));
  return parts;
}

/** Whether a connection is this tab's, now or before a reconnect or reload. */
function isOwn(connectionId: string): boolean {
  return connectionId === state.ownId || state.ownIds.has(connectionId);
}

/** Remembers a connection of this tab for the rest of the tab's life, reloads included. */
function rememberOwnConnection(connectionId: string): void {
  if (state.ownIds.has(connectionId)) return;
  state.ownIds.add(connectionId);
  const kept = [...state.ownIds].slice(-KEPT_CONNECTIONS);
  state.ownIds = new Set(kept);
  try {
    sessionStorage.setItem(CONNECTIONS_KEY, JSON.stringify(kept));
  } catch {
    // Storage may be full or refused: the page still knows its connections until it is reloaded.
  }
}

function scrollToEnd(): void {
  list.lastElementChild?.scrollIntoView({ block: 'end' });
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function asNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function renderMessage(message: ShownMessage): HTMLLIElement {
  const item = document.createElement('li');
  // A backend service's message is a notice across the log, not a member's bubble; its mark is one no name can make.
  const published = isPublished(message.from);
  item.className = published ? 'message published' : isOwn(message.from) ? 'message own' : 'message';
  item.dataset['id'] = message.id;
  item.dataset['seq'] = String(message.seq);
  item.dataset['from'] = message.from;
  const meta = document.createElement('div');
  meta.className = 'meta';
  const from = document.createElement('span');
  from.className = 'from';
  from.append(...nameParts(message.from, message.name, message.userId));
  if (published) {
    const mark = textElement('span', 'service', 'notice');
    mark.title = 'Published by a service of this chat, not by a member';
    from.append(' ', mark);
  }
  const sent = new Date(message.sentAt);
  const time = textElement('time', 'time', Number.isNaN(sent.getTime()) ? '' : timeFormat.format(sent));
  time.setAttribute('datetime', message.sentAt);
  meta.append(from, time);
  const text = textElement('p', 'text', message.text);
  // The text's own first strong character sets its direction, and nothing in it leaks out.
  text.dir = 'auto';
  item.append(meta, text);
  return item;
}

function markAcknowledged(messageId: string, status: string): void {
  const item = list.querySelector<HTMLLIElement>(`li.message[data-id="${CSS.escape(messageId)}"]`);
  if (item === null) {
    state.acks.set(messageId, status);
    return;
  }
  item.classList.add('acked');
  item.querySelector('.status')?.remove();
  item.append(textElement('div', 'status', status));
}

/** Inserts in the room's `seq` order, once per id. */
function showMessage(message: ShownMessage): void {
  if (state.shown.has(message.id)) return;
  state.shown.set(message.id, message);
  const item = renderMessage(message);
  const sentAt = Date.parse(message.sentAt);
  // Before later messages, and before a presence line of a later time: history sent before a join reads above it.
  const later = [...list.querySelectorAll<HTMLLIElement>('li.message, li.notice[data-at]')].find((other) =>
    other.classList.contains('message')
      ? Number(other.dataset['seq']) > message.seq
      : Number(other.dataset['at']) > sentAt,
  );
  list.insertBefore(item, later ?? null);
  const ack = state.acks.get(message.id);
  if (ack !== undefined) {
    state.acks.delete(message.id);
    markAcknowledged(message.id, ack);
  }
  scrollToEnd();
}

/** A line in the log between messages: the log region reads it out politely, like a message. */
function showNotice(parts: Array<Node | string>, kind: 'error' | 'info', at?: number): void {
  const item = document.createElement('li');
  item.className = `notice ${kind}`;
  if (at !== undefined) item.dataset['at'] = String(at);
  item.dir = 'auto';
  item.append(...parts);
  list.append(item);
  scrollToEnd();
}

function renderRoster(): void {
  const tagOf = ({ userId }: ShownMember): string => (userId === undefined ? '' : userTag(userId));
  const items = [...state.members.entries()]
    .sort(([, a], [, b]) => a.name.localeCompare(b.name) || tagOf(a).localeCompare(tagOf(b)))
    .map(([id, { name, userId }]) => {
      const item = document.createElement('li');
      if (id === state.ownId) item.className = 'own';
      item.dataset['id'] = id;
      item.append(...nameParts(id, name, userId));
      return item;
    });
  roster.replaceChildren(...items);
  rosterTitle.textContent =
    state.memberCount === undefined ? 'In this room' : `In this room (${state.memberCount.toLocaleString()})`;
  rosterMore.hidden = state.rosterNext === undefined;
}

/**
 * Takes the name the server says this page's member has, and shows it in the name field unless the person is
 * typing another there.
 */
function learnOwnName(name: string): void {
  const typing = document.activeElement === nameInput && nameInput.value.trim() !== state.name;
  state.name = name;
  state.serverName = name;
  if (!typing) nameInput.value = name;
}

/** The server refused a rename: the page and its field go back to the name the server knows. */
function renameRefused(): void {
  const name = state.serverName;
  if (name === undefined) return;
  if (localStorage.getItem(NAME_KEY) === state.name) localStorage.setItem(NAME_KEY, name);
  state.name = name;
  nameInput.value = name;
}

/** Forgets what the page showed of a room (its messages, members and progress): a new room starts clean. */
function clearRoomView(): void {
  clearTimeout(state.gapTimer);
  state.gapTimer = undefined;
  state.shown.clear();
  state.members.clear();
  state.departed.clear();
  state.unwelcomedNews = [];
  state.memberCount = undefined;
  state.rosterNext = undefined;
  state.progress = new RoomProgress();
  state.requestedGaps.clear();
  list.replaceChildren();
  renderRoster();
}

function enterRoom(room: string): void {
  state.room = room;
  state.outbox.changedRoom();
  clearRoomView();
  roomTitle.textContent = room;
  roomInput.value = room;
  const next = new URL(location.href);
  next.searchParams.set('room', room);
  history.replaceState(null, '', next);
}

/** The handshake frame: asks for the history after the watermark, or all that is kept when there is none. */
function helloFrame(): object {
  const afterSeq = state.progress.watermark;
  return afterSeq === undefined ? { action: 'hello' } : { action: 'hello', afterSeq };
}

/**
 * When messages above the watermark are shown but the one right after it is missing for a while (lost, or
 * stored after the replay was read), asks the server once to replay what follows the watermark.
 */
function watchForGap(): void {
  const gap = state.progress.gapAfter;
  if (gap === undefined || state.gapTimer !== undefined || state.requestedGaps.has(gap)) return;
  state.gapTimer = setTimeout(() => {
    state.gapTimer = undefined;
    if (state.progress.gapAfter === gap && connection?.isOpen) {
      state.requestedGaps.add(gap);
      connection.sendSoon('hello', helloFrame);
    } else {
      watchForGap();
    }
  }, GAP_WAIT_MS);
}

/** How long the page waits for its welcome before it says hello again; doubled on each try, up to the cap. */
const WELCOME_WAIT_MS = 4_000;
const WELCOME_WAIT_CAP_MS = 30_000;
let welcomeTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Says hello on a new connection, and again until the welcome comes: a hello refused because the user's or
 * address's budget is spent (other tabs, a reconnect) is dropped, told at most once, and is welcomed once it is back.
 */
function greet(waitMs = WELCOME_WAIT_MS): void {
  clearTimeout(welcomeTimer);
  const greeted = connection;
  if (greeted === undefined || !greeted.isOpen) return;
  const welcomedBefore = state.ownId;
  greeted.sendSoon('hello', helloFrame);
  welcomeTimer = setTimeout(() => {
    if (connection !== greeted || !greeted.isOpen || state.ownId !== welcomedBefore) return;
    greet(Math.min(waitMs * 2, WELCOME_WAIT_CAP_MS));
  }, waitMs);
}

function onWelcome(frame: IncomingFrame): void {
  const connectionId = asString(frame['connectionId']);
  const room = asString(frame['room']);
  const name = asString(frame['name']);
  if (!connectionId || !room || !name) return;
  const rev = asNumber(frame['rev']);
  // Of two welcomes racing (two joins in quick succession), the older one must not move the page back.
  if (!state.welcomeRevisions.accept(connectionId, rev)) return;
  state.memberRevisions.accept(connectionId, rev);
  const newConnectionOrRoom = connectionId !== state.ownId || room !== state.room;
  state.ownId = connectionId;
  rememberOwnConnection(connectionId);
  statusView.dataset['connectionId'] = connectionId;
  if (room !== state.room) enterRoom(room);
  tellUnwelcomedNews();
  learnOwnName(name);
  state.progress.startReplay(asNumber(frame['replay']) ?? 0);
  state.memberCount = asNumber(frame['members']) ?? state.memberCount;
  renderRoster();
  watchForGap();
  if (newConnectionOrRoom) requestRoster(undefined);
}

function onMessage(frame: IncomingFrame): void {
  const seq = asNumber(frame['seq']);
  if (asString(frame['room']) !== state.room || seq === undefined) return;
  // Counted even when already shown: a replay's messages tell the page how far the history goes.
  state.progress.saw(seq);
  const id = asString(frame['id']);
  const from = asString(frame['from']);
  const text = asString(frame['text']);
  const sentAt = asString(frame['sentAt']);
  if (id && from && text !== undefined && sentAt) {
    const name = asString(frame['name']) ?? 'Someone';
    showMessage({ id, seq, from, name, userId: asString(frame['userId']), text, sentAt });
  }
  watchForGap();
}

/** A membership change of a presence frame or batch, when well formed. */
function changeOf(value: unknown): LoggedChange | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const fields = value as Record<string, unknown>;
  const event = asString(fields['event']);
  const connectionId = asString(fields['connectionId']);
  const name = asString(fields['name']);
  if (!connectionId || !name || (event !== 'join' && event !== 'leave' && event !== 'rename')) return undefined;
  const previousName = asString(fields['previousName']);
  const userId = asString(fields['userId']);
  const at = Date.parse(asString(fields['at']) ?? '');
  return {
    event,
    connectionId,
    name,
    rev: asNumber(fields['rev']),
    at: Number.isNaN(at) ? undefined : at,
    ...(previousName ? { previousName } : {}),
    ...(userId ? { userId } : {}),
  };
}

/**
 * Applies a change to the roster unless the page has it already (by the member's revision). Returns whether
 * to tell the user: a change seen before, or the leave of a member this page never knew, is not news.
 */
function applyChange(change: LoggedChange): boolean {
  if (!state.memberRevisions.acceptNewer(change.connectionId, change.rev)) return false;
  const known = state.members.has(change.connectionId);
  if (change.event === 'leave') {
    state.members.delete(change.connectionId);
    state.departed.set(change.connectionId, change.rev);
    return known;
  }
  state.members.set(change.connectionId, { name: change.name, userId: change.userId });
  if (change.connectionId === state.ownId) learnOwnName(change.name);
  if (change.event === 'join') state.departed.delete(change.connectionId);
  return true;
}

/** Names joined for a sentence: "Ann", "Ann and Bob", "Ann, Bob and 3 others". */
function namedList(named: readonly NamedMember[], others: number): Array<Node | string> {
  const parts: Array<Node | string>[] = named.map(({ connectionId, name, userId }) =>
    nameParts(connectionId, name, userId),
  );
  if (others > 0) parts.push([others === 1 ? '1 other' : `${others.toLocaleString()} others`]);
  return parts.flatMap((part, i) => [...(i === 0 ? [] : [i === parts.length - 1 ? ' and ' : ', ']), ...part]);
}

function showPresenceLine(line: PresenceLine, at: number | undefined): void {
  switch (line.kind) {
    case 'joined':
    case 'left':
      showNotice([...namedList(line.named, line.others), line.kind === 'joined' ? ' joined' : ' left'], 'info', at);
      return;
    case 'renamed':
      showNotice(
        [
          isolatedName(line.previousName),
          ' is now ',
          ...nameParts(line.member.connectionId, line.member.name, line.member.userId),
        ],
        'info',
        at,
      );
      return;
    case 'renamed-others':
      showNotice([`${line.count.toLocaleString()} others changed their names`], 'info', at);
  }
}

const NO_UNLISTED = { joined: 0, left: 0, renamed: 0 };

/**
 * Tells presence news in a few lines, each placed at the time of the latest change it tells. The joins and leaves
 * of this tab's own connections (this one, or one a reconnect or reload replaced) are not news to the person.
 */
function tell({ changes, unlisted }: News): void {
  if (state.ownId === undefined) {
    state.unwelcomedNews.push({ changes, unlisted });
    return;
  }
  const news = changes.filter((change) => change.event === 'rename' || !isOwn(change.connectionId));
  const times = news.map((change) => change.at).filter((at) => at !== undefined);
  const at = times.length === 0 ? undefined : Math.max(...times);
  for (const line of presenceLines(news, unlisted)) showPresenceLine(line, at);
}

/** Tells the news that waited for the welcome, now that the page knows which member is its own. */
function tellUnwelcomedNews(): void {
  for (const news of state.unwelcomedNews.splice(0)) tell(news);
}

function onPresence(frame: IncomingFrame): void {
  const change = changeOf(frame);
  if (change === undefined || asString(frame['room']) !== state.room) return;
  state.memberCount = asNumber(frame['members']) ?? state.memberCount;
  if (applyChange(change)) tell({ changes: [change], unlisted: NO_UNLISTED });
  renderRoster();
}

/** A window's changes in one frame: applied in order, told in a few lines ("Ann, Bob and 12 others joined"). */
function onPresenceBatch(frame: IncomingFrame): void {
  const listed = Array.isArray(frame['changes']) ? (frame['changes'] as unknown[]) : [];
  if (asString(frame['room']) !== state.room) return;
  const changes = listed.map(changeOf).filter((change) => change !== undefined);
  const news = changes.filter(applyChange);
  const unlistedOf = (field: string, event: PageChange['event']): number =>
    Math.max(0, (asNumber(frame[field]) ?? 0) - changes.filter((change) => change.event === event).length);
  const unlisted = {
    joined: unlistedOf('joined', 'join'),
    left: unlistedOf('left', 'leave'),
    renamed: unlistedOf('renamed', 'rename'),
  };
  tell({ changes: news, unlisted });
  state.memberCount = asNumber(frame['members']) ?? state.memberCount;
  renderRoster();
}

/** Asks for the roster's first page (no cursor), or for the page after `cursor`. */
function requestRoster(cursor: string | undefined): void {
  state.rosterAppending = cursor !== undefined;
  connection?.sendSoon('who', () => (cursor === undefined ? { action: 'who' } : { action: 'who', cursor }));
}

/** Whether revision `rev` is known to come after `than`. */
function laterThan(rev: number | undefined, than: number | undefined): boolean {
  return rev !== undefined && than !== undefined && rev > than;
}

function onRoster(frame: IncomingFrame): void {
  const members = frame['members'];
  if (!Array.isArray(members) || asString(frame['room']) !== state.room) return;
  if (!state.rosterAppending) state.members.clear();
  for (const member of members as unknown[]) {
    if (typeof member !== 'object' || member === null) continue;
    const { connectionId, name, userId, rev } = member as Record<string, unknown>;
    if (typeof connectionId !== 'string' || typeof name !== 'string') continue;
    // A member seen leaving is listed again only at a later revision: it came back (its join may be one a big
    // room's batch frame did not list).
    if (state.departed.has(connectionId) && !laterThan(asNumber(rev), state.departed.get(connectionId))) continue;
    // A presence change newer than the roster's reading of this member wins.
    if (!state.memberRevisions.accept(connectionId, asNumber(rev))) continue;
    state.members.set(connectionId, { name, userId: asString(userId) });
    if (connectionId === state.ownId) learnOwnName(name);
  }
  state.memberCount = asNumber(frame['count']) ?? state.memberCount;
  state.rosterNext = asString(frame['next']);
  renderRoster();
}

/**
 * Puts a refused text back in the box, so that sending it again (or shortened) is a key press away, under its own
 * clientMsgId when unchanged. Whatever was typed in the box since follows it: neither is lost.
 */
function giveBack(text: string): void {
  const typed = input.value;
  if (typed === text) return;
  input.value = typed.trim() === '' ? text : `${text} ${typed}`;
}

function onFrame(frame: IncomingFrame): void {
  switch (frame.type) {
    case 'message':
      onMessage(frame);
      return;
    case 'welcome':
      onWelcome(frame);
      return;
    case 'presence':
      onPresence(frame);
      return;
    case 'presence_batch':
      onPresenceBatch(frame);
      return;
    case 'roster':
      onRoster(frame);
      return;
    case 'ack': {
      const clientMsgId = asString(frame['clientMsgId']);
      if (clientMsgId !== undefined) state.outbox.acknowledged(clientMsgId);
      const id = asString(frame['id']);
      const delivered = asNumber(frame['delivered']);
      if (id && delivered !== undefined) markAcknowledged(id, ackText(delivered, asNumber(frame['shards'])));
      return;
    }
    case 'error': {
      const clientMsgId = asString(frame['clientMsgId']);
      const text = clientMsgId === undefined ? undefined : state.outbox.failed(clientMsgId);
      if (text !== undefined) giveBack(text);
      if (frame['code'] === 'invalid_name' || frame['code'] === 'name_locked') renameRefused();
      showNotice([describeErrorFrame(frame['code'], frame['message'])], 'error');
      return;
    }
  }
}

const STATE_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  open: 'Connected',
  waiting: 'Reconnecting…',
  closed: 'Disconnected',
};

function onState(connectionState: ConnectionState, detail: { retryInMs?: number; attempt: number }): void {
  statusView.dataset['state'] = connectionState;
  const retry = detail.retryInMs === undefined ? '' : ` in ${Math.ceil(detail.retryInMs / 1000)} s`;
  statusView.textContent = `${STATE_TEXT[connectionState]}${connectionState === 'waiting' ? retry : ''}`;
  if (connectionState !== 'open') {
    state.outbox.interrupted();
    state.ownId = undefined;
    delete statusView.dataset['connectionId'];
  }
}

function atHome(): boolean {
  return state.serverUrl === state.homeServer;
}

function socketUrl(): string {
  const url = new URL(state.serverUrl);
  url.searchParams.set('room', state.room);
  if (state.name !== '') url.searchParams.set('name', state.name);
  // A sign-in token is for the page's own server; any other server could use it to act as this person.
  if (state.token !== undefined && atHome()) url.searchParams.set('token', state.token);
  return url.toString();
}

/**
 * Says, whenever a link asks the page to go to a server or the page is on another server than its own, which
 * and what it means. A link's server is only ever offered: the page goes there when the person says so.
 */
function renderServerNotice(): void {
  const offered = state.offeredServer;
  if (offered !== undefined && state.configured) {
    serverNoticeText.textContent = `This link asks to connect to ${offered}, not this page's own server (${state.homeServer}). Your sign-in is never sent to another server.`;
    serverNoticeButton.textContent = `Connect to ${offered} without signing in`;
  } else if (offered !== undefined) {
    const signIn = state.token === undefined ? '' : ' Your sign-in goes there only if you connect.';
    serverNoticeText.textContent = `This link asks to connect to ${offered}. This page names no server of its own: connect only if you trust the link.${signIn}`;
    serverNoticeButton.textContent =
      state.token === undefined ? `Connect to ${offered}` : `Connect to ${offered} and sign in there`;
  } else if (!atHome()) {
    serverNoticeText.textContent = `Connected to ${state.serverUrl}, not this page's own server: you are not signed in there.`;
    serverNoticeButton.textContent = `Back to ${state.homeServer}`;
  }
  serverNotice.hidden = offered === undefined && atHome();
}

function setServerInAddress(url: string | undefined): void {
  const next = new URL(location.href);
  if (url === undefined) next.searchParams.delete('ws');
  else next.searchParams.set('ws', url);
  history.replaceState(null, '', next);
}

function connect(url: string): void {
  connection?.stop();
  if (state.serverUrl !== '' && url !== state.serverUrl) {
    // Another server keeps another history: its seqs, revisions and members mean nothing here.
    state.welcomeRevisions = new Revisions();
    state.memberRevisions = new Revisions();
    clearRoomView();
  }
  state.serverUrl = url;
  serverInput.value = url;
  renderServerNotice();
  connection = new ChatConnection({
    url: socketUrl,
    onOpen: () => greet(),
    keepAliveMs: params.keepAliveMs,
    backoffBaseMs: 500,
    backoffCapMs: 30_000,
    stableAfterMs: 10_000,
    limiter,
    onFrame,
    onState,
  });
  connection.start();
}

/** The server and token config.json names, when the page is served with one (npm start). */
async function readConfig(): Promise<{ server?: string; token?: string }> {
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    const config = (await response.json()) as { websocketUrl?: unknown; token?: unknown };
    const server = typeof config.websocketUrl === 'string' ? validServerUrl(config.websocketUrl) : undefined;
    const token = typeof config.token === 'string' ? validToken(config.token) : undefined;
    return { ...(server ? { server } : {}), ...(token ? { token } : {}) };
  } catch {
    // A page served without config.json (e.g. from a static host) is configured by its address alone.
    return {};
  }
}

/** Sends a frame a person asked for; when it cannot go, says why. */
function sendForPerson(frame: object, notSent: string): boolean {
  const outcome = connection?.send(frame) ?? 'closed';
  if (outcome === 'limited') showNotice([`Not sent: you are sending too fast; wait a moment.${notSent}`], 'error');
  if (outcome === 'closed') showNotice([`Not sent: the chat is not connected right now.${notSent}`], 'error');
  return outcome === 'sent';
}

composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = input.value;
  if (text.trim() === '') return;
  const clientMsgId = state.outbox.idFor(text);
  const frame = { action: 'sendmessage', text, clientMsgId, clientId: state.outbox.clientId };
  if (sendForPerson(frame, ' Your text is still in the box.')) input.value = '';
  else state.outbox.failed(clientMsgId);
});

rosterMore.addEventListener('click', () => {
  if (state.rosterNext !== undefined) requestRoster(state.rosterNext);
});

roomForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = validRoom(roomInput.value);
  if (room === undefined) {
    showNotice(['A room name is 1 to 32 letters, digits, "-" or "_".'], 'error');
    return;
  }
  const afterSeq = room === state.room ? state.progress.watermark : undefined;
  sendForPerson(afterSeq === undefined ? { action: 'join', room } : { action: 'join', room, afterSeq }, '');
});

nameForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  const problem = nameProblem(name);
  if (problem !== undefined) {
    showNotice([`Not saved: ${problem}.`], 'error');
    return;
  }
  localStorage.setItem(NAME_KEY, name);
  state.name = name;
  sendForPerson({ action: 'setname', name }, '');
});

serverForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const url = validServerUrl(serverInput.value);
  if (url === undefined) {
    showNotice(['The server address must be a ws:// or wss:// URL.'], 'error');
    return;
  }
  state.offeredServer = undefined;
  setServerInAddress(url === state.homeServer ? undefined : url);
  connect(url);
});

serverNoticeButton.addEventListener('click', () => {
  if (state.offeredServer !== undefined) {
    const offered = state.offeredServer;
    state.offeredServer = undefined;
    // Without config.json the page has no server of its own to keep the sign-in for: the person chose this one.
    if (!state.configured) state.homeServer = offered;
    connect(offered);
  } else if (!atHome()) {
    setServerInAddress(undefined);
    connect(state.homeServer);
  }
});

roomTitle.textContent = state.room;
roomInput.value = state.room;
nameInput.value = state.name;
const config = await readConfig();
state.configured = config.server !== undefined;
state.homeServer = config.server ?? validServerUrl(`ws://${location.hostname}:3001`) ?? '';
state.token ??= config.token;
if (params.server !== undefined && params.server !== state.homeServer) state.offeredServer = params.server;
if (state.offeredServer !== undefined && !state.configured) {
  // Served without config.json, the page has no server it trusts more than the link's: it waits for the person.
  renderServerNotice();
  statusView.dataset['state'] = 'closed';
  statusView.textContent = 'Not connected';
} else {
  connect(state.homeServer);
}
input.focus();
