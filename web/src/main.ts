import { ChatConnection, type ConnectionState, type IncomingFrame } from './chat-connection.ts';
import { describeErrorFrame } from './error-text.ts';

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

const params = new URLSearchParams(location.search);
const keepAliveMs = Number(params.get('keepalive') ?? 5 * 60 * 1000);
const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** The page's state: who we are, where, and what we have shown. */
const state = {
  serverUrl: '',
  /** A sign-in token for chats that require one: from `?token=`, or the development token config.json gives. */
  token: params.get('token') ?? undefined as string | undefined,
  room: (params.get('room') ?? 'lobby').toLowerCase(),
  name: params.get('name') ?? localStorage.getItem('chat.name') ?? '',
  ownId: undefined as string | undefined,
  /** Messages of the current room by id, so a replay after a reconnect shows nothing twice. */
  shown: new Map<string, ShownMessage>(),
  /** The newest message id seen per room: a reconnect asks only for what came after it. */
  lastSeen: new Map<string, { id: string; seq: number }>(),
  members: new Map<string, string>(),
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

function scrollToEnd(): void {
  list.lastElementChild?.scrollIntoView({ block: 'end' });
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function asNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function displayName(connectionId: string, name: string): string {
  return connectionId === state.ownId ? `${name} (you)` : name;
}

function renderMessage(message: ShownMessage): HTMLLIElement {
  const item = document.createElement('li');
  item.className = message.from === state.ownId ? 'message own' : 'message';
  item.dataset['id'] = message.id;
  item.dataset['seq'] = String(message.seq);
  item.dataset['from'] = message.from;
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.append(textElement('span', 'from', displayName(message.from, message.name)));
  const sent = new Date(message.sentAt);
  const time = textElement('time', 'time', Number.isNaN(sent.getTime()) ? '' : timeFormat.format(sent));
  time.setAttribute('datetime', message.sentAt);
  meta.append(time);
  item.append(meta, textElement('p', 'text', message.text));
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
  const seen = state.lastSeen.get(state.room);
  if (seen === undefined || message.seq > seen.seq) state.lastSeen.set(state.room, { id: message.id, seq: message.seq });
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

function showNotice(text: string, kind: 'error' | 'info'): void {
  const item = textElement('li', `notice ${kind}`, text);
  item.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  list.append(item);
  scrollToEnd();
}

function renderRoster(): void {
  const items = [...state.members.entries()]
    .sort(([, a], [, b]) => a.localeCompare(b))
    .map(([id, name]) => {
      const item = textElement('li', id === state.ownId ? 'own' : '', displayName(id, name));
      item.dataset['id'] = id;
      return item;
    });
  roster.replaceChildren(...items);
}

function enterRoom(room: string): void {
  if (room === state.room && list.childElementCount > 0) return;
  state.room = room;
  state.shown.clear();
  state.members.clear();
  list.replaceChildren();
  renderRoster();
  roomTitle.textContent = room;
  roomInput.value = room;
  const next = new URL(location.href);
  next.searchParams.set('room', room);
  history.replaceState(null, '', next);
}

function onWelcome(frame: IncomingFrame): void {
  const connectionId = asString(frame['connectionId']);
  const room = asString(frame['room']);
  const name = asString(frame['name']);
  if (!connectionId || !room || !name) return;
  state.ownId = connectionId;
  statusView.dataset['connectionId'] = connectionId;
  enterRoom(room);
  state.name = name;
  nameInput.value = name;
  connection?.send({ action: 'who' });
}

function onPresence(frame: IncomingFrame): void {
  const event = asString(frame['event']);
  const connectionId = asString(frame['connectionId']);
  const name = asString(frame['name']);
  if (!connectionId || !name || asString(frame['room']) !== state.room) return;
  const who = displayName(connectionId, name);
  if (event === 'join') {
    state.members.set(connectionId, name);
    showNotice(`${who} joined`, 'info');
  } else if (event === 'leave') {
    state.members.delete(connectionId);
    showNotice(`${who} left`, 'info');
  } else if (event === 'rename') {
    state.members.set(connectionId, name);
    showNotice(`${asString(frame['previousName']) ?? 'Someone'} is now ${who}`, 'info');
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
    if (typeof connectionId === 'string' && typeof name === 'string') state.members.set(connectionId, name);
  }
  renderRoster();
}

function onFrame(frame: IncomingFrame): void {
  switch (frame.type) {
    case 'message': {
      const id = asString(frame['id']);
      const seq = asNumber(frame['seq']);
      const from = asString(frame['from']);
      const text = asString(frame['text']);
      const sentAt = asString(frame['sentAt']);
      if (id && seq !== undefined && from && text !== undefined && sentAt && asString(frame['room']) === state.room) {
        showMessage({ id, seq, from, name: asString(frame['name']) ?? 'Someone', text, sentAt });
      }
      return;
    }
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
      showNotice(describeErrorFrame(frame['code'], frame['message']), 'error');
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

function socketUrl(): string {
  const url = new URL(state.serverUrl);
  url.searchParams.set('room', state.room);
  if (state.name !== '') url.searchParams.set('name', state.name);
  if (state.token !== undefined) url.searchParams.set('token', state.token);
  return url.toString();
}

/** The handshake: API Gateway cannot send during $connect, so the page asks for its welcome and history. */
function hello(): void {
  const after = state.lastSeen.get(state.room)?.id;
  connection?.send(after === undefined ? { action: 'hello' } : { action: 'hello', after });
}

function connect(url: string): void {
  connection?.stop();
  state.serverUrl = url;
  serverInput.value = url;
  connection = new ChatConnection({ url: socketUrl, onOpen: hello, keepAliveMs, backoffBaseMs: 500, backoffCapMs: 30_000, onFrame, onState });
  connection.start();
}

async function defaultServerUrl(): Promise<string> {
  const fromQuery = params.get('ws');
  if (fromQuery) return fromQuery;
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    const config = (await response.json()) as { websocketUrl?: unknown; token?: unknown };
    if (typeof config.token === 'string' && state.token === undefined) state.token = config.token;
    if (typeof config.websocketUrl === 'string') return config.websocketUrl;
  } catch {
    // A page served without config.json (e.g. from a static host) falls back to the field.
  }
  return `ws://${location.hostname}:3001`;
}

composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = input.value;
  if (text.trim() === '') return;
  const clientMsgId = `m${Date.now().toString(36)}-${state.nextClientMsgId++}`;
  if (connection?.send({ action: 'sendmessage', text, clientMsgId })) {
    input.value = '';
  } else {
    showNotice('Not sent: the chat is not connected right now. Your text is still in the box.', 'error');
  }
});

roomForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = roomInput.value.trim();
  if (!ROOM_PATTERN.test(room)) {
    showNotice('A room name is 1 to 32 letters, digits, "-" or "_".', 'error');
    return;
  }
  const after = state.lastSeen.get(room.toLowerCase())?.id;
  connection?.send(after === undefined ? { action: 'join', room } : { action: 'join', room, after });
});

nameForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  if (name === '') return;
  localStorage.setItem('chat.name', name);
  state.name = name;
  connection?.send({ action: 'setname', name });
});

serverForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const url = serverInput.value.trim();
  if (!/^wss?:\/\//.test(url)) {
    showNotice('The server address must start with ws:// or wss://.', 'error');
    return;
  }
  const next = new URL(location.href);
  next.searchParams.set('ws', url);
  history.replaceState(null, '', next);
  connect(url);
});

roomTitle.textContent = state.room;
roomInput.value = state.room;
nameInput.value = state.name;
connect(await defaultServerUrl());
input.focus();
