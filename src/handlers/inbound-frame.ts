import { z } from 'zod';

/** What a client asked for, once its frame is known to be well formed. */
export type ChatRequest =
  | {
      /** `undefined` when the client named no action (a plain text frame, or JSON without `action`). */
      readonly action: 'sendmessage' | 'echo' | undefined;
      readonly text: string;
    }
  | { readonly action: 'ping' };

export interface FrameLimits {
  readonly maxFrameBytes: number;
  readonly maxTextBytes: number;
}

/** The codes of the error frames a client can receive. */
export type ErrorCode =
  | 'binary_not_supported'
  | 'frame_too_large'
  | 'invalid_json'
  | 'invalid_frame'
  | 'unknown_action'
  | 'empty_message'
  | 'message_too_large'
  | 'internal_error';

/** A frame the client must fix; its message is safe to show the client. */
export class InvalidFrameError extends Error {
  override readonly name = 'InvalidFrameError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

const KNOWN_ACTIONS = ['sendmessage', 'echo', 'ping'] as const;

const frameSchema = z.object({
  action: z.string().max(64).optional(),
  text: z.string().optional(),
  // The AWS sample chat client sends {"action":"sendmessage","data":"..."}.
  data: z.string().optional(),
});

const utf8 = new TextEncoder();

function byteLength(text: string): number {
  return utf8.encode(text).byteLength;
}

function checkedText(text: string, limits: FrameLimits): string {
  if (text.trim().length === 0) throw new InvalidFrameError('empty_message', 'message text is empty');
  const bytes = byteLength(text);
  if (bytes > limits.maxTextBytes) {
    throw new InvalidFrameError(
      'message_too_large',
      `message text is ${bytes} bytes; the limit is ${limits.maxTextBytes}`,
    );
  }
  return text;
}

function isKnownAction(action: string): action is (typeof KNOWN_ACTIONS)[number] {
  return (KNOWN_ACTIONS as readonly string[]).includes(action);
}

/**
 * Turns a WebSocket frame body into a chat request. A frame that starts with `{` must be a JSON object;
 * any other text frame is the text of a chat message, so that a person typing in wscat can chat.
 */
export function parseInboundFrame(
  body: string | undefined,
  isBase64Encoded: boolean | undefined,
  limits: FrameLimits,
): ChatRequest {
  if (isBase64Encoded === true) throw new InvalidFrameError('binary_not_supported', 'send text frames, not binary');
  const raw = body ?? '';
  const bytes = byteLength(raw);
  if (bytes > limits.maxFrameBytes) {
    throw new InvalidFrameError('frame_too_large', `frame is ${bytes} bytes; the limit is ${limits.maxFrameBytes}`);
  }
  if (!raw.trimStart().startsWith('{')) return { action: undefined, text: checkedText(raw, limits) };

  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new InvalidFrameError('invalid_json', 'frame starts with "{" but is not valid JSON');
  }
  const parsed = frameSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new InvalidFrameError('invalid_frame', `${where}${issue?.message ?? 'malformed frame'}`);
  }
  const { action, text, data } = parsed.data;
  if (action !== undefined && !isKnownAction(action)) {
    throw new InvalidFrameError('unknown_action', `unknown action "${action.slice(0, 64)}"; use sendmessage, echo or ping`);
  }
  if (action === 'ping') return { action };
  const message = text ?? data;
  if (message === undefined) throw new InvalidFrameError('invalid_frame', 'text: a string is required');
  return { action, text: checkedText(message, limits) };
}
