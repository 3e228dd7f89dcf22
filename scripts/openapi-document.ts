/**
 * Builds openapi.yaml, the publish API as a machine-readable contract (OpenAPI 3.1), from the zod schemas: the
 * handler's own schemas for what callers send (src/handlers/frames/http-request.ts) and the schemas of its answers
 * (src/handlers/frames/http-response.ts). `npm run openapi` writes it; asyncapi.yaml is its WebSocket counterpart.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import * as z from 'zod/mini';
import { componentSchemas } from './json-schema-components.ts';
import {
  afterSeqQuerySchema,
  DEFAULT_PUBLISHER_NAME,
  type publishBodySchema,
} from '../src/handlers/frames/http-request.ts';
import {
  messagesPageSchema,
  problemSchema,
  publishResultSchema,
  roomSummarySchema,
} from '../src/handlers/frames/http-response.ts';
import { clientMsgIdSchema, nameSchema, roomSchema } from '../src/handlers/frames/inbound-frame.ts';
import { chatMessageSchema } from '../src/handlers/frames/outbound-frame.ts';

export const OPENAPI_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'openapi.yaml');
const PACKAGE_JSON = join(dirname(OPENAPI_PATH), 'package.json');

type Schema = z.ZodMiniType;
type Json = Record<string, unknown>;

const described = <T extends Schema>(schema: T, description: string): T => schema.check(z.describe(description)) as T;

/** The request body, its fields described for callers: the handler's fields, which the typecheck below ties it to. */
const publishRequestSchema = described(
  z.strictObject({
    text: described(
      z.string(),
      'The message text: not empty or only white space, without control characters other than tab, line feed and ' +
        'carriage return (U+0000 to U+001F, U+007F to U+009F), at most MAX_TEXT_BYTES (4 KiB) of UTF-8; the whole ' +
        "body at most MAX_FRAME_BYTES (16 KiB). The same rules as a member's message.",
    ),
    clientMsgId: z.optional(
      described(
        clientMsgIdSchema,
        "The caller's id for this message (1-64 visible ASCII characters): a retry with the same clientMsgId by the " +
          'same caller (IAM principal), for as long as the history keeps messages, is the same message, answered ' +
          'with the same id and seq and fanned out again, not stored again.',
      ),
    ),
    name: z.optional(
      described(
        nameSchema,
        `The name the message shows (default "${DEFAULT_PUBLISHER_NAME}"), by the rules of members' names: 1 to 32 ` +
          'characters, no control, invisible or direction-changing characters, no letters of two look-alike alphabets.',
      ),
    ),
  }),
  'A message from a backend service. Members receive it as a member\'s message whose "from" is "publisher:" ' +
    "and its name; the caller's identity is logged, never sent to members.",
);

type Body = z.output<typeof publishBodySchema>;
type Documented = z.output<typeof publishRequestSchema>;
// A compile error here: the documented body drifted from the one the handler reads.
const sameBody: Body extends Documented ? (Documented extends Body ? true : false) : false = true;
void sameBody;

/** One schema inline (a parameter's), without the registry's wrapping. */
function inlineSchema(schema: Schema): Json {
  const json: Json = { ...z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) };
  delete json['$schema'];
  return json;
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string): Json => ({ 'application/json': { schema: ref(name) } });
const problem = (description: string): Json => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

/** The refusals every route shares, by status. */
const COMMON_PROBLEMS: Record<string, Json> = {
  '400': problem('Bad input (a bad room name, body or query): the problem says what; nothing was changed.'),
  '403': {
    description:
      "API Gateway's IAM authorizer refused the request: unsigned, a bad signature, or a caller whose identity may " +
      'not execute-api:Invoke this route. API Gateway answers this, not the function: {"message": ...}.',
    content: {
      'application/json': {
        schema: {
          type: 'object',
          properties: { message: { type: 'string' } },
          required: ['message'],
        },
      },
    },
  },
  '429': {
    ...problem(
      'The caller spent its budget (PUBLISH_RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_SECONDS, all routes ' +
        'together): wait Retry-After seconds.',
    ),
    headers: { 'Retry-After': { schema: { type: 'integer', minimum: 1 } } },
  },
  '500': problem('The server failed; the detail tells nothing of why (the logs do). A publish may have been made.'),
};

/** The whole document, as a plain object. */
export function openApiDocument(): Json {
  const { version } = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string };
  const schemas = {
    ...componentSchemas({ PublishRequest: publishRequestSchema }, { io: 'input', target: 'draft-2020-12' }),
    ...componentSchemas(
      {
        PublishResult: publishResultSchema,
        RoomSummary: roomSummarySchema,
        MessagesPage: messagesPageSchema,
        ChatMessage: chatMessageSchema,
        Problem: problemSchema,
      },
      { io: 'output', target: 'draft-2020-12' },
    ),
  };
  const room = {
    name: 'room',
    in: 'path',
    required: true,
    description: 'The room: 1 to 32 letters, digits, "-" or "_", without regard to case. A room nobody is in is empty.',
    schema: inlineSchema(roomSchema),
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'ws-chat publish API',
      version,
      description:
        'Backend services publish into any room of the chat, and read a room, over HTTP. Every request is signed ' +
        'with AWS Signature Version 4 for the service "execute-api" in the API\'s region, with credentials whose ' +
        "identity may execute-api:Invoke the route (attach the stack's PublisherPolicy, output PublisherPolicyArn). " +
        "A published message takes a member's path: stored in the room's history with its seq, sent to every " +
        'member, replayed on reconnect.',
    },
    servers: [
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com',
        description: "A deployed stage (the stack's HttpApiUrl output)",
        variables: { apiId: { default: 'abc123' }, region: { default: 'us-east-1' } },
      },
      { url: 'http://127.0.0.1:3000', description: '`npm start` (signed as the local publisher by `npm run publish`)' },
    ],
    security: [{ sigv4: [] }],
    paths: {
      '/rooms/{room}/messages': {
        parameters: [room],
        post: {
          operationId: 'publish',
          summary: 'Publish a message into a room',
          requestBody: { required: true, content: json('PublishRequest') },
          responses: {
            '200': {
              description: "Stored and fanned out: a member's ack, as JSON.",
              content: json('PublishResult'),
            },
            ...COMMON_PROBLEMS,
            '413': problem('The body is larger than MAX_FRAME_BYTES.'),
            '415': problem('The body is not sent as application/json.'),
          },
        },
        get: {
          operationId: 'listMessages',
          summary: "A room's kept messages, oldest first",
          parameters: [
            {
              name: 'afterSeq',
              in: 'query',
              required: false,
              description: 'Only the messages numbered above this seq.',
              schema: inlineSchema(afterSeqQuerySchema),
            },
          ],
          responses: {
            '200': { description: 'The kept messages.', content: json('MessagesPage') },
            ...COMMON_PROBLEMS,
          },
        },
      },
      '/rooms/{room}': {
        parameters: [room],
        get: {
          operationId: 'describeRoom',
          summary: "A room's member count and the seq of its newest kept message",
          responses: { '200': { description: 'The room.', content: json('RoomSummary') }, ...COMMON_PROBLEMS },
        },
      },
    },
    components: {
      schemas,
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description:
            'AWS Signature Version 4 (service execute-api): the Authorization, X-Amz-Date and, with temporary ' +
            'credentials, X-Amz-Security-Token headers of an AWS SDK signer.',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
      },
    },
  };
}

/** The document as openapi.yaml holds it. */
export function openApiYaml(): string {
  return `# Generated by \`npm run openapi\` from the zod schemas; do not edit.\n${stringify(openApiDocument(), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
