import { describe, expect, it } from '@jest/globals';
import { Revisions } from '../../web/src/revisions.ts';

describe('Revisions', () => {
  it('refuses a revision older than one applied for the same connection', () => {
    const revisions = new Revisions();
    revisions.accept('c1', 6);

    expect(revisions.accept('c1', 5)).toBe(false);
  });

  it('accepts the same revision again, as the welcome and the join presence of one change share it', () => {
    const revisions = new Revisions();
    revisions.accept('c1', 6);

    expect(revisions.accept('c1', 6)).toBe(true);
  });

  it('keeps each connection apart', () => {
    const revisions = new Revisions();
    revisions.accept('c1', 6);

    expect(revisions.accept('c2', 1)).toBe(true);
  });

  it('accepts a frame without a revision, from a server that sends none', () => {
    const revisions = new Revisions();
    revisions.accept('c1', 6);

    expect(revisions.accept('c1', undefined)).toBe(true);
  });
});
