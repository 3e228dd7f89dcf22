/**
 * The publish API's answers as zod schemas, for its OpenAPI document (openapi.yaml) and the tests that check real
 * traffic against it. The handler imports only their types: its answers leave unchecked, and no bundle carries these.
 */
import * as z from 'zod/mini';
import type { RoomSummary } from '../../domain/chat-service.ts';
import { chatMessageSchema, deliveryCountsShape } from './outbound-frame.ts';
import type { ProblemCode } from './http-request.ts';
import './zod.ts';

const count = (description: string) => z.number().check(z.int(), z.gte(0), z.describe(description));
const text = (description: string) => z.string().check(z.describe(description));

export const publishResultSchema = z
  .object({
    clientMsgId: z.optional(text('The "clientMsgId" the request gave, when it gave one.')),
    ...deliveryCountsShape,
  })
  .check(z.describe("The message was stored in the room's history and fanned out: a member's ack, as JSON."));

export const roomSummarySchema = z
  .object({
    room: text('The room, in lower case.'),
    members: count('How many members the room has; 0 for a room nobody is in or ever used.'),
    latestSeq: count('The "seq" of the newest message the room keeps; 0 when it keeps none.'),
  })
  .check(z.describe('A room as it is now.'));

export const messagesPageSchema = z
  .object({
    room: text('The room, in lower case.'),
    messages: z
      .array(chatMessageSchema)
      .check(z.describe('The kept messages (the newest 50 at most, within the history retention), oldest first.')),
  })
  .check(z.describe("A room's kept messages, numbered above afterSeq when it was given."));

export const PROBLEM_CODES = [
  'invalid_json',
  'invalid_request',
  'empty_message',
  'message_too_large',
  'invalid_text',
  'invalid_room',
  'invalid_name',
  'body_too_large',
  'unsupported_media_type',
  'forbidden',
  'not_found',
  'rate_limited',
  'internal_error',
] as const satisfies readonly ProblemCode[];

export const problemSchema = z
  .object({
    type: z
      .enum(PROBLEM_CODES.map((code) => `urn:ws-chat:problem:${code}` as const))
      .check(z.describe('What kind of problem: compare it, never dereference it.')),
    title: text("The status code's reason phrase."),
    status: z.number().check(z.int(), z.gte(400), z.lte(599), z.describe('The HTTP status code.')),
    detail: z.string().check(z.minLength(1), z.describe('What was wrong, in words safe to show; never server detail.')),
  })
  .check(z.describe('An RFC 9457 problem (application/problem+json): why the request was refused or failed.'));

export type PublishResult = z.output<typeof publishResultSchema>;
export type MessagesPage = z.output<typeof messagesPageSchema>;

type Missing = Exclude<ProblemCode, (typeof PROBLEM_CODES)[number]>;
// A compile error here names a problem code the document would not list, or a summary that drifted from the domain.
const complete: [Missing] extends [never] ? true : { readonly missing: Missing } = true;
const sameSummary: z.output<typeof roomSummarySchema> extends RoomSummary
  ? RoomSummary extends z.output<typeof roomSummarySchema>
    ? true
    : false
  : false = true;
void complete;
void sameSummary;
