/**
 * The server frames of src/domain/frames.ts as zod schemas, for the protocol document (asyncapi.yaml) and the
 * tests that check real traffic against it. No handler imports this module: frames leave the server as the
 * domain builds them, unchecked, so a delivery costs no validation and no bundle carries these schemas.
 * Each schema's output type must equal its domain interface, or the typecheck fails (see the end of the file).
 */
import * as z from 'zod/mini';
import type { ErrorCode, ServerFrame } from '../../domain/frames.ts';
import { ROSTER_PAGE_SIZE } from '../../domain/membership.ts';
import type { PresenceChange } from '../../domain/presence.ts';
import { cursorSchema } from './inbound-frame.ts';
import './zod.ts';

const text = (description: string) => z.string().check(z.describe(description));
const count = (description: string) => z.number().check(z.int(), z.gte(0), z.describe(description));
const timestamp = (description: string) => z.iso.datetime().check(z.describe(description));
const connectionId = (description = 'A connection id, as API Gateway names the connection.') => text(description);
const room = () => text('The room, in lower case.');
const revision = () =>
  count('The member\'s revision after this change: of two frames about one member, the higher "rev" is current.');

/** The codes of the error frames a client can receive. */
export const errorCodeSchema = z
  .enum([
    'binary_not_supported',
    'frame_too_large',
    'invalid_json',
    'invalid_frame',
    'unknown_action',
    'empty_message',
    'message_too_large',
    'invalid_room',
    'invalid_name',
    'name_locked',
    'unknown_connection',
    'conflict',
    'rate_limited',
    'internal_error',
  ])
  .check(z.describe('Why the frame was refused.'));

/** One change of a room's membership: someone joined, left or changed name. */
export const presenceChangeShape = {
  event: z.enum(['join', 'leave', 'rename']).check(z.describe('What happened.')),
  connectionId: connectionId('The member that joined, left or was renamed.'),
  name: text("The member's name after the change (a leave: its name when it left)."),
  userId: z.optional(text("The member's verified user id, when the chat authenticates its users.")),
  previousName: z.optional(text('The name before a rename.')),
  rev: revision(),
  at: timestamp('When the change happened (ISO 8601).'),
};

export const presenceChangeSchema = z
  .object(presenceChangeShape)
  .check(z.describe("One change of a room's membership: someone joined, left or changed name."));

export const chatMessageSchema = z
  .object({
    type: z.literal('message'),
    id: text("The message's id; clients drop repeats by it."),
    seq: count("Position in the room's history: later messages have higher numbers; clients order by it."),
    room: room(),
    from: connectionId(
      'The sender\'s connection id; "publisher:" and the name it showed for a message a backend service published ' +
        'through the publish API (no connection id has a ":").',
    ),
    name: text("The sender's display name when it sent the message."),
    userId: z.optional(text("The sender's verified user id, when the chat authenticates its users.")),
    text: text('The message text.'),
    sentAt: timestamp('When the server stored the message (ISO 8601).'),
  })
  .check(z.describe('A chat message as every member of its room receives it, the sender included.'));

export const echoFrameSchema = z
  .object({
    type: z.literal('echo'),
    id: text("The echo's id."),
    from: connectionId("The sender's connection id."),
    text: text('The text sent.'),
    sentAt: timestamp('When the server answered (ISO 8601).'),
  })
  .check(z.describe('A text sent back to its sender only; nothing is stored.'));

export const presenceFrameSchema = z
  .object({
    type: z.literal('presence'),
    room: room(),
    members: count('How many members the room has after the change.'),
    ...presenceChangeShape,
  })
  .check(
    z.describe(
      'One member joined, left or changed name, and nothing else changed in the room during that presence window.',
    ),
  );

export const presenceBatchFrameSchema = z
  .object({
    type: z.literal('presence_batch'),
    room: room(),
    members: count('How many members the room has after these changes.'),
    joined: count('How many members joined during the window.'),
    left: count('How many members left during the window.'),
    renamed: count('How many members were renamed during the window.'),
    changes: z
      .array(presenceChangeSchema)
      .check(z.describe('The changes, oldest first: all of them when "complete", otherwise only the first few.')),
    complete: z.boolean().check(z.describe('Whether "changes" lists every change counted.')),
  })
  .check(
    z.describe(
      "A room's membership changes of one presence window, oldest first, in one frame. When it is not " +
        'complete, keep a member count, not a roster, or ask "who".',
    ),
  );

export const rosterMemberSchema = z
  .object({
    connectionId: connectionId(),
    name: text("The member's name."),
    userId: z.optional(text("The member's verified user id, when the chat authenticates its users.")),
    rev: revision(),
  })
  .check(z.describe('One member of a room.'));

export const rosterFrameSchema = z
  .object({
    type: z.literal('roster'),
    room: room(),
    members: z
      .array(rosterMemberSchema)
      .check(z.maxLength(ROSTER_PAGE_SIZE), z.describe(`One page of the room's members, at most ${ROSTER_PAGE_SIZE}.`)),
    count: count('How many members the room has, as its joins and leaves counted them.'),
    next: z.optional(
      cursorSchema.check(z.describe('Send "who" with this cursor for the next page; absent on the last page.')),
    ),
  })
  .check(z.describe('One page of a room\'s members, sent to the connection that asked ("who").'));

export const welcomeFrameSchema = z
  .object({
    type: z.literal('welcome'),
    connectionId: connectionId("This connection's id."),
    room: room(),
    name: text("This connection's name."),
    replay: count('How many history messages follow this frame.'),
    rev: count('The connection\'s revision: of two welcomes (racing joins), the one with the higher "rev" is current.'),
    members: count('How many members the room has, this connection included.'),
  })
  .check(z.describe('Tells a connection who it is and where: the answer to "hello" and "join", before the replay.'));

/** What a stored and fanned-out message's ack counts: a member's `ack` frame, and the publish API's answer. */
export const deliveryCountsShape = {
  id: text("The stored message's id."),
  seq: count("The stored message's position in the room's history."),
  recipients: count('How many members the message was sent to.'),
  delivered: count('How many of them it reached.'),
  gone: count('How many of them had gone (and were taken out of the room).'),
  failed: count('How many deliveries failed for another reason.'),
  shards: z.optional(
    count(
      'In a room above the shard size: how many shard jobs took the fan-out over. The counts are then 0, since nothing was delivered yet when the ack was sent; the fan-out worker delivers to every member at least once.',
    ),
  ),
};

export const ackFrameSchema = z
  .object({
    type: z.literal('ack'),
    clientMsgId: text('The "clientMsgId" the sender gave its message.'),
    ...deliveryCountsShape,
  })
  .check(z.describe('Confirms to a sender that its message was stored and fanned out, with the delivery counts.'));

export const errorFrameSchema = z
  .object({
    type: z.literal('error'),
    code: errorCodeSchema,
    message: z
      .string()
      .check(z.minLength(1), z.describe('What was wrong, in words safe to show; never server detail.')),
    clientMsgId: z.optional(text("The client's id of the refused message, when it named one.")),
  })
  .check(z.describe('A refusal, sent to the one connection whose frame was refused; nothing else changed.'));

export const pongFrameSchema = z
  .object({ type: z.literal('pong'), connectionId: connectionId("This connection's id.") })
  .check(z.describe('The answer to a keep-alive "ping".'));

/** Every server frame's schema, by its `type`: a frame type missing here, or one too many, fails the typecheck. */
export const serverFrameSchemas = {
  message: chatMessageSchema,
  echo: echoFrameSchema,
  welcome: welcomeFrameSchema,
  presence: presenceFrameSchema,
  presence_batch: presenceBatchFrameSchema,
  roster: rosterFrameSchema,
  ack: ackFrameSchema,
  pong: pongFrameSchema,
  error: errorFrameSchema,
} satisfies Record<ServerFrame['type'], z.ZodMiniType>;

type Writable<T> = T extends readonly (infer Item)[]
  ? Writable<Item>[]
  : T extends object
    ? { -readonly [K in keyof T]: Writable<T[K]> }
    : T;
/** Whether two types are the same, optional fields and all (readonly aside). */
type Same<A, B> =
  (<T>() => T extends Writable<A> ? 1 : 2) extends <T>() => T extends Writable<B> ? 1 : 2 ? true : false;

type FrameOf<K extends ServerFrame['type']> = Extract<ServerFrame, { readonly type: K }>;
type Drifted =
  | {
      [K in ServerFrame['type']]: Same<FrameOf<K>, z.output<(typeof serverFrameSchemas)[K]>> extends true ? never : K;
    }[ServerFrame['type']]
  | (Same<PresenceChange, z.output<typeof presenceChangeSchema>> extends true ? never : 'PresenceChange')
  | (Same<ErrorCode, z.output<typeof errorCodeSchema>> extends true ? never : 'ErrorCode');

// A compile error here names the frame whose schema no longer matches src/domain/frames.ts.
const schemasMatchTheDomain: [Drifted] extends [never] ? true : { readonly drifted: Drifted } = true;
void schemasMatchTheDomain;
