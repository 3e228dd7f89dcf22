import { createHash, createHmac, createSecretKey, type Hash, type Hmac, type KeyObject } from 'node:crypto';

type SourceData = string | ArrayBuffer | ArrayBufferView;

/**
 * Keys by the array they were made from (the signer keeps the day's signing key and passes that same array), with a
 * copy of its bytes: an array changed since is made into a key again. A derivation's short-lived keys go with their
 * arrays.
 */
const binaryKeys = new WeakMap<object, { readonly bytes: Buffer; readonly key: KeyObject }>();
/** Keys by secret string (the secret access key the signer hashes for its cache key on every request). */
const stringKeys = new Map<string, KeyObject>();
const MAX_STRING_KEYS = 16;

function keyOf(secret: SourceData): KeyObject {
  if (typeof secret === 'string') {
    let key = stringKeys.get(secret);
    if (key === undefined) {
      if (stringKeys.size >= MAX_STRING_KEYS) stringKeys.clear();
      key = createSecretKey(Buffer.from(secret, 'utf8'));
      stringKeys.set(secret, key);
    }
    return key;
  }
  const bytes = ArrayBuffer.isView(secret)
    ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)
    : Buffer.from(secret);
  const known = binaryKeys.get(secret);
  if (known !== undefined && known.bytes.equals(bytes)) return known.key;
  const copy = Buffer.from(bytes);
  const key = createSecretKey(copy);
  binaryKeys.set(secret, { bytes: copy, key });
  return key;
}

/**
 * The SDK's SHA-256 (its `sha256` client setting, which SigV4 signs with), with each HMAC key made into a KeyObject
 * once: Node turns a raw key into one on every `createHmac`, which made up most of the signer's hashing (two HMACs a
 * request, one with the day's signing key, one with the secret access key for the signer's cache key).
 */
export class KeyedSha256 {
  readonly digestLength = 32;
  readonly #secret: SourceData | undefined;
  #hash: Hash | Hmac;
  #finished = false;

  constructor(secret?: SourceData) {
    // As the SDK's own: an empty string is no secret.
    this.#secret = secret === '' ? undefined : secret;
    this.#hash = this.#create();
  }

  update(data: SourceData): void {
    if (this.#finished) throw new Error('Attempted to update an already finished hash.');
    this.#hash.update(
      typeof data === 'string'
        ? data
        : ArrayBuffer.isView(data)
          ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : new Uint8Array(data),
    );
  }

  digest(): Promise<Uint8Array> {
    // As the SDK's own: an HMAC is finished by its digest, a plain hash can take more data after it.
    let buffer: Buffer;
    if (this.#secret === undefined) buffer = (this.#hash as Hash).copy().digest();
    else {
      this.#finished = true;
      buffer = this.#hash.digest();
    }
    return Promise.resolve(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength));
  }

  reset(): void {
    this.#hash = this.#create();
    this.#finished = false;
  }

  #create(): Hash | Hmac {
    return this.#secret === undefined ? createHash('sha256') : createHmac('sha256', keyOf(this.#secret));
  }
}
