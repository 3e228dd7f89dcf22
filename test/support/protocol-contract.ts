import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import { parse } from 'yaml';

/** The protocol document as committed, which the tests check traffic against. */
export const COMMITTED_DOCUMENT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'asyncapi.yaml');

/** Checks frames against the schemas of a protocol document: by default asyncapi.yaml as committed. */
export class ProtocolContract {
  readonly #messageKeys: ReadonlySet<string>;
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #ajv: Ajv;

  constructor(documentText: string) {
    const document = parse(documentText) as { components?: { messages?: Record<string, unknown> } };
    this.#messageKeys = new Set(Object.keys(document.components?.messages ?? {}));
    // The document is not a JSON Schema itself, only a home for its schemas: each message's payload is compiled
    // by reference into it, so the $refs between its schemas resolve as they do for any AsyncAPI tool.
    this.#ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    // ajv-formats is CommonJS: its default import is module.exports, whose `default` is the plugin.
    ajvFormats.default(this.#ajv);
    this.#ajv.addSchema(document, 'asyncapi.yaml');
  }

  static fromFile(path = COMMITTED_DOCUMENT): ProtocolContract {
    return new ProtocolContract(readFileSync(path, 'utf8'));
  }

  /** What is wrong with a frame as the server sent it, against the document; an empty list when nothing is. */
  serverFrameProblems(data: string): string[] {
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return [`server frame is not JSON: ${excerpt(data)}`];
    }
    const type = typeof frame === 'object' && frame !== null ? (frame as { type?: unknown }).type : undefined;
    const key = `server.${String(type)}`;
    if (typeof type !== 'string' || !this.#messageKeys.has(key))
      return [`server frame of a type asyncapi.yaml does not list: ${excerpt(data)}`];
    return this.#problems(key, frame, data);
  }

  /** What is wrong with a frame as a client sent it, against the document; an empty list when nothing is. */
  clientFrameProblems(data: string): string[] {
    if (!data.trimStart().startsWith('{')) return this.#problems('client.plain', data, data);
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return [`client frame starts with "{" but is not JSON: ${excerpt(data)}`];
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame))
      return [`client frame is not a JSON object: ${excerpt(data)}`];
    const action = (frame as { action?: unknown }).action;
    const key = action === undefined ? 'client.text' : `client.${String(action)}`;
    if (!this.#messageKeys.has(key))
      return [`client frame with an action asyncapi.yaml does not list: ${excerpt(data)}`];
    return this.#problems(key, frame, data);
  }

  #problems(key: string, frame: unknown, data: string): string[] {
    let validate = this.#validators.get(key);
    if (validate === undefined) {
      validate = this.#ajv.compile({ $ref: `asyncapi.yaml#/components/messages/${key}/payload` });
      this.#validators.set(key, validate);
    }
    if (validate(frame)) return [];
    return (validate.errors ?? []).map((error) => {
      const extra = error.keyword === 'additionalProperties' ? ` (${String(error.params['additionalProperty'])})` : '';
      return `${key} ${error.instancePath || '(frame)'} ${error.message ?? 'is invalid'}${extra}: ${excerpt(data)}`;
    });
  }
}

function excerpt(data: string): string {
  return data.length > 300 ? `${data.slice(0, 300)}…` : data;
}

let committed: ProtocolContract | undefined;
const violations: string[] = [];

function contract(): ProtocolContract {
  committed ??= ProtocolContract.fromFile();
  return committed;
}

/**
 * Checks a frame that a client received, as the tests' clients see traffic; a frame outside the document is
 * kept as a violation, which the tier's setup file (protocol-contract-setup.ts) turns into a failed test.
 */
export function checkServerFrame(data: string, where: string): void {
  check(() => contract().serverFrameProblems(data), where);
}

/** Checks a frame that a client sent, in the same way as {@link checkServerFrame}. */
export function checkClientFrame(data: string, where: string): void {
  check(() => contract().clientFrameProblems(data), where);
}

// The checks run in event listeners (ws, Playwright), where a thrown error could be lost: keep it as a violation.
function check(problems: () => string[], where: string): void {
  try {
    for (const problem of problems()) violations.push(`${where}: ${problem}`);
  } catch (error) {
    violations.push(`${where}: the frame could not be checked against asyncapi.yaml: ${String(error)}`);
  }
}

/** The violations kept since the last call, and forgets them. */
export function takeContractViolations(): string[] {
  return violations.splice(0);
}
