import * as z from 'zod/mini';
import { lookAlikeNameProblem, MAX_NAME_CHARACTERS, UNSAFE_NAME_CHARACTER } from '../../domain/display-name.ts';
import type { ErrorCode } from '../../domain/frames.ts';
import type { ReplayPoint } from '../../domain/message-history.ts';
import './zod.ts';

/** What a client asked for, once its frame is known to be well formed. */
export type ChatRequest =
  | {
      /** `undefined` when the client named no action (a plain text frame, or JSON without `action`). */
      readonly action: 'sendmessage' | 'echo' | undefined;
      readonly text: string;
      readonly clientMsgId?: string;
      /** The sending page's own id, the same on each of its connections: a resend from any of them is known. */
      readonly clientId?: string;
    }
  | { readonly action: 'ping' | 'leave' }
  | { readonly action: 'who'; readonly cursor?: string }
  | { readonly action: 'hello'; readonly from?: ReplayPoint }
  | { readonly action: 'join'; readonly room: string; readonly from?: ReplayPoint }
  | { readonly action: 'setname'; readonly name: string };

export interface FrameLimits {
  readonly maxFrameBytes: number;
  readonly maxTextBytes: number;
}

/** A frame the client must fix; its message is safe to show the client. */
export class InvalidFrameError extends Error {
  override readonly name = 'InvalidFrameError';
  readonly code: ErrorCode;
  /** The client's id for the refused message, so it can mark that message as not sent. */
  readonly clientMsgId: string | undefined;

  constructor(code: ErrorCode, message: string, clientMsgId?: string) {
    super(message);
    this.code = code;
    this.clientMsgId = clientMsgId;
  }
}

const ACTIONS = ['sendmessage', 'echo', 'ping', 'hello', 'join', 'leave', 'setname', 'who'] as const;

/** Room names: 1 to 32 letters, digits, `-` or `_`, compared without regard to case. */
export const roomSchema = z
  .string()
  .check(z.regex(/^[A-Za-z0-9_-]{1,32}$/, 'a room name is 1 to 32 letters, digits, "-" or "_"'), z.toLowerCase());

/**
 * Display names: 1 to 32 characters once trimmed, without control, invisible or direction-changing characters,
 * and none that could pass for another member or for the page's own marks (see `lookAlikeNameProblem`).
 */
export const nameSchema = z.string().check(
  z.trim(),
  z.refine((name) => [...name].length >= 1 && [...name].length <= MAX_NAME_CHARACTERS, 'a name is 1 to 32 characters'),
  z.refine(
    (name) => !UNSAFE_NAME_CHARACTER.test(name),
    'a name cannot contain control, invisible or direction-changing characters',
  ),
  z.superRefine((name, context) => {
    const problem = lookAlikeNameProblem(name);
    if (problem !== undefined) context.addIssue({ code: 'custom', message: problem, input: name });
  }),
);

export const clientMsgIdSchema = z
  .string()
  .check(z.regex(/^[\x21-\x7e]{1,64}$/, 'clientMsgId is 1 to 64 visible ASCII characters'));
/** A page's own id, which it chose at random: as a clientMsgId, 1 to 64 visible ASCII characters. */
export const clientIdSchema = z
  .string()
  .check(z.regex(/^[\x21-\x7e]{1,64}$/, 'clientId is 1 to 64 visible ASCII characters'));
export const afterSchema = z.string().check(z.minLength(1), z.maxLength(64));
/** A roster cursor as the server gives it in a roster's `next`: opaque, printable ASCII. */
export const cursorSchema = z
  .string()
  .check(z.regex(/^[\x21-\x7e]{1,256}$/, 'cursor is a roster\'s "next", unchanged'));
export const afterSeqSchema = z.number().check(z.int(), z.gte(0), z.lte(Number.MAX_SAFE_INTEGER));

/** Where a hello or join asks its replay to start: `afterSeq` (what the client has) wins over `after`. */
const replayFromSchema = z.pipe(
  z.object({ after: z.optional(afterSchema), afterSeq: z.optional(afterSeqSchema) }),
  z.transform(({ after, afterSeq }): { from?: ReplayPoint } =>
    afterSeq !== undefined ? { from: { seq: afterSeq } } : after !== undefined ? { from: { id: after } } : {},
  ),
);

const envelopeSchema = z.object({ action: z.optional(z.string().check(z.maxLength(64))) });

const textFrameSchema = z.object({
  text: z.optional(z.string()),
  // The AWS sample chat client sends {"action":"sendmessage","data":"..."}.
  data: z.optional(z.string()),
  clientMsgId: z.optional(clientMsgIdSchema),
  clientId: z.optional(clientIdSchema),
});

const utf8 = new TextEncoder();

function byteLength(text: string): number {
  return utf8.encode(text).byteLength;
}

// Controls other than tab and line breaks: a terminal takes ESC [ (and U+009B, C1's CSI) as the start of an escape
// sequence, and the rest draw nothing a reader can see.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/u;

/** The message text a member or a publisher sends, checked by the same rules: not blank, no controls, within the size limit. */
export function checkedText(text: string, limits: FrameLimits, clientMsgId?: string): string {
  if (text.trim().length === 0) throw new InvalidFrameError('empty_message', 'message text is empty', clientMsgId);
  const control = CONTROL.exec(text)?.[0];
  if (control !== undefined) {
    const codePoint = `U+${control.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    throw new InvalidFrameError(
      'invalid_frame',
      `message text cannot contain control characters other than tab and line breaks (U+0000 to U+001F, U+007F to U+009F); it holds ${codePoint}`,
      clientMsgId,
    );
  }
  const bytes = byteLength(text);
  if (bytes > limits.maxTextBytes) {
    throw new InvalidFrameError(
      'message_too_large',
      `message text is ${bytes} bytes; the limit is ${limits.maxTextBytes}`,
      clientMsgId,
    );
  }
  return text;
}

function isAction(action: string): action is (typeof ACTIONS)[number] {
  return (ACTIONS as readonly string[]).includes(action);
}

function parseWith<T>(schema: z.ZodMiniType<T>, value: unknown, code: ErrorCode, clientMsgId?: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new InvalidFrameError(code, `${where}${issue?.message ?? 'malformed frame'}`, clientMsgId);
}

/** The clientMsgId of a raw frame body, when it has a usable one, so that any refusal can name it. */
export function clientMsgIdOfBody(body: string | undefined): string | undefined {
  if (body === undefined || !body.trimStart().startsWith('{')) return undefined;
  try {
    return clientMsgIdOf(JSON.parse(body));
  } catch {
    return undefined;
  }
}

function clientMsgIdOf(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const parsed = clientMsgIdSchema.safeParse((json as { clientMsgId?: unknown }).clientMsgId);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Turns a WebSocket frame body into a chat request. A frame that starts with `{` must be a JSON object;
 * any other text frame is the text of a chat message, so that a person typing in wscat can chat.
 */
export function parseInboundFrame(
  body: unknown,
  isBase64Encoded: boolean | undefined,
  limits: FrameLimits,
): ChatRequest {
  // API Gateway marks binary frames as base64; serverless-offline passes them on as a Buffer instead.
  if (isBase64Encoded === true || (body !== undefined && body !== null && typeof body !== 'string')) {
    throw new InvalidFrameError('binary_not_supported', 'send text frames, not binary');
  }
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
  const clientMsgId = clientMsgIdOf(json);
  const { action } = parseWith(envelopeSchema, json, 'invalid_frame', clientMsgId);
  if (action !== undefined && !isAction(action)) {
    throw new InvalidFrameError(
      'unknown_action',
      `unknown action "${action.slice(0, 64)}"; use one of ${ACTIONS.join(', ')}`,
      clientMsgId,
    );
  }
  switch (action) {
    case 'ping':
    case 'leave':
      return { action };
    case 'who': {
      const { cursor } = parseWith(z.object({ cursor: z.optional(cursorSchema) }), json, 'invalid_frame');
      return cursor === undefined ? { action } : { action, cursor };
    }
    case 'hello':
      return { action, ...parseWith(replayFromSchema, json, 'invalid_frame') };
    case 'join': {
      const from = parseWith(replayFromSchema, json, 'invalid_frame');
      const { room } = parseWith(z.object({ room: roomSchema }), json, 'invalid_room');
      return { action, room, ...from };
    }
    case 'setname':
      return { action, name: parseWith(z.object({ name: nameSchema }), json, 'invalid_name').name };
    default: {
      const frame = parseWith(textFrameSchema, json, 'invalid_frame', clientMsgId);
      const text = frame.text ?? frame.data;
      if (text === undefined) throw new InvalidFrameError('invalid_frame', 'text: a string is required', clientMsgId);
      const checked = checkedText(text, limits, frame.clientMsgId);
      return {
        action,
        text: checked,
        ...(frame.clientMsgId !== undefined ? { clientMsgId: frame.clientMsgId } : {}),
        ...(frame.clientId !== undefined ? { clientId: frame.clientId } : {}),
      };
    }
  }
}

/**
 * What a frame costs against its connection's rate limit, in units of a chat message: by the work it can
 * cause. A `hello` or `join` replays up to 50 messages and tells one or two rooms; `who` reads a page of up
 * to 25 names, each an item read by its key: at most about 18 read units where a message to 101 members reads 2,
 * so its weight keeps it no dearer in read units per unit of budget (bench/read-units.ts measures both). A
 * frame that does not parse costs one.
 */
export const FRAME_WEIGHTS: Readonly<Record<NonNullable<ChatRequest['action']> | 'text', number>> = {
  text: 1,
  sendmessage: 1,
  echo: 1,
  ping: 1,
  setname: 2,
  who: 9,
  hello: 10,
  join: 10,
  leave: 10,
};

/** The weight of a parsed frame. */
export function weightOf(request: ChatRequest | undefined): number {
  return request === undefined ? 1 : FRAME_WEIGHTS[request.action ?? 'text'];
}
