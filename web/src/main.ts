import { ChatConnection, type ConnectionState, type IncomingFrame } from './chat-connection.ts';
import { describeErrorFrame } from './error-text.ts';
import { readPageParams, validName, validRoom, validServerUrl, validToken } from './page-params.ts';
import { Revisions } from './revisions.ts';
import { RoomProgress } from './room-progress.ts';
import { SendLimiter } from './send-limiter.ts';

interface ShownMessage {
  readonly id: string;
  readonly seq: number;
  readonly from: string;
  readonly name: string;
  readonly text: string;
  readonly sentAt: string;
}

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the page has no #${id}`);
  return found;
}

const statusView = element('status', HTMLElement);
const list = element('messages', HTMLOListElement);
const roster = element('roster', HTMLUListElement);
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
/** A person sends a line a second at most, for a while; the server lets a connection send 30 frames in 10 s. */
const limiter = new SendLimiter(8, 1_000);
/** How long a missing message may stay missing, while later ones are shown, before the page asks for it. */
const GAP_WAIT_MS = 3_000;

/** The page's state: who we are, where, and what we have shown. */
const state = {
  /** The server the page was configured with (config.json): the only one its sign-in token is sent to. */
  homeServer: '',
  serverUrl: '',
  /** A server a link asked for, not yet agreed to by the person. */
  offeredServer: undefined as string | undefined,
  /** A sign-in token for chats that require one: from `?token=`, or the development token config.json gives. */
  token: params.token,
  room: params.room ?? 'lobby',
  name: params.name ?? validName(localStorage.getItem('chat.name')) ?? '',
  ownId: undefined as string | undefined,
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
  members: new Map<string, string>(),
  /** Members whose last applied presence in this room was a leave: a roster taken earlier may still list them. */
  departed: new Set<string>(),
  /** Acks that arrived before their message was shown. */
  acks: new Map<string, number>(),
  nextClientMsgId: 1,
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

/** The name, marked when it is this page's own connection. */
function nameParts(connectionId: string, name: string): Array<Node | string> {
  return connectionId === state.ownId ? [isolatedName(name), ' (you)'] : [isolatedName(name)];
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
  item.className = message.from === state.ownId ? 'message own' : 'message';
  item.dataset['id'] = message.id;
  item.dataset['seq'] = String(message.seq);
  item.dataset['from'] = message.from;
  const meta = document.createElement('div');
  meta.className = 'meta';
  const from = document.createElement('span');
  from.className = 'from';
  from.append(...nameParts(message.from, message.name));
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

function markAcknowledged(messageId: string, delivered: number): void {
  const item = list.querySelector<HTMLLIElement>(`li.message[data-id="${CSS.escape(messageId)}"]`);
  if (item === null) {
    state.acks.set(messageId, delivered);
    return;
  }
  item.classList.add('acked');
  item.querySelector('.status')?.remove();
  item.append(textElement('div', 'status', `✓ delivered to ${delivered}`));
}

/** Inserts in the room's `seq` order, once per id. */
function showMessage(message: ShownMessage): void {
  if (state.shown.has(message.id)) return;
  state.shown.set(message.id, message);
  const item = renderMessage(message);
  const later = [...list.querySelectorAll<HTMLLIElement>('li.message')].find(
    (other) => Number(other.dataset['seq']) > message.seq,
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
function showNotice(parts: Array<Node | string>, kind: 'error' | 'info'): void {
  const item = document.createElement('li');
  item.className = `notice ${kind}`;
  item.dir = 'auto';
  item.append(...parts);
  list.append(item);
  scrollToEnd();
}

function renderRoster(): void {
  const items = [...state.members.entries()]
    .sort(([, a], [, b]) => a.localeCompare(b))
    .map(([id, name]) => {
      const item = document.createElement('li');
      if (id === state.ownId) item.className = 'own';
      item.dataset['id'] = id;
      item.append(...nameParts(id, name));
      return item;
    });
  roster.replaceChildren(...items);
}

/** Forgets what the page showed of a room (its messages, members and progress): a new room starts clean. */
function clearRoomView(): void {
  clearTimeout(state.gapTimer);
  state.gapTimer = undefined;
  state.shown.clear();
  state.members.clear();
  state.departed.clear();
  state.progress = new RoomProgress();
  state.requestedGaps.clear();
  list.replaceChildren();
  renderRoster();
}

function enterRoom(room: string): void {
  state.room = room;
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
  statusView.dataset['connectionId'] = connectionId;
  if (room !== state.room) enterRoom(room);
  state.name = name;
  nameInput.value = name;
  state.progress.startReplay(asNumber(frame['replay']) ?? 0);
  watchForGap();
  if (newConnectionOrRoom) connection?.sendSoon('who', () => ({ action: 'who' }));
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
    showMessage({ id, seq, from, name: asString(frame['name']) ?? 'Someone', text, sentAt });
  }
  watchForGap();
}

function onPresence(frame: IncomingFrame): void {
  const event = asString(frame['event']);
  const connectionId = asString(frame['connectionId']);
  const name = asString(frame['name']);
  if (!connectionId || !name || asString(frame['room']) !== state.room) return;
  if (!state.memberRevisions.accept(connectionId, asNumber(frame['rev']))) return;
  const who = nameParts(connectionId, name);
  if (event === 'join') {
    state.members.set(connectionId, name);
    state.departed.delete(connectionId);
    showNotice([...who, ' joined'], 'info');
  } else if (event === 'leave') {
    state.members.delete(connectionId);
    state.departed.add(connectionId);
    showNotice([...who, ' left'], 'info');
  } else if (event === 'rename') {
    state.members.set(connectionId, name);
    showNotice([isolatedName(asString(frame['previousName']) ?? 'Someone'), ' is now ', ...who], 'info');
  }
  renderRoster();
}

function onRoster(frame: IncomingFrame): void {
  const members = frame['members'];
  if (!Array.isArray(members) || asString(frame['room']) !== state.room) return;
  state.members.clear();
  for (const member of members as unknown[]) {
    if (typeof member !== 'object' || member === null) continue;
    const { connectionId, name } = member as { connectionId?: unknown; name?: unknown };
    if (typeof connectionId === 'string' && typeof name === 'string' && !state.departed.has(connectionId)) {
      state.members.set(connectionId, name);
    }
  }
  renderRoster();
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
    case 'roster':
      onRoster(frame);
      return;
    case 'ack': {
      const id = asString(frame['id']);
      const delivered = asNumber(frame['delivered']);
      if (id && delivered !== undefined) markAcknowledged(id, delivered);
      return;
    }
    case 'error':
      showNotice([describeErrorFrame(frame['code'], frame['message'])], 'error');
      return;
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

/** Says, whenever the page is on (or is asked to go to) another server than its own, which and what it means. */
function renderServerNotice(): void {
  if (!atHome()) {
    serverNoticeText.textContent = `Connected to ${state.serverUrl}, not this page's own server: you are not signed in there.`;
    serverNoticeButton.textContent = `Back to ${state.homeServer}`;
    serverNotice.hidden = false;
  } else if (state.offeredServer !== undefined) {
    serverNoticeText.textContent = `This link asks to connect to ${state.offeredServer}, not this page's own server (${state.homeServer}). Your sign-in is never sent to another server.`;
    serverNoticeButton.textContent = `Connect to ${state.offeredServer} without signing in`;
    serverNotice.hidden = false;
  } else {
    serverNotice.hidden = true;
  }
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
    onOpen: () => connection?.sendSoon('hello', helloFrame),
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
  const clientMsgId = `m${Date.now().toString(36)}-${state.nextClientMsgId++}`;
  if (sendForPerson({ action: 'sendmessage', text, clientMsgId }, ' Your text is still in the box.')) input.value = '';
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
  const name = validName(nameInput.value);
  if (name === undefined) {
    showNotice(['A name is 1 to 32 characters, without invisible or direction-changing ones.'], 'error');
    return;
  }
  localStorage.setItem('chat.name', name);
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
  if (!atHome()) {
    setServerInAddress(undefined);
    connect(state.homeServer);
  } else if (state.offeredServer !== undefined) {
    const offered = state.offeredServer;
    state.offeredServer = undefined;
    connect(offered);
  }
});

roomTitle.textContent = state.room;
roomInput.value = state.room;
nameInput.value = state.name;
const config = await readConfig();
state.homeServer = config.server ?? params.server ?? validServerUrl(`ws://${location.hostname}:3001`) ?? '';
state.token ??= config.token;
if (params.server !== undefined && params.server !== state.homeServer) state.offeredServer = params.server;
connect(state.homeServer);
input.focus();
