import fc from 'fast-check';

/** One inbound WebSocket frame: text, or binary bytes. */
export type HostileFrame =
  { readonly kind: 'text'; readonly text: string } | { readonly kind: 'binary'; readonly bytes: Uint8Array };

const VALID_ACTIONS = ['sendmessage', 'echo', 'ping', 'hello', 'join', 'leave', 'setname', 'who'] as const;

/** API Gateway's own route keys: a client naming one as its action must not reach that route's handler. */
export const LIFECYCLE_ACTIONS = ['$connect', '$disconnect', '$default'] as const;

/** Code points that break naive code: lone and reversed surrogates, direction overrides, invisibles, specials. */
export const UNICODE_EDGES: readonly string[] = [
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  '\udc00\ud800',
  '\ud83d',
  '\ude00',
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u200e',
  '\u200f',
  '\u061c',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\ufeff',
  '\u00ad',
  '\u034f',
  '\u0000',
  '\u0001',
  '\u0007',
  '\u0008',
  '\u001b[31m',
  '\u007f',
  '\u0085',
  '\u009b',
  '\t',
  '\n',
  '\r',
  '\r\n',
  '\u000b',
  '\u000c',
  '\u2028',
  '\u2029',
  '\u00a0',
  '\u1680',
  '\u2003',
  '\u3000',
  '\ufffd',
  '\ufffe',
  '\uffff',
  '\u{10ffff}',
  '\u{e0001}',
  '\u{1f600}',
  '\u{1f469}\u200d\u{1f469}\u200d\u{1f467}',
  '\u{1f3f3}\ufe0f\u200d\u{1f308}',
  'e\u0301',
  'Z\u0337\u0322\u031ba\u0334l\u0335g\u0337o\u0336',
  '\ufdfa',
  '\u01c5',
  '\u0130',
  '\u00df',
  '\u05d0\u05d1',
  '\u0627\u0644',
  '\u{1d54f}',
  '\u{20000}',
  '{',
  '}',
  '[',
  ']',
  '"',
  '\\',
  '\\u0000',
  '\\ud800',
  '</script>',
  '<img src=x onerror=alert(1)>',
  '%00',
  '${x}',
  '{{x}}',
];

const edgeString = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...UNICODE_EDGES) },
      { weight: 1, arbitrary: fc.string({ maxLength: 4 }) },
    ),
    {
      maxLength: 24,
    },
  )
  .map((parts) => parts.join(''));

const anyString = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary-ascii', maxLength: 80 }),
  edgeString,
);

const validRoom = fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/);
const validName = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 32 }).filter((name) => name.trim().length > 0);
const validClientMsgId = fc.stringMatching(/^[\x21-\x7e]{1,64}$/);

/** Repeats `unit` until the result is at least `bytes` bytes of UTF-8. */
function sized(unit: string, bytes: number): string {
  const unitBytes = Math.max(1, Buffer.byteLength(unit, 'utf8'));
  return unit.repeat(Math.ceil(bytes / unitBytes));
}

/** Sizes around the handlers' limits (4 KiB of text, 16 KiB of frame) and far beyond them, up to 40 KB. */
const hugeSize = fc.oneof(
  fc.constantFrom(4_095, 4_096, 4_097, 16_383, 16_384, 16_385, 32_768, 40_000),
  fc.integer({ min: 1_000, max: 40_000 }),
);
const hugeUnit = fc.constantFrom(
  'x',
  ' ',
  '\u00e9',
  '\u{1f600}',
  '\u202e',
  '\ud800',
  '{',
  '\\',
  '"',
  'e\u0301',
  '\u200b',
);

const huge: fc.Arbitrary<string> = fc
  .tuple(hugeUnit, hugeSize, fc.constantFrom('plain', 'text', 'data', 'name', 'room', 'action', 'after', 'clientMsgId'))
  .map(([unit, size, field]) => {
    const filler = sized(unit, size);
    if (field === 'plain') return filler;
    const action =
      field === 'name' ? 'setname' : field === 'room' ? 'join' : field === 'after' ? 'hello' : 'sendmessage';
    return JSON.stringify(field === 'action' ? { action: filler, text: 'x' } : { action, [field]: filler });
  });

/** A value of any JSON type, including the wrong ones for every field. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: anyString },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(anyString, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }) },
  { weight: 2, arbitrary: validRoom },
  { weight: 2, arbitrary: validName },
);

const anyAction: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...VALID_ACTIONS) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'SENDMESSAGE',
      'sendMessage',
      ' sendmessage',
      'sendmessage ',
      'send message',
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      'valueOf',
      '',
      'sendmessage\u0000',
      'join\u202e',
      'x'.repeat(64),
      'x'.repeat(65),
      ...LIFECYCLE_ACTIONS,
    ),
  },
  { weight: 2, arbitrary: anyString },
  { weight: 1, arbitrary: anyValue },
);

/** JSON objects: known and unknown actions, fields of the right and wrong types, unknown extra fields. */
const jsonObject: fc.Arbitrary<string> = fc
  .record(
    {
      action: anyAction,
      text: fc.oneof({ weight: 3, arbitrary: anyString }, { weight: 1, arbitrary: anyValue }),
      data: anyValue,
      clientMsgId: fc.oneof({ weight: 2, arbitrary: validClientMsgId }, { weight: 1, arbitrary: anyValue }),
      room: fc.oneof({ weight: 3, arbitrary: validRoom }, { weight: 1, arbitrary: anyValue }),
      name: fc.oneof({ weight: 3, arbitrary: validName }, { weight: 1, arbitrary: anyValue }),
      after: fc.oneof(fc.string({ minLength: 1, maxLength: 64 }), anyValue),
      extra: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
    },
    { requiredKeys: [] },
  )
  .map(({ extra, ...fields }) => JSON.stringify({ ...extra, ...fields }));

/** Hand-written frames that no generator is likely to hit: prototype keys, duplicates, truncations, padding. */
const crafted = fc.constantFrom(
  '{"__proto__":{"action":"join","room":"admin"},"text":"x"}',
  '{"constructor":{"prototype":{"action":"who"}},"action":"sendmessage","text":"x"}',
  '{"action":"ping","action":"join","room":"dup"}',
  '{"action":"sendmessage","text":"a","text":42}',
  '{"action":"sendmessage","text":"\\ud800"}',
  '{"action":"setname","name":"\\udc00\\ud800"}',
  '{"action":"setname","name":"Ann\\u202eevil"}',
  '{"action":"setname","name":"   "}',
  '{"action":"setname","name":"Sender"}',
  '{"action":"join","room":"Alpha"}',
  '{"action":"join","room":"beta"}',
  '{"action":"join","room":"../../etc"}',
  '{"action":"hello","after":""}',
  '{"action":"sendmessage","text":"hi","clientMsgId":"has space"}',
  '{"action":"sendmessage","text":"hi","clientMsgId":""}',
  '{"action":"sendmessage"}',
  '{"action":null,"text":"null action"}',
  '{"action":["join"],"room":"x"}',
  '{"action":"sendmessage","data":"sample client"}',
  '{"text":"no action"}',
  '{}',
  '{',
  '}',
  '{"',
  '{"action":',
  '{"action":"sendmessage","text":"unterminated',
  ' \t\n{"action":"ping"}',
  '\ufeff{"action":"ping"}',
  '{"action":"ping"}\u0000',
  '{"action":"ping"} trailing',
  '[]',
  '[{"action":"join","room":"x"}]',
  '123',
  '-0',
  '1e999',
  'NaN',
  'null',
  'true',
  '"just a string"',
  '',
  ' ',
  '\u3000\u00a0\u2028',
  '\u200b',
);

const deepNesting: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 1, max: 9_000 }), fc.constantFrom('object', 'array', 'text', 'unbalanced'))
  .map(([depth, shape]) => {
    switch (shape) {
      case 'object':
        return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      case 'array':
        return `{"action":"sendmessage","text":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      case 'text':
        return `{"action":"sendmessage","text":"x","extra":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      default:
        return `{"action":"sendmessage","text":"x","extra":${'['.repeat(depth)}}`;
    }
  });

const literals: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null'),
  fc.array(anyValue, { maxLength: 4 }).map((values) => JSON.stringify(values)),
  fc.double().map(String),
);

const binary: fc.Arbitrary<HostileFrame> = fc
  .oneof(
    fc.uint8Array({ maxLength: 2_048 }),
    fc
      .constantFrom(
        '{"action":"sendmessage","text":"binary json"}',
        'plain text as binary',
        '{"action":"join","room":"binary"}',
      )
      .map((text) => new Uint8Array(Buffer.from(text, 'utf8'))),
  )
  .map((bytes) => ({ kind: 'binary', bytes }));

const text = (arbitrary: fc.Arbitrary<string>): fc.Arbitrary<HostileFrame> =>
  arbitrary.map((t) => ({ kind: 'text', text: t }));

/** Every kind of frame a hostile or broken client could send, valid ones included. */
export const hostileFrame: fc.Arbitrary<HostileFrame> = fc.oneof(
  { weight: 3, arbitrary: text(anyString) },
  { weight: 2, arbitrary: text(edgeString) },
  { weight: 1, arbitrary: text(huge) },
  { weight: 6, arbitrary: text(jsonObject) },
  { weight: 1, arbitrary: text(crafted) },
  { weight: 1, arbitrary: text(deepNesting) },
  { weight: 1, arbitrary: text(literals) },
  { weight: 1, arbitrary: binary },
);

/** A short description of a frame for a failure message. */
export function describeFrame(frame: HostileFrame): string {
  if (frame.kind === 'binary') return `binary ${frame.bytes.byteLength} bytes`;
  const shown = JSON.stringify(frame.text);
  return shown.length > 200 ? `${shown.slice(0, 200)}… (${frame.text.length} UTF-16 units)` : shown;
}

/** The frame's text as a server sees it after a WebSocket carried it: UTF-8 replaces lone surrogates with U+FFFD. */
export function overTheWire(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** Whether a frame names one of API Gateway's lifecycle routes as its action (see {@link LIFECYCLE_ACTIONS}). */
export function namesLifecycleRoute(frame: HostileFrame): boolean {
  if (frame.kind !== 'text') return false;
  try {
    const json: unknown = JSON.parse(frame.text);
    const action = typeof json === 'object' && json !== null && 'action' in json ? json.action : undefined;
    return (LIFECYCLE_ACTIONS as readonly unknown[]).includes(action);
  } catch {
    return false;
  }
}
