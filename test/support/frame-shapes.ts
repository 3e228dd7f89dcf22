import type { ErrorCode } from '../../src/domain/frames.ts';

/** Every error code a client may receive; a code added to {@link ErrorCode} without being listed here fails the typecheck. */
export const DOCUMENTED_ERROR_CODES = [
  'binary_not_supported',
  'frame_too_large',
  'invalid_json',
  'invalid_frame',
  'unknown_action',
  'empty_message',
  'message_too_large',
  'invalid_room',
  'invalid_name',
  'unknown_connection',
  'conflict',
  'rate_limited',
  'name_locked',
  'internal_error',
] as const satisfies readonly ErrorCode[];

type Undocumented = Exclude<ErrorCode, (typeof DOCUMENTED_ERROR_CODES)[number]>;
const everyCodeDocumented: [Undocumented] extends [never] ? true : Undocumented = true;
void everyCodeDocumented;

/** The fields of each server frame as a client receives it (`?` marks an optional one). */
const FIELDS: Readonly<Record<string, readonly string[]>> = {
  message: ['type', 'id', 'seq', 'room', 'from', 'name', 'userId?', 'text', 'sentAt'],
  echo: ['type', 'id', 'from', 'text', 'sentAt'],
  welcome: ['type', 'connectionId', 'room', 'name', 'replay', 'rev'],
  presence: ['type', 'event', 'room', 'connectionId', 'name', 'userId?', 'previousName?', 'rev', 'at'],
  roster: ['type', 'room', 'members'],
  ack: ['type', 'clientMsgId', 'id', 'seq', 'recipients', 'delivered', 'gone', 'failed'],
  pong: ['type', 'connectionId'],
  error: ['type', 'code', 'message', 'clientMsgId?'],
};

/** Text that only a server failure would put in a client's frame: stack frames, file positions, AWS names. */
const LEAKS = [
  /\n\s*at\s/g,
  /\bat \S+ \(/g,
  /node_modules/g,
  /\.(?:ts|js|mjs|cjs):\d+/g,
  /\b\w*(?:Error|Exception)\b/g,
  /arn:aws/g,
];

/**
 * What is wrong with a frame as a client received it (an empty list when nothing is): unknown type, missing or
 * extra fields, an undocumented error code, or server detail in an error message that the client did not send.
 */
export function problemsWith(frame: unknown, input: string): string[] {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame))
    return [`not an object: ${JSON.stringify(frame)}`];
  const fields = frame as Record<string, unknown>;
  const type = fields['type'];
  const shape = typeof type === 'string' ? FIELDS[type] : undefined;
  if (shape === undefined) return [`unknown type: ${JSON.stringify(frame).slice(0, 200)}`];
  const problems: string[] = [];
  const required = shape.filter((field) => !field.endsWith('?'));
  const allowed = new Set(shape.map((field) => field.replace(/\?$/, '')));
  for (const field of required) if (!(field in fields)) problems.push(`${String(type)} without ${field}`);
  for (const field of Object.keys(fields))
    if (!allowed.has(field)) problems.push(`${String(type)} with unexpected ${field}`);
  if (type === 'error') {
    const { code, message } = fields;
    if (!(DOCUMENTED_ERROR_CODES as readonly unknown[]).includes(code))
      problems.push(`undocumented code ${String(code)}`);
    if (typeof message !== 'string' || message.length === 0) problems.push('error without a message');
    else {
      for (const pattern of LEAKS) {
        for (const [leak] of message.matchAll(pattern))
          if (!input.includes(leak)) problems.push(`error message leaks ${JSON.stringify(leak)}`);
      }
    }
  }
  return problems;
}
