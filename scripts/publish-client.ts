/**
 * A client of the publish API that signs its requests with SigV4 for `execute-api`, as an AWS SDK client signs
 * them: `npm run publish` and the end-to-end tests use it, and a backend service can do the same with its role's
 * credentials (any SigV4 signer will do; see the README's policy example).
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { KeyedSha256 } from '../src/handlers/wiring/keyed-sha256.ts';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface PublishClientOptions {
  /** The API's base URL: osls's HttpApiUrl output, or the local stack's HTTP endpoint. */
  readonly endpoint: string;
  readonly credentials: Credentials | (() => Promise<Credentials>);
  /** The API's region; by default the one its execute-api host names, else us-east-1. */
  readonly region?: string;
}

/** What the API answered: its status, its content type and its body, read as JSON when it is JSON. */
export interface ApiAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: unknown;
  readonly headers: Headers;
}

export interface PublishInput {
  readonly text: string;
  readonly clientMsgId?: string;
  readonly name?: string;
}

/** The region an execute-api host names: `abc123.execute-api.eu-west-1.amazonaws.com` is in eu-west-1. */
export function regionOf(endpoint: string): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(new URL(endpoint).hostname)?.[1];
}

export class PublishClient {
  readonly #endpoint: URL;
  readonly #signer: SignatureV4;

  constructor(options: PublishClientOptions) {
    this.#endpoint = new URL(options.endpoint);
    this.#signer = new SignatureV4({
      service: 'execute-api',
      region: options.region ?? regionOf(options.endpoint) ?? 'us-east-1',
      credentials: options.credentials,
      sha256: KeyedSha256,
    });
  }

  /** POST /rooms/{room}/messages. */
  publish(room: string, input: PublishInput | string): Promise<ApiAnswer> {
    const body = typeof input === 'string' ? input : JSON.stringify(input);
    return this.request('POST', `/rooms/${encodeURIComponent(room)}/messages`, { body });
  }

  /** GET /rooms/{room}. */
  describe(room: string): Promise<ApiAnswer> {
    return this.request('GET', `/rooms/${encodeURIComponent(room)}`);
  }

  /** GET /rooms/{room}/messages?afterSeq=. */
  messages(room: string, afterSeq?: number | string): Promise<ApiAnswer> {
    return this.request('GET', `/rooms/${encodeURIComponent(room)}/messages`, {
      query: afterSeq === undefined ? {} : { afterSeq: String(afterSeq) },
    });
  }

  /**
   * Any request, signed; `contentType` defaults to JSON for a request with a body. `unsignedHeaders` are sent
   * besides the signed ones, as a proxy on the way might add them.
   */
  async request(
    method: string,
    path: string,
    options: {
      body?: string;
      query?: Record<string, string>;
      contentType?: string;
      unsignedHeaders?: Record<string, string>;
    } = {},
  ): Promise<ApiAnswer> {
    const base = this.#endpoint.pathname.replace(/\/$/, '');
    const headers: Record<string, string> = { host: this.#endpoint.host };
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const signed = await this.#signer.sign({
      method,
      protocol: this.#endpoint.protocol,
      hostname: this.#endpoint.hostname,
      ...(this.#endpoint.port === '' ? {} : { port: Number(this.#endpoint.port) }),
      path: `${base}${path}`,
      query: options.query ?? {},
      headers,
      ...(options.body === undefined ? {} : { body: options.body }),
    });
    const url = new URL(`${base}${path}`, this.#endpoint);
    for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
    // fetch sets Host itself, to the same value as signed.
    const sent: Record<string, string> = { ...options.unsignedHeaders };
    for (const [name, value] of Object.entries(signed.headers)) if (name.toLowerCase() !== 'host') sent[name] = value;
    const response = await fetch(url, {
      method,
      headers: sent,
      ...(options.body === undefined ? {} : { body: options.body }),
    });
    const contentType = response.headers.get('content-type') ?? '';
    const text = await response.text();
    let body: unknown = text;
    if (/json/.test(contentType)) {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
      }
    }
    return { status: response.status, contentType, body, headers: response.headers };
  }
}
