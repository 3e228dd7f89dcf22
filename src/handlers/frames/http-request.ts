import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import {
  checkedText,
  clientMsgIdSchema,
  type FrameLimits,
  InvalidFrameError,
  nameSchema,
  roomSchema,
} from './inbound-frame.ts';
import './zod.ts';

/** The event every route of the publish API receives: API Gateway's HTTP API, payload 2.0, behind IAM. */
export type HttpApiEvent = APIGatewayProxyEventV2WithIAMAuthorizer;
export type HttpApiResult = APIGatewayProxyStructuredResultV2;

/** The routes of the publish API, as API Gateway names them in `routeKey`. */
export const HTTP_ROUTES = {
  publish: 'POST /rooms/{room}/messages',
  describe: 'GET /rooms/{room}',
  messages: 'GET /rooms/{room}/messages',
} as const;

/** The name a published message shows when its publisher gives none. */
export const DEFAULT_PUBLISHER_NAME = 'Notice';

/** Why a request was refused: the last part of its problem's `type`. */
export type ProblemCode =
  | 'invalid_json'
  | 'invalid_request'
  | 'empty_message'
  | 'message_too_large'
  | 'invalid_text'
  | 'invalid_room'
  | 'invalid_name'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'forbidden'
  | 'not_found'
  | 'rate_limited'
  | 'internal_error';

/** A problem's `type` (RFC 9457): a URN per code, which clients compare, never dereference. */
export const problemType = (code: ProblemCode): string => `urn:ws-chat:problem:${code}`;

/** A request the publish API refuses, with a status and a reason safe to show its caller. */
export class HttpProblemError extends Error {
  override readonly name = 'HttpProblemError';
  readonly status: number;
  readonly code: ProblemCode;
  /** Seconds to wait before asking again (a 429's `Retry-After`). */
  readonly retryAfter: number | undefined;

  constructor(
    status: number,
    code: ProblemCode,
    detail: string,
    options: { cause?: unknown; retryAfter?: number } = {},
  ) {
    super(detail, { cause: options.cause });
    this.status = status;
    this.code = code;
    this.retryAfter = options.retryAfter;
  }
}

/** What a caller of the publish API asked for, once its request is known to be well formed. */
export type HttpRequest =
  | {
      readonly route: 'publish';
      readonly room: string;
      readonly text: string;
      readonly name: string;
      readonly clientMsgId?: string;
    }
  | { readonly route: 'describe'; readonly room: string }
  | { readonly route: 'messages'; readonly room: string; readonly afterSeq?: number };

/** The body of a publish: the text, the caller's id for the message, and the name it shows. */
export const publishBodySchema = z.strictObject({
  text: z.string(),
  clientMsgId: z.optional(clientMsgIdSchema),
  name: z.optional(nameSchema),
});

/** `afterSeq` as a query string gives it: a decimal integer from 0. */
export const afterSeqQuerySchema = z.pipe(
  z.string().check(z.regex(/^(0|[1-9][0-9]{0,15})$/, 'afterSeq is a whole number from 0')),
  z.transform(Number),
);

const messagesQuerySchema = z.strictObject({ afterSeq: z.optional(afterSeqQuerySchema) });

const issuesOf = (error: z.core.$ZodError): string =>
  error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');

function roomOf(event: HttpApiEvent): string {
  const parsed = roomSchema.safeParse(event.pathParameters?.['room']);
  if (!parsed.success) throw new HttpProblemError(400, 'invalid_room', `room: ${issuesOf(parsed.error)}`);
  return parsed.data;
}

const utf8 = new TextEncoder();

function bodyOf(event: HttpApiEvent, limits: FrameLimits): unknown {
  const contentType = event.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType))
    throw new HttpProblemError(415, 'unsupported_media_type', 'send the body as application/json');
  const raw =
    event.body === undefined
      ? ''
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  const bytes = utf8.encode(raw).byteLength;
  if (bytes > limits.maxFrameBytes)
    throw new HttpProblemError(
      413,
      'body_too_large',
      `the body is ${bytes} bytes; the limit is ${limits.maxFrameBytes}`,
    );
  try {
    return JSON.parse(raw) as unknown;
  } catch (cause) {
    throw new HttpProblemError(400, 'invalid_json', 'the body is not JSON', { cause });
  }
}

function publishOf(event: HttpApiEvent, room: string, limits: FrameLimits): HttpRequest {
  const parsed = publishBodySchema.safeParse(bodyOf(event, limits));
  if (!parsed.success) {
    const onName = parsed.error.issues.every((issue) => issue.path[0] === 'name');
    throw new HttpProblemError(400, onName ? 'invalid_name' : 'invalid_request', issuesOf(parsed.error));
  }
  const { text, clientMsgId, name } = parsed.data;
  try {
    checkedText(text, limits);
  } catch (error) {
    if (error instanceof InvalidFrameError) {
      const code = error.code === 'empty_message' || error.code === 'message_too_large' ? error.code : 'invalid_text';
      throw new HttpProblemError(400, code, error.message);
    }
    throw error;
  }
  return {
    route: 'publish',
    room,
    text,
    name: name ?? DEFAULT_PUBLISHER_NAME,
    ...(clientMsgId !== undefined ? { clientMsgId } : {}),
  };
}

/** Reads a request of the publish API; throws an {@link HttpProblemError} naming what is wrong with it. */
export function parseHttpRequest(event: HttpApiEvent, limits: FrameLimits): HttpRequest {
  switch (event.routeKey) {
    case HTTP_ROUTES.publish:
      return publishOf(event, roomOf(event), limits);
    case HTTP_ROUTES.describe:
      return { route: 'describe', room: roomOf(event) };
    case HTTP_ROUTES.messages: {
      const room = roomOf(event);
      const parsed = messagesQuerySchema.safeParse(event.queryStringParameters ?? {});
      if (!parsed.success) throw new HttpProblemError(400, 'invalid_request', issuesOf(parsed.error));
      const { afterSeq } = parsed.data;
      return { route: 'messages', room, ...(afterSeq !== undefined ? { afterSeq } : {}) };
    }
    default:
      throw new HttpProblemError(404, 'not_found', `no route ${event.routeKey}`);
  }
}

/**
 * The caller as API Gateway's IAM authorizer verified it: its principal's ARN. Every route requires IAM, so a
 * request without one reached the function past API Gateway (a route without its authorizer) and is refused.
 */
export function callerOf(event: HttpApiEvent): string {
  const arn = event.requestContext.authorizer?.iam?.userArn;
  if (typeof arn !== 'string' || arn === '')
    throw new HttpProblemError(403, 'forbidden', 'this API requires requests signed with AWS Signature Version 4');
  return arn;
}
