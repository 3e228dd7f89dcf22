import { describe, expect, it } from '@jest/globals';
import { userTag } from '../../web/src/user-tag.ts';

describe('userTag', () => {
  it('gives one user id the same tag every time', () => {
    expect(userTag('user-alice')).toBe(userTag('user-alice'));
  });

  it('gives two user ids different tags', () => {
    expect(userTag('user-alice')).not.toBe(userTag('user-mallory'));
  });

  it('is "#" and six base-32 digits without I, L, O or U', () => {
    const tags = ['', 'a', 'user-1', '0f3c9a0e-7d1b-4c5e-9a65-2b1f3e4d5c6b', '用户'].map(userTag);

    expect(tags.every((tag) => /^#[0-9A-HJKMNP-TV-Z]{6}$/.test(tag))).toBe(true);
  });
});
