/** Crockford's base-32 digits: no I, L, O or U, which pass for 1, 0 or V. */
const DIGITS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A short tag of a verified user id, the same on every page and connection: "#" and six base-32 digits of the
 * id's 32-bit FNV-1a hash. Two signed-in users of one name show different tags (but for one pair in a billion);
 * a name cannot change its tag, which comes from the token's subject.
 */
export function userTag(userId: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(userId)) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  let tag = '';
  for (let i = 0; i < 6; i += 1) {
    tag += DIGITS[hash & 31] ?? '';
    hash >>>= 5;
  }
  return `#${tag}`;
}
