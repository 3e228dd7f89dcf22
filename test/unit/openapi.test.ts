import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { parse } from 'yaml';
import { OPENAPI_PATH, openApiYaml } from '../../scripts/openapi-document.ts';
import { OpenApiContract } from '../support/openapi-contract.ts';

const committed = readFileSync(OPENAPI_PATH, 'utf8');
const document = parse(committed) as { components: { schemas: Record<string, object> } };
/**
 * The OpenAPI Initiative's JSON Schema of OpenAPI 3.1 documents (spec.openapis.org/oas/3.1/schema/2022-10-07). Its
 * Schema Objects are `$dynamicRef: "#meta"` to its own `$defs/schema`, which nothing here overrides; ajv resolves that
 * dynamic anchor wrongly (it refuses every schema), so it is read as the plain `$ref` it amounts to.
 */
function oas31Schema(): object {
  const text = readFileSync(join(import.meta.dirname, '..', 'support', 'vendor', 'openapi-3.1-schema.json'), 'utf8');
  const schema = JSON.parse(text.replaceAll('"$dynamicRef": "#meta"', '"$ref": "#/$defs/schema"')) as {
    $defs: { schema: Record<string, unknown> };
  };
  delete schema.$defs.schema['$dynamicAnchor'];
  return schema;
}

/** Validates documents by the specification's schema; formats annotate in 2020-12 (a server URL has {variables}). */
function oas31Problems(candidate: unknown): unknown[] {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  return ajv.validate(oas31Schema(), candidate) ? [] : (ajv.errors ?? []);
}

describe('openapi.yaml, the publish API document', () => {
  it('is what the zod schemas produce (run `npm run openapi` and commit openapi.yaml when this fails)', () => {
    const generated = openApiYaml();
    if (committed !== generated) {
      const [ours, theirs] = [committed.split('\n'), generated.split('\n')];
      const line = ours.findIndex((text, i) => text !== theirs[i]);
      throw new Error(
        'openapi.yaml differs from what the zod schemas produce: run `npm run openapi` and commit the result.\n' +
          `First difference at line ${line + 1}:\n  committed: ${ours[line]}\n  generated: ${theirs[line]}`,
      );
    }
  });

  it('is a valid OpenAPI 3.1 document by the specification’s own JSON Schema', () => {
    expect(oas31Problems(document)).toEqual([]);
  });

  it('would be refused by that schema without its info', () => {
    const withoutInfo: Record<string, unknown> = { ...document };
    delete withoutInfo['info'];

    expect(oas31Problems(withoutInfo)).not.toEqual([]);
  });

  it('holds component schemas that are each a valid JSON Schema (2020-12)', () => {
    const ajv = new Ajv2020({ strict: false });
    ajvFormats.default(ajv);

    const invalid = Object.entries(document.components.schemas).filter(([, schema]) => !ajv.validateSchema(schema));

    expect(invalid.map(([name]) => name)).toEqual([]);
  });

  it("accepts the handler's answers and refuses one that drifted from them", () => {
    const contract = new OpenApiContract(committed);
    const ack = { id: 'm-1', seq: 1, recipients: 2, delivered: 2, gone: 0, failed: 0 };
    const problem = {
      type: 'urn:ws-chat:problem:empty_message',
      title: 'Bad Request',
      status: 400,
      detail: 'message text is empty',
    };

    expect({
      ack: contract.answerProblems('post', '/rooms/{room}/messages', {
        status: 200,
        contentType: 'application/json',
        body: ack,
      }),
      problem: contract.answerProblems('post', '/rooms/{room}/messages', {
        status: 400,
        contentType: 'application/problem+json',
        body: problem,
      }),
      drifted: contract.answerProblems('post', '/rooms/{room}/messages', {
        status: 200,
        contentType: 'application/json',
        body: { ...ack, seq: '1' },
      }).length,
      undocumented: contract.answerProblems('get', '/rooms/{room}', {
        status: 418,
        contentType: 'text/plain',
        body: '',
      }).length,
    }).toEqual({ ack: [], problem: [], drifted: 1, undocumented: 1 });
  });
});
