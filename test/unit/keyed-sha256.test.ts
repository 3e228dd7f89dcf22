import { describe, expect, it } from '@jest/globals';
import { Sha256Node } from '@smithy/core/checksum';
import { KeyedSha256 } from '../../src/handlers/wiring/keyed-sha256.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

async function digestOf(
  Hash: typeof KeyedSha256 | typeof Sha256Node,
  secret: string | Uint8Array | undefined,
  ...chunks: Array<string | Uint8Array>
): Promise<string> {
  const hash = new Hash(secret);
  // The SDK's own takes bytes only; the signer passes both.
  for (const chunk of chunks) hash.update(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk);
  return hex(await hash.digest());
}

describe('KeyedSha256', () => {
  it('computes the HMAC of RFC 4231 test case 2', async () => {
    await expect(digestOf(KeyedSha256, 'Jefe', 'what do ya want ', 'for nothing?')).resolves.toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('computes a plain SHA-256 without a secret', async () => {
    await expect(digestOf(KeyedSha256, undefined, 'abc')).resolves.toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('gives what the SDK gives for the same secret and data, each time the same key comes again', async () => {
    const signingKey = new Uint8Array(32).map((_, i) => i * 7);
    const data = ['AWS4-HMAC-SHA256\n20300101T000000Z\n', new Uint8Array([0, 1, 2, 255]), 'grüß dich'];
    for (const secret of [signingKey, signingKey, 'secret-access-key', 'secret-access-key', '', undefined]) {
      await expect(digestOf(KeyedSha256, secret, ...data)).resolves.toBe(await digestOf(Sha256Node, secret, ...data));
    }
  });

  it('uses the bytes an array holds now, not those it held when it was first a key', async () => {
    const key = new Uint8Array([1, 2, 3]);
    await digestOf(KeyedSha256, key, 'data');
    key[0] = 9;
    await expect(digestOf(KeyedSha256, key, 'data')).resolves.toBe(await digestOf(Sha256Node, key, 'data'));
  });

  it('lets a plain hash take more data after a digest, as the SDK does', async () => {
    const hash = new KeyedSha256();
    hash.update('ab');
    await hash.digest();
    hash.update('c');
    expect(hex(await hash.digest())).toBe(await digestOf(Sha256Node, undefined, 'abc'));
  });

  it('starts over on reset', async () => {
    const hash = new KeyedSha256('Jefe');
    hash.update('something else');
    hash.reset();
    hash.update('what do ya want for nothing?');
    expect(hex(await hash.digest())).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});
