/**
 * Builds asyncapi.yaml, the chat protocol as a machine-readable contract (AsyncAPI 3.0), from the zod schemas:
 * the handlers' own schemas for what clients send (src/handlers/frames/inbound-frame.ts) and the schemas of
 * the domain's server frames (src/handlers/frames/outbound-frame.ts). `npm run asyncapi` writes it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import * as z from 'zod/mini';
import { componentSchemas } from './json-schema-components.ts';
import type { ErrorCode, ServerFrame } from '../src/domain/frames.ts';
import { ROSTER_PAGE_SIZE } from '../src/domain/membership.ts';
import {
  afterSchema,
  afterSeqSchema,
  type ChatRequest,
  clientIdSchema,
  clientMsgIdSchema,
  cursorSchema,
  nameSchema,
  roomSchema,
} from '../src/handlers/frames/inbound-frame.ts';
import {
  errorCodeSchema,
  presenceChangeSchema,
  presenceChangeShape,
  rosterMemberSchema,
  serverFrameSchemas,
} from '../src/handlers/frames/outbound-frame.ts';

export const ASYNCAPI_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'asyncapi.yaml');
const PACKAGE_JSON = join(dirname(ASYNCAPI_PATH), 'package.json');

type Action = NonNullable<ChatRequest['action']>;
type Schema = z.ZodMiniType;
type Json = Record<string, unknown>;

/** The key of a client frame's message in the document: by its action, `text` for JSON without one, `plain` for any other text. */
export type ClientMessageKey = `client.${Action | 'text' | 'plain'}`;
/** The key of a server frame's message in the document: by its type. */
export type ServerMessageKey = `server.${ServerFrame['type']}`;

const described = <T extends Schema>(schema: T, description: string): T => schema.check(z.describe(description)) as T;
/** A schema with the title by which code generators name its type (`AnonymousSchema_12` otherwise). */
const titled = <T extends Schema>(schema: T, title: string): T => schema.check(z.meta({ title })) as T;

const replayFrom = {
  after: z.optional(described(afterSchema, 'The id of the last message the client has (older form of "afterSeq").')),
  afterSeq: z.optional(
    described(
      afterSeqSchema,
      'Replay the kept messages numbered above this "seq": the highest below which the client has every message.',
    ),
  ),
};

const clientMsgId = z.optional(
  described(
    clientMsgIdSchema,
    'The client\'s id for this message (1-64 visible ASCII characters); the sender then gets an "ack". Sent again ' +
      'after an "error" naming it, or after a reconnect without its "ack", by the same sender (the signed-in user; ' +
      'else the same "clientId"; else the same connection), it is the same message, not a new one. Unique per sender ' +
      'for as long as the history keeps messages.',
  ),
);
const clientId = z.optional(
  described(
    clientIdSchema,
    "The sending page's own id (1-64 visible ASCII characters), the same on every connection it makes: a resend " +
      'with the same "clientMsgId" from a new connection is known as one. Choose it at random and show it to no one.',
  ),
);
const textField = (description: string) => described(z.string(), description);

/**
 * A frame that carries a message text, as "text" or (the AWS sample client's shape) as "data": a union of the two
 * shapes, titled `<name>WithText` and `<name>WithData`.
 */
function textFrame(name: string, action: Json, description: string): Schema {
  const text = textField(
    'The message text: not empty or only white space, without control characters other than tab, line feed and ' +
      'carriage return (U+0000 to U+001F, U+007F to U+009F), at most MAX_TEXT_BYTES (4 KiB) of UTF-8.',
  );
  const data = textField('The message text, in the AWS sample client\'s shape; "text" wins when both are given.');
  return described(
    z.union([
      titled(z.strictObject({ ...action, text, data: z.optional(data), clientMsgId, clientId }), `${name}WithText`),
      titled(z.strictObject({ ...action, text: z.optional(text), data, clientMsgId, clientId }), `${name}WithData`),
    ]),
    description,
  );
}

const action = <A extends Action>(name: A) => ({ action: described(z.literal(name), 'Selects the route.') });

/** Client frames are requests in components.schemas (`HelloRequest`), so no name meets a server frame's (`EchoFrame`). */
const schemaName = (key: Action | 'text' | 'plain'): string =>
  `${{ plain: 'PlainText', sendmessage: 'SendMessage', setname: 'SetName' }[key as string] ?? `${key[0]?.toUpperCase()}${key.slice(1)}`}Request`;

interface ClientFrame {
  readonly schema: Schema;
  readonly summary: string;
  readonly contentType?: string;
  /** The server frames that answer it, to the sender. */
  readonly replies: readonly ServerFrame['type'][];
  readonly example: unknown;
}

/** Every client frame: a route the server knows and has no entry here fails the typecheck. */
const CLIENT_FRAMES: Record<Action | 'text' | 'plain', ClientFrame> = {
  plain: {
    schema: described(
      z.string().check(z.regex(/^(?!\s*\{)/)),
      'Any text frame that does not start with "{" (after white space) is a chat message, as if sent with "text".',
    ),
    contentType: 'text/plain',
    summary: "A chat message as plain text (wscat): posted to the sender's room, or echoed (CHAT_MODE=echo).",
    replies: ['echo', 'error'],
    example: 'dinner?',
  },
  text: {
    schema: textFrame(schemaName('text'), {}, 'A chat message as JSON without an action: the same as plain text.'),
    summary: 'A chat message as JSON without an action: the same as plain text.',
    replies: ['echo', 'ack', 'error'],
    example: { text: 'dinner?' },
  },
  sendmessage: {
    schema: textFrame(schemaName('sendmessage'), action('sendmessage'), "Posts a message to the sender's room."),
    summary:
      'Stores the message in the room\'s history and sends it to everyone in the room, the sender included; with "clientMsgId", then an "ack" to the sender.',
    replies: ['ack', 'error'],
    example: { action: 'sendmessage', text: 'dinner?', clientMsgId: 'c-1', clientId: 'p-5c1f0e9a' },
  },
  echo: {
    schema: textFrame(schemaName('echo'), action('echo'), 'Asks for the text back.'),
    summary: 'An "echo" frame to the sender only; nothing stored.',
    replies: ['echo', 'error'],
    example: { action: 'echo', text: 'testing' },
  },
  hello: {
    schema: described(
      z.strictObject({ ...action('hello'), ...replayFrom }),
      'The first frame of a connection, and the way to ask for missed messages.',
    ),
    summary:
      'A "welcome", the history replay (messages numbered above "afterSeq" when given) and, the first time only, a "join" presence to the room.',
    replies: ['welcome', 'message', 'error'],
    example: { action: 'hello', afterSeq: 41 },
  },
  join: {
    schema: described(
      z.strictObject({
        ...action('join'),
        room: described(roomSchema, 'The room: 1-32 letters, digits, "-" or "_", compared without case.'),
        ...replayFrom,
      }),
      'Moves the caller to a room.',
    ),
    summary:
      'Moves the caller: the old room hears a leave, the caller gets a "welcome" and the new room\'s history, the new room hears a join.',
    replies: ['welcome', 'message', 'error'],
    example: { action: 'join', room: 'kitchen', afterSeq: 41 },
  },
  leave: {
    schema: described(z.strictObject(action('leave')), 'Goes back to the lobby.'),
    summary: 'The same as joining "lobby".',
    replies: ['welcome', 'message', 'error'],
    example: { action: 'leave' },
  },
  setname: {
    schema: described(
      z.strictObject({
        ...action('setname'),
        name: described(
          nameSchema,
          'The new name: 1-32 characters once trimmed, without control, invisible, formatting, blank-looking or ' +
            'direction-changing characters; holding a visible letter, digit, punctuation mark or symbol, and not ' +
            'starting with a combining mark; with letters of at most one of the look-alike alphabets (Latin, ' +
            'Greek, Cyrillic, Armenian, Cherokee, Coptic, Lisu); and without "(you)".',
        ),
      }),
      'Renames the caller.',
    ),
    summary: 'Renames the caller; the room hears a "rename" presence.',
    replies: ['error'],
    example: { action: 'setname', name: 'Ann' },
  },
  who: {
    schema: described(
      z.strictObject({
        ...action('who'),
        cursor: z.optional(
          described(
            cursorSchema,
            'The "next" of the previous roster page, unchanged: it names where the next page starts, nothing more.',
          ),
        ),
      }),
      `Asks for the room's members, a page of up to ${ROSTER_PAGE_SIZE} at a time.`,
    ),
    summary: 'A "roster" frame: one page of the room\'s members.',
    replies: ['roster', 'error'],
    example: { action: 'who' },
  },
  ping: {
    schema: described(
      z.strictObject(action('ping')),
      'A keep-alive: API Gateway closes a connection idle for 10 minutes.',
    ),
    summary: 'Answered with "pong".',
    replies: ['pong', 'error'],
    example: { action: 'ping' },
  },
};

/** What each error code means; a code missing here fails the typecheck. */
export const ERROR_CODE_MEANINGS: Record<ErrorCode, string> = {
  binary_not_supported: 'a binary frame',
  frame_too_large: "the frame is over MAX_FRAME_BYTES (16 KiB by default; API Gateway's own limit is 32 KB)",
  invalid_json: 'the frame starts with "{" but is not valid JSON',
  invalid_frame:
    'JSON of the wrong shape (e.g. "text" not a string, or missing; a bad "clientMsgId", "after", "afterSeq" or "cursor")',
  unknown_action: 'an "action" the server does not know',
  empty_message: 'the text is empty or only white space',
  message_too_large: 'the text is over MAX_TEXT_BYTES (4 KiB of UTF-8 by default)',
  invalid_room: 'a "join" to a room name outside the rules',
  invalid_name: 'a "setname" with a name outside the rules',
  name_locked: 'a "setname" on a connection whose name its token gives',
  unknown_connection: 'the connection has no record (it expired); reconnect',
  conflict: "the connection's record kept changing under this frame; nothing was changed, try again",
  rate_limited:
    "the connection sent more than its rate limit allows; the rest of the window's frames are dropped silently",
  internal_error: 'the server failed; the message says nothing more, the details are in the logs',
};

/** Example server frames, one per type; the unit tests check each against its schema. */
const SERVER_EXAMPLES: { [K in ServerFrame['type']]: Extract<ServerFrame, { type: K }> } = {
  message: {
    type: 'message',
    id: '4f1c2b1e-0d4a-4d6e-9a53-5f0f3b1c9e21',
    seq: 42,
    room: 'kitchen',
    from: 'Qa9ZcdR1IAMCKlg=',
    name: 'Bob',
    text: 'dinner?',
    sentAt: '2026-11-27T21:20:01.112Z',
  },
  echo: {
    type: 'echo',
    id: '8f0c5e2a-6b1d-4c3e-8a7f-2d9e1b0c4a56',
    from: 'Xk3pZcdR1IAMCKl=',
    text: 'testing',
    sentAt: '2026-11-27T21:25:15.052Z',
  },
  welcome: {
    type: 'welcome',
    connectionId: 'Xk3pZcdR1IAMCKl=',
    room: 'kitchen',
    name: 'Ann',
    replay: 1,
    rev: 2,
    members: 3,
  },
  presence: {
    type: 'presence',
    event: 'join',
    room: 'kitchen',
    members: 3,
    connectionId: 'Xk3pZcdR1IAMCKl=',
    name: 'Ann',
    rev: 2,
    at: '2026-11-27T21:25:14.981Z',
  },
  presence_batch: {
    type: 'presence_batch',
    room: 'kitchen',
    members: 4,
    joined: 2,
    left: 0,
    renamed: 1,
    changes: [
      { event: 'join', connectionId: 'Xk3pZcdR1IAMCKl=', name: 'Ann', rev: 2, at: '2026-11-27T21:25:14.981Z' },
      { event: 'join', connectionId: 'Lm4qZcdR1IAMCKm=', name: 'Cem', rev: 2, at: '2026-11-27T21:25:15.204Z' },
      {
        event: 'rename',
        connectionId: 'Qa9ZcdR1IAMCKlg=',
        name: 'Robert',
        previousName: 'Bob',
        rev: 5,
        at: '2026-11-27T21:25:15.730Z',
      },
    ],
    complete: true,
  },
  roster: {
    type: 'roster',
    room: 'kitchen',
    members: [
      { connectionId: 'Qa9ZcdR1IAMCKlg=', name: 'Bob', rev: 4 },
      { connectionId: 'Xk3pZcdR1IAMCKl=', name: 'Ann', rev: 2 },
    ],
    count: 2,
  },
  ack: {
    type: 'ack',
    clientMsgId: 'c-1',
    id: '8f0c5e2a-6b1d-4c3e-8a7f-2d9e1b0c4a56',
    seq: 43,
    recipients: 3,
    delivered: 3,
    gone: 0,
    failed: 0,
  },
  pong: { type: 'pong', connectionId: 'Xk3pZcdR1IAMCKl=' },
  error: { type: 'error', code: 'invalid_room', message: 'room: a room name is 1 to 32 letters, digits, "-" or "_"' },
};

const SERVER_SUMMARIES: Record<ServerFrame['type'], string> = {
  message: 'A message in the room, to every member, the sender included (before its "ack").',
  echo: 'An echo, to its sender only.',
  welcome: 'The answer to "hello", "join" and "leave"; "replay" message frames of history follow it.',
  presence: 'Someone joined, left (or disconnected) or was renamed, alone in its presence window.',
  presence_batch: 'The membership changes of one presence window, in one frame.',
  roster: 'The answer to "who": one page of the room\'s members.',
  ack: 'The sender\'s message with that "clientMsgId" was stored and fanned out.',
  pong: 'The answer to "ping".',
  error: "The sender's frame was refused; sent to that sender only, nothing else changed.",
};

/** Schema names in components.schemas, as client code generators will name their types. */
const SERVER_SCHEMA_NAMES: Record<ServerFrame['type'], string> = {
  message: 'MessageFrame',
  echo: 'EchoFrame',
  welcome: 'WelcomeFrame',
  presence: 'PresenceFrame',
  presence_batch: 'PresenceBatchFrame',
  roster: 'RosterFrame',
  ack: 'AckFrame',
  pong: 'PongFrame',
  error: 'ErrorFrame',
};

const handshakeQuerySchema = z.strictObject({
  room: z.optional(
    described(roomSchema, 'The room to start in (default "lobby"); a bad room refuses the handshake with 400.'),
  ),
  name: z.optional(
    described(nameSchema, 'The display name (default "Guest xxxx"); a bad name refuses the handshake with 400.'),
  ),
  // The authorizer's own bound (src/handlers/functions/authorizer.ts).
  token: z.optional(
    described(
      z.string().check(z.minLength(1), z.maxLength(8192)),
      'A JWT; required when the stack is deployed with authMode=jwt (browsers cannot set headers on a WebSocket handshake).',
    ),
  ),
});

function mergedWithoutClash(...parts: Record<string, Json>[]): Record<string, Json> {
  const merged: Record<string, Json> = {};
  for (const part of parts) {
    for (const [name, schema] of Object.entries(part)) {
      if (name in merged) throw new Error(`two schemas are named ${name} in components.schemas`);
      merged[name] = schema;
    }
  }
  return merged;
}

const ref = (path: string): Json => ({ $ref: path });
const CHANNEL = '#/channels/chat';

/** The whole document, as a plain object. */
export function asyncApiDocument(): Json {
  const { version } = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string };
  const clientKeys = Object.keys(CLIENT_FRAMES) as (keyof typeof CLIENT_FRAMES)[];
  const serverTypes = Object.keys(serverFrameSchemas) as ServerFrame['type'][];

  const schemas = mergedWithoutClash(
    componentSchemas(
      {
        ...Object.fromEntries(clientKeys.map((key) => [schemaName(key), CLIENT_FRAMES[key].schema])),
        HandshakeQuery: handshakeQuerySchema,
      },
      { io: 'input', target: 'draft-07', titled: true },
    ),
    componentSchemas(
      {
        ...Object.fromEntries(serverTypes.map((type) => [SERVER_SCHEMA_NAMES[type], serverFrameSchemas[type]])),
        PresenceChange: presenceChangeSchema,
        PresenceEvent: presenceChangeShape.event,
        RosterMember: rosterMemberSchema,
        ErrorCode: errorCodeSchema,
      },
      { io: 'output', target: 'draft-07', titled: true },
    ),
    {
      ServerFrame: {
        title: 'ServerFrame',
        description:
          'Any frame the server sends, told apart by its "type". Each frame\'s schema lists every field this version ' +
          'sends and no other, so that generated types are exact and the tests catch a field sent by mistake. A ' +
          'later version may add fields and frame types: a client ignores a field or a "type" it does not know, ' +
          'rather than refusing the frame.',
        oneOf: serverTypes.map((type) => ref(`#/components/schemas/${SERVER_SCHEMA_NAMES[type]}`)),
        discriminator: 'type',
      },
      ClientFrame: {
        title: 'ClientFrame',
        description:
          'Any frame a client sends: plain text, or JSON routed by its "action" (a chat message may have none). ' +
          'Each schema lists every field the server reads; a client sends no other.',
        oneOf: clientKeys.map((key) => ref(`#/components/schemas/${schemaName(key)}`)),
      },
    },
  );

  const messages: Record<string, Json> = {};
  for (const key of clientKeys) {
    const frame = CLIENT_FRAMES[key];
    messages[`client.${key}`] = {
      name: key,
      title: key === 'plain' ? 'plain text' : key === 'text' ? 'text (no action)' : key,
      summary: frame.summary,
      ...(frame.contentType === undefined ? {} : { contentType: frame.contentType }),
      payload: ref(`#/components/schemas/${schemaName(key)}`),
      examples: [{ payload: frame.example }],
    };
  }
  for (const type of serverTypes) {
    messages[`server.${type}`] = {
      name: type,
      title: type,
      summary: SERVER_SUMMARIES[type],
      ...(type === 'error'
        ? {
            description: [
              '| code | meaning |',
              '| --- | --- |',
              ...Object.entries(ERROR_CODE_MEANINGS).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`),
            ].join('\n'),
          }
        : {}),
      payload: ref(`#/components/schemas/${SERVER_SCHEMA_NAMES[type]}`),
      examples: [{ payload: SERVER_EXAMPLES[type] }],
    };
  }

  const messageRefs = (keys: readonly string[]): Json[] => keys.map((key) => ref(`${CHANNEL}/messages/${key}`));
  const operations: Record<string, Json> = {};
  for (const key of clientKeys) {
    operations[`receive.${key}`] = {
      action: 'receive',
      channel: ref(CHANNEL),
      summary: CLIENT_FRAMES[key].summary,
      messages: messageRefs([`client.${key}`]),
      reply: {
        channel: ref(CHANNEL),
        messages: messageRefs(CLIENT_FRAMES[key].replies.map((type) => `server.${type}`)),
      },
    };
  }
  operations['send.message'] = {
    action: 'send',
    channel: ref(CHANNEL),
    summary: 'A message to every member of its room, the sender included.',
    messages: messageRefs(['server.message']),
  };
  operations['send.presence'] = {
    action: 'send',
    channel: ref(CHANNEL),
    summary: "A room's membership changes, at most once per presence window.",
    messages: messageRefs(['server.presence', 'server.presence_batch']),
  };

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'ws-chat-backend',
      version,
      description: [
        'A serverless WebSocket chat: API Gateway WebSocket API, Lambda and DynamoDB.',
        '',
        'Connect (optionally with `?room=&name=`, and `?token=` when the stack authenticates), then send',
        '`{"action":"hello"}`: the server answers with a `welcome`, replays the room\'s history and tells the',
        'room. Clients order messages by `seq` and drop repeats by `id`; of two presence or welcome frames',
        'about one connection, the one with the higher `rev` is current. Every frame a client sends is',
        'routed by its `action` (`$request.body.action`); every frame the server sends has a `type`.',
        "`ServerFrame` and `ClientFrame` are the unions of each side's frames; `npm run client-types -- <file.ts>`",
        'writes TypeScript types of them all (docs/client-types.md).',
        '',
        'Generated from the zod schemas by `npm run asyncapi`; do not edit by hand.',
      ].join('\n'),
      license: { name: 'MIT' },
    },
    defaultContentType: 'application/json',
    servers: {
      local: {
        host: '127.0.0.1:3001',
        protocol: 'ws',
        description: 'The local stack `npm start` runs (serverless-offline and an embedded DynamoDB).',
      },
      aws: {
        host: '{apiId}.execute-api.{region}.amazonaws.com',
        pathname: '/{stage}',
        protocol: 'wss',
        description: 'The API Gateway WebSocket API `npm run deploy` creates.',
        variables: {
          apiId: { description: 'The WebSocket API id, printed by the deploy.' },
          region: { default: 'us-east-1' },
          stage: { default: 'dev' },
        },
        security: [ref('#/components/securitySchemes/token')],
      },
    },
    channels: {
      chat: {
        address: '/',
        title: 'The chat connection',
        description:
          'One WebSocket per client. API Gateway cannot send during the handshake, so a client speaks first ("hello").',
        messages: Object.fromEntries(Object.keys(messages).map((key) => [key, ref(`#/components/messages/${key}`)])),
        bindings: {
          ws: {
            method: 'GET',
            query: ref('#/components/schemas/HandshakeQuery'),
            headers: {
              type: 'object',
              properties: {
                Origin: {
                  type: 'string',
                  description:
                    "Checked against the stack's allowedOrigins when set (403 otherwise); clients other than browsers send none.",
                },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
      },
    },
    operations,
    components: {
      schemas,
      messages,
      securitySchemes: {
        token: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description:
            'A JWT, verified by the $connect authorizer when the stack is deployed with authMode=jwt: 401 without one, 403 when it is bad.',
        },
      },
    },
  };
}

/** The document as the YAML text that asyncapi.yaml must hold. */
export function asyncApiYaml(): string {
  return `# Generated by \`npm run asyncapi\` from the zod schemas (scripts/asyncapi-document.ts); do not edit.\n${stringify(asyncApiDocument(), { lineWidth: 0 })}`;
}
