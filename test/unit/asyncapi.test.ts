import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { ASYNCAPI_PATH, asyncApiYaml } from '../../scripts/asyncapi-document.ts';
import { ProtocolContract } from '../support/protocol-contract.ts';

interface JsonSchema {
  readonly title?: string;
  readonly $ref?: string;
  readonly properties?: Record<string, JsonSchema>;
  readonly required?: readonly string[];
  readonly enum?: readonly string[];
  readonly items?: JsonSchema;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly additionalProperties?: boolean | JsonSchema;
}
interface Message {
  readonly payload: { readonly $ref: string };
  readonly examples?: ReadonlyArray<{ readonly payload: unknown }>;
}
interface Document {
  readonly components: { readonly messages: Record<string, Message>; readonly schemas: Record<string, JsonSchema> };
}

const committed = readFileSync(ASYNCAPI_PATH, 'utf8');
const document = parse(committed) as Document;
const contract = new ProtocolContract(committed);
// The protocol's reference for people, whose tables must list what the document does.
const readme = readFileSync(join(ASYNCAPI_PATH, '..', 'docs', 'protocol.md'), 'utf8');

function payloadOf(key: string): JsonSchema {
  const message = document.components.messages[key];
  const name = message?.payload.$ref.replace('#/components/schemas/', '');
  const schema = name === undefined ? undefined : document.components.schemas[name];
  if (schema === undefined) throw new Error(`asyncapi.yaml has no payload schema for ${key}`);
  return schema;
}

/** Every schema inside `schema` (itself included), each with its path, following no $ref. */
function* subSchemas(schema: JsonSchema, path: string): Generator<[string, JsonSchema]> {
  yield [path, schema];
  for (const [name, property] of Object.entries(schema.properties ?? {}))
    yield* subSchemas(property, `${path}.properties.${name}`);
  if (schema.items !== undefined) yield* subSchemas(schema.items, `${path}.items`);
  for (const keyword of ['anyOf', 'oneOf'] as const)
    for (const [i, branch] of (schema[keyword] ?? []).entries()) yield* subSchemas(branch, `${path}.${keyword}.${i}`);
  if (typeof schema.additionalProperties === 'object')
    yield* subSchemas(schema.additionalProperties, `${path}.additionalProperties`);
}

/** The names of the component schemas that `name` refers to, itself included, however deep. */
function reachable(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen;
  seen.add(name);
  const schema = document.components.schemas[name];
  if (schema === undefined) throw new Error(`asyncapi.yaml has no schema ${name}`);
  for (const [, sub] of subSchemas(schema, name))
    if (sub.$ref !== undefined) reachable(sub.$ref.replace('#/components/schemas/', ''), seen);
  return seen;
}

const payloadRefs = (prefix: string): string[] =>
  Object.entries(document.components.messages)
    .filter(([key]) => key.startsWith(prefix))
    .map(([, message]) => message.payload.$ref)
    .sort();

/** The rows of docs/protocol.md's table under `heading`, as the text of their first cell. */
function firstCells(heading: string): string[] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`docs/protocol.md has no "${heading}" section`);
  const section = readme.slice(start + heading.length + 2).split(/\n#{2,3} /)[0] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| ---'))
    .slice(1)
    .map((line) => (/^\| (.*?) \| /.exec(line)?.[1] ?? '').replace(/\\\|/g, '|'));
}

/** The fields a server frames row lists, `?` marking an optional one: `{"type":"ack","id","seq"?}`. */
function fieldsOfRow(row: string): string[] {
  const withoutValues = row
    .replace(/^`|`$/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/:"[^"]*"(\|"[^"]*")*/g, '');
  return [...withoutValues.matchAll(/"(\w+)"(\?)?/g)].map(([, name, optional]) => `${name}${optional ?? ''}`);
}

describe('asyncapi.yaml, the protocol document', () => {
  it('is what the zod schemas produce (run `npm run asyncapi` and commit asyncapi.yaml when this fails)', () => {
    const generated = asyncApiYaml();
    if (committed !== generated) {
      const [ours, theirs] = [committed.split('\n'), generated.split('\n')];
      const line = ours.findIndex((text, i) => text !== theirs[i]);
      throw new Error(
        'asyncapi.yaml differs from what the zod schemas produce: run `npm run asyncapi` and commit the result.\n' +
          `First difference at line ${line + 1}:\n  committed: ${ours[line]}\n  generated: ${theirs[line]}`,
      );
    }
  });

  it('is a valid AsyncAPI document to @asyncapi/parser, with no error or warning', async () => {
    const { document: parsed, diagnostics } = await new Parser().parse(committed);

    const problems = diagnostics
      .filter((diagnostic) => diagnostic.severity <= 1)
      .map((diagnostic) => `${diagnostic.code}: ${diagnostic.message} at ${diagnostic.path.join('.')}`);
    expect(problems).toEqual([]);
    expect(parsed?.version()).toBe('3.0.0');
    expect(parsed?.channels().get('chat')?.bindings().get('ws')?.value()).toMatchObject({ method: 'GET' });
  });

  it('gives every message an example that its own schema accepts', () => {
    const problems = Object.entries(document.components.messages).flatMap(([key, message]) => {
      const examples = message.examples ?? [];
      if (examples.length === 0) return [`${key} has no example`];
      return examples.flatMap(({ payload }) =>
        key.startsWith('server.')
          ? contract.serverFrameProblems(JSON.stringify(payload))
          : contract.clientFrameProblems(typeof payload === 'string' ? payload : JSON.stringify(payload)),
      );
    });

    expect(problems).toEqual([]);
  });
});

describe('asyncapi.yaml, as the input of client code generators', () => {
  it('titles every schema a generator makes a type of: each component, and each object, enum or union inside one', () => {
    const untitled = Object.entries(document.components.schemas).flatMap(([name, schema]) =>
      [...subSchemas(schema, name)]
        .filter(([path, sub]) => path === name || [sub.properties, sub.enum, sub.anyOf, sub.oneOf].some(Boolean))
        .filter(([, sub]) => sub.title === undefined)
        .map(([path]) => path),
    );

    expect(untitled).toEqual([]);
  });

  it.each([
    ['ServerFrame', 'server.'],
    ['ClientFrame', 'client.'],
  ])('names the union of every payload its messages of one side carry: %s', (union, prefix) => {
    const branches = (document.components.schemas[union]?.oneOf ?? []).map((branch) => branch.$ref).sort();

    expect(branches).toEqual(payloadRefs(prefix));
  });

  it('closes every object that a client sends, frames and handshake query alike: no field it does not list', () => {
    const open = [...reachable('ClientFrame'), 'HandshakeQuery'].flatMap((name) =>
      [...subSchemas(document.components.schemas[name] ?? {}, name)]
        .filter(([, sub]) => sub.properties !== undefined && sub.additionalProperties !== false)
        .map(([path]) => path),
    );

    expect(open).toEqual([]);
  });
});

describe("the README's protocol tables", () => {
  it('list exactly the error codes of the document', () => {
    const documented = firstCells('### Error codes').map((cell) => cell.replace(/`/g, ''));

    expect([...documented].sort()).toEqual([...(document.components.schemas['ErrorCode']?.enum ?? [])].sort());
  });

  it('list every server frame of the document with its fields, optional ones marked "?"', () => {
    const rows = firstCells('### Server frames');
    const listed = Object.fromEntries(rows.map((row) => [/"type":"(\w+)"/.exec(row)?.[1], fieldsOfRow(row).sort()]));
    const inDocument = Object.fromEntries(
      Object.keys(document.components.messages)
        .filter((key) => key.startsWith('server.'))
        .map((key) => {
          const { properties = {}, required = [] } = payloadOf(key);
          const fields = Object.keys(properties).map((field) => (required.includes(field) ? field : `${field}?`));
          return [key.slice('server.'.length), fields.sort()];
        }),
    );

    expect(listed).toEqual(inDocument);
  });

  it('show client frames that the document accepts, one for every action it lists', () => {
    const examples = firstCells('### Client frames')
      .filter((cell) => cell.startsWith('`{'))
      .map((cell) => cell.replace(/^`|`$/g, ''));
    const actions = new Set(examples.map((example) => (JSON.parse(example) as { action?: string }).action ?? 'text'));
    const documented = Object.keys(document.components.messages)
      .filter((key) => key.startsWith('client.') && key !== 'client.plain')
      .map((key) => key.slice('client.'.length));

    expect(examples.flatMap((example) => contract.clientFrameProblems(example))).toEqual([]);
    expect([...actions].sort()).toEqual(documented.sort());
  });

  it('show a wscat session whose every frame the document accepts, but for one the server refuses', () => {
    const session = /### A wscat session\n\n```text\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const lines = session.split('\n');
    const sent = lines
      .filter((line, i) => line.startsWith('> ') && !lines[i + 1]?.startsWith('< {"type":"error"'))
      .map((line) => line.slice(2));
    const received = lines.filter((line) => line.startsWith('< ')).map((line) => line.slice(2));

    expect(sent.length).toBeGreaterThan(0);
    expect(received.length).toBeGreaterThan(0);
    expect([
      ...sent.flatMap((frame) => contract.clientFrameProblems(frame)),
      ...received.flatMap((frame) => contract.serverFrameProblems(frame)),
    ]).toEqual([]);
  });
});
