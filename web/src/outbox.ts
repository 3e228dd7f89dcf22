/**
 * The page's messages that await their `ack`, so that a resend goes under the clientMsgId of the message it
 * resends. A message whose fate is unknown (the server answered its frame with an error, the frame never went, or
 * the connection closed before the ack) keeps its clientMsgId: the next send of the same text reuses it, and the
 * server takes it for the resend it is, never storing it twice. A text sent again while its first copy is merely
 * awaiting its ack is a second message and gets a new clientMsgId.
 */
export class Outbox {
  /** The page's own id, sent with each message: the server knows the page's resends from any of its connections. */
  readonly clientId: string;
  #count = 0;
  /** Sent, with no answer yet: clientMsgId → text. */
  readonly #awaiting = new Map<string, string>();
  /** Perhaps stored, perhaps not: text → clientMsgId. */
  readonly #unsure = new Map<string, string>();

  constructor(clientId: string) {
    this.clientId = clientId;
  }

  /** The clientMsgId to send `text` under: that of an unsure message with this text, else a new one. */
  idFor(text: string): string {
    const clientMsgId = this.#unsure.get(text) ?? `${this.clientId}.${++this.#count}`;
    this.#unsure.delete(text);
    this.#awaiting.set(clientMsgId, text);
    return clientMsgId;
  }

  /** The server stored the message and acknowledged it: the same text again is a new message. */
  acknowledged(clientMsgId: string): void {
    this.#awaiting.delete(clientMsgId);
  }

  /** The message was refused or never went: returns its text, which a resend sends under the same clientMsgId. */
  failed(clientMsgId: string): string | undefined {
    const text = this.#awaiting.get(clientMsgId);
    if (text === undefined) return undefined;
    this.#awaiting.delete(clientMsgId);
    this.#unsure.set(text, clientMsgId);
    return text;
  }

  /**
   * The page moved to another room: a text typed there is a message for that room, never a resend of one written
   * for the room it left (the server would take a resend for the message it stored there).
   */
  changedRoom(): void {
    this.#unsure.clear();
  }

  /** The connection closed: no ack will come for any message sent on it, which may or may not be stored. */
  interrupted(): void {
    for (const clientMsgId of [...this.#awaiting.keys()]) this.failed(clientMsgId);
  }
}

/** A page's clientId: 96 random bits, from getRandomValues, which (unlike randomUUID) plain http pages have too. */
export function randomClientId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `p${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}
