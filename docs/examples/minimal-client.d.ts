/** The types of minimal-client.js, for TypeScript callers (its test). */
export interface Message {
  readonly type: 'message';
  readonly id: string;
  readonly seq: number;
  readonly room: string;
  readonly from: string;
  readonly name: string;
  readonly text: string;
  readonly sentAt: string;
}

export interface Frame {
  readonly type: string;
  readonly [field: string]: unknown;
}

export interface Handlers {
  onWelcome?(frame: Frame): void;
  onMessages?(messages: Message[]): void;
  onAck?(frame: Frame): void;
  onError?(frame: Frame): void;
}

export interface Chat {
  send(text: string): string;
  replay(): void;
  messages(): Message[];
  close(): void;
}

export function openChat(url: string, handlers?: Handlers): Chat;
