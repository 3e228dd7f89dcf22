import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { parse } from 'yaml';

/** The publish API's document as committed, which the tests check traffic against. */
export const COMMITTED_OPENAPI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'openapi.yaml');

interface MediaType {
  readonly schema?: unknown;
}
interface Response {
  readonly content?: Record<string, MediaType>;
}
interface Operation {
  readonly responses?: Record<string, Response>;
}
interface OpenApiDocument {
  readonly paths?: Record<string, Record<string, Operation | unknown>>;
}

/** An answer as a client received it. */
export interface ReceivedAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: unknown;
}

/** Checks the publish API's answers against the schemas of its OpenAPI document: by default openapi.yaml. */
export class OpenApiContract {
  readonly #document: OpenApiDocument;
  readonly #ajv: Ajv2020;
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(documentText: string) {
    this.#document = parse(documentText) as OpenApiDocument;
    // The document is a home for its schemas, not a schema: each response's schema is compiled by reference into it.
    this.#ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    ajvFormats.default(this.#ajv);
    this.#ajv.addSchema(this.#document, 'openapi.yaml');
  }

  static fromFile(path = COMMITTED_OPENAPI): OpenApiContract {
    return new OpenApiContract(readFileSync(path, 'utf8'));
  }

  /**
   * What is wrong with an answer to `method` on the document's `path` (its template, `/rooms/{room}`), against the
   * document: an undocumented status or media type, or a body its schema refuses. An empty list when nothing is.
   */
  answerProblems(method: string, path: string, answer: ReceivedAnswer): string[] {
    const where = `${method.toUpperCase()} ${path} ${answer.status}`;
    const operation = this.#document.paths?.[path]?.[method.toLowerCase()] as Operation | undefined;
    if (operation === undefined) return [`${method.toUpperCase()} ${path} is not in the document`];
    const response = operation.responses?.[String(answer.status)];
    if (response === undefined) return [`${where}: the document lists no such status`];
    const mediaType = answer.contentType.split(';')[0]?.trim() ?? '';
    if (response.content?.[mediaType] === undefined)
      return [`${where}: the document lists no ${mediaType || 'missing'} content`];
    const pointer = `openapi.yaml#/paths/${escape(path)}/${method.toLowerCase()}/responses/${answer.status}/content/${escape(mediaType)}/schema`;
    let validate = this.#validators.get(pointer);
    if (validate === undefined) {
      validate = this.#ajv.compile({ $ref: pointer });
      this.#validators.set(pointer, validate);
    }
    if (validate(answer.body)) return [];
    return (validate.errors ?? []).map(
      (error) =>
        `${where}: ${error.instancePath || 'body'} ${error.message ?? 'is invalid'} ${JSON.stringify(error.params)}`,
    );
  }
}

/** A JSON pointer's escape of one token. */
const escape = (token: string): string => token.replace(/~/g, '~0').replace(/\//g, '~1');
