import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { ASYNCAPI_PATH } from '../../scripts/asyncapi-document.ts';
import { clientTypes } from '../../scripts/client-types-generator.ts';

interface Document {
  readonly components: {
    readonly messages: Record<string, { readonly payload: { readonly $ref: string } }>;
    readonly schemas: Record<string, { readonly properties?: Record<string, unknown> }>;
  };
}

const committed = readFileSync(ASYNCAPI_PATH, 'utf8');
const document = parse(committed) as Document;
const payloadNames = (side: 'server' | 'client'): string[] =>
  Object.entries(document.components.messages)
    .filter(([key]) => key.startsWith(`${side}.`))
    .map(([, message]) => message.payload.$ref.replace('#/components/schemas/', ''));

/** The members of the union type `name` as the generated module declares it. */
function unionMembers(types: string, name: string): string[] {
  const declaration = new RegExp(`^export type ${name} = (.*);$`, 'm').exec(types)?.[1];
  if (declaration === undefined) throw new Error(`the generated types declare no union ${name}`);
  return declaration.split(' | ');
}

/** The body of the interface `name` as the generated module declares it, without its doc comments. */
function interfaceBody(types: string, name: string): string {
  const body = new RegExp(`^export interface ${name} \\{\\n([\\s\\S]*?)^\\}`, 'm').exec(types)?.[1];
  if (body === undefined) throw new Error(`the generated types declare no interface ${name}`);
  return body.replace(/^\s*\/\*\*[\s\S]*?\*\/\n/gm, '');
}

describe('the TypeScript types generated from asyncapi.yaml (npm run client-types)', () => {
  let types = '';

  beforeAll(async () => {
    types = await clientTypes(committed);
  });

  it('name every type by its schema title, none by a number', () => {
    const declared = [...types.matchAll(/^export (?:interface|type) (\w+)/gm)].map(([, name]) => name);

    expect(declared.filter((name) => name === undefined || !/^[A-Z][A-Za-z]+$/.test(name))).toEqual([]);
    expect(declared).toEqual(expect.arrayContaining([...payloadNames('server'), 'PresenceChange', 'RosterMember']));
  });

  it('declare ServerFrame as the union of every frame the server sends', () => {
    expect(unionMembers(types, 'ServerFrame').sort()).toEqual(payloadNames('server').sort());
  });

  it('declare ClientFrame as the union of every frame a client sends, plain text included', () => {
    const members = unionMembers(types, 'ClientFrame');

    expect(members).toContain('string');
    expect(members).toEqual(expect.arrayContaining(['HelloRequest', 'SendMessageRequestWithText', 'PingRequest']));
  });

  it.each([
    ['MessageFrame', ["'type': 'message';", "'from': string;", "'name': string;", "'text': string;"]],
    ['PresenceFrame', ["'type': 'presence';", "'event': PresenceEvent;", "'name': string;"]],
    ['SetNameRequest', ["'action': 'setname';", "'name': string;"]],
  ])('keep each property of %s under its name on the wire, reserved words too', (name, properties) => {
    const body = interfaceBody(types, name);

    expect(body.split('\n').map((line) => line.trim())).toEqual(expect.arrayContaining(properties));
  });

  it('give objects no catch-all property for fields the document does not list', () => {
    expect(types).not.toContain("'additionalProperties'");
  });
});
