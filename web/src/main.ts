import { ChatConnection, type ConnectionState, type IncomingFrame } from './chat-connection.ts';
import { describeErrorFrame } from './error-text.ts';

interface ShownMessage {
  readonly id: string;
  readonly from: string;
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
const form = element('composer', HTMLFormElement);
const input = element('message', HTMLInputElement);
const serverForm = element('server-form', HTMLFormElement);
const serverInput = element('server-url', HTMLInputElement);

const params = new URLSearchParams(location.search);
const keepAliveMs = Number(params.get('keepalive') ?? 5 * 60 * 1000);
const shown = new Map<string, ShownMessage>();
let ownId: string | undefined;
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

function senderName(from: string): string {
  return from === ownId ? 'You' : `Guest ${from.slice(0, 6)}`;
}

function renderMessage(message: ShownMessage): HTMLLIElement {
  const item = document.createElement('li');
  item.className = message.from === ownId ? 'message own' : 'message';
  item.dataset['id'] = message.id;
  item.dataset['from'] = message.from;
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.append(textElement('span', 'from', senderName(message.from)));
  const sent = new Date(message.sentAt);
  const time = textElement('time', 'time', Number.isNaN(sent.getTime()) ? '' : timeFormat.format(sent));
  time.setAttribute('datetime', message.sentAt);
  meta.append(time);
  item.append(meta, textElement('p', 'text', message.text));
  return item;
}

/** Inserts in `sentAt` order, once per id, so a message seen again after a reconnect is not shown twice. */
function showMessage(message: ShownMessage): void {
  if (shown.has(message.id)) return;
  shown.set(message.id, message);
  const item = renderMessage(message);
  const later = [...list.querySelectorAll<HTMLLIElement>('li.message')].find((other) => {
    const otherSentAt = shown.get(other.dataset['id'] ?? '')?.sentAt ?? '';
    return otherSentAt > message.sentAt;
  });
  list.insertBefore(item, later ?? null);
  scrollToEnd();
}

function showNotice(text: string, kind: 'error' | 'info'): void {
  const item = textElement('li', `notice ${kind}`, text);
  item.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  list.append(item);
  scrollToEnd();
}

function relabelOwnMessages(): void {
  for (const item of list.querySelectorAll<HTMLLIElement>('li.message')) {
    const from = item.dataset['from'] ?? '';
    item.classList.toggle('own', from === ownId);
    const label = item.querySelector('.from');
    if (label) label.textContent = senderName(from);
  }
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function onFrame(frame: IncomingFrame): void {
  if (frame.type === 'message' || frame.type === 'echo') {
    const id = asString(frame['id']);
    const from = asString(frame['from']);
    const text = asString(frame['text']);
    const sentAt = asString(frame['sentAt']);
    if (id && from && text !== undefined && sentAt) showMessage({ id, from, text, sentAt });
  } else if (frame.type === 'pong') {
    const connectionId = asString(frame['connectionId']);
    if (connectionId && connectionId !== ownId) {
      ownId = connectionId;
      statusView.dataset['connectionId'] = connectionId;
      relabelOwnMessages();
    }
  } else if (frame.type === 'error') {
    showNotice(describeErrorFrame(frame['code'], frame['message']), 'error');
  }
}

const STATE_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  open: 'Connected',
  waiting: 'Reconnecting…',
  closed: 'Disconnected',
};

function onState(state: ConnectionState, detail: { retryInMs?: number; attempt: number }): void {
  statusView.dataset['state'] = state;
  const retry = detail.retryInMs === undefined ? '' : ` in ${Math.ceil(detail.retryInMs / 1000)} s`;
  statusView.textContent = `${STATE_TEXT[state]}${state === 'waiting' ? retry : ''}`;
  if (state !== 'open') {
    ownId = undefined;
    delete statusView.dataset['connectionId'];
  }
}

function connect(url: string): void {
  connection?.stop();
  serverInput.value = url;
  connection = new ChatConnection({ url, keepAliveMs, backoffBaseMs: 500, backoffCapMs: 30_000, onFrame, onState });
  connection.start();
}

async function defaultServerUrl(): Promise<string> {
  const fromQuery = params.get('ws');
  if (fromQuery) return fromQuery;
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    const config = (await response.json()) as { websocketUrl?: unknown };
    if (typeof config.websocketUrl === 'string') return config.websocketUrl;
  } catch {
    // A page served without config.json (e.g. from a static host) falls back to the field.
  }
  return `ws://${location.hostname}:3001`;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = input.value;
  if (text.trim() === '') return;
  if (connection?.send({ action: 'sendmessage', text })) {
    input.value = '';
  } else {
    showNotice('Not sent: the chat is not connected right now. Your text is still in the box.', 'error');
  }
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

connect(await defaultServerUrl());
input.focus();
