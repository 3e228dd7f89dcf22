import { describe, expect, it } from '@jest/globals';
import { presenceLines, type PageChange } from '../../web/src/presence-lines.ts';

const join = (id: string): PageChange => ({ event: 'join', connectionId: id, name: id.toUpperCase() });
const leave = (id: string): PageChange => ({ event: 'leave', connectionId: id, name: id.toUpperCase() });

describe('presenceLines', () => {
  it('names a single join on its own line', () => {
    expect(presenceLines([join('ann')])).toEqual([
      { kind: 'joined', named: [{ connectionId: 'ann', name: 'ANN' }], others: 0 },
    ]);
  });

  it('keeps the verified user id of a member it names, so the page can tag it', () => {
    const change: PageChange = {
      event: 'rename',
      connectionId: 'a-1',
      name: 'Alice',
      userId: 'u-1',
      previousName: 'Al',
    };

    expect(presenceLines([{ ...join('a-2'), userId: 'u-2' }, change])).toEqual([
      { kind: 'joined', named: [{ connectionId: 'a-2', name: 'A-2', userId: 'u-2' }], others: 0 },
      { kind: 'renamed', member: { connectionId: 'a-1', name: 'Alice', userId: 'u-1' }, previousName: 'Al' },
    ]);
  });

  it('names the first three joins and counts the rest, the unlisted ones of a big room included', () => {
    const lines = presenceLines(['a', 'b', 'c', 'd', 'e'].map(join), { joined: 10, left: 0, renamed: 0 });
    expect(lines).toEqual([
      {
        kind: 'joined',
        named: [
          { connectionId: 'a', name: 'A' },
          { connectionId: 'b', name: 'B' },
          { connectionId: 'c', name: 'C' },
        ],
        others: 12,
      },
    ]);
  });

  it('gives joins and leaves a line each, and each rename its own, counting renames past three', () => {
    const renames = ['r1', 'r2', 'r3', 'r4'].map((id): PageChange => ({
      event: 'rename',
      connectionId: id,
      name: `${id} new`,
      previousName: `${id} old`,
    }));
    expect(presenceLines([join('a'), leave('b'), ...renames]).map((line) => line.kind)).toEqual([
      'joined',
      'left',
      'renamed',
      'renamed',
      'renamed',
      'renamed-others',
    ]);
  });

  it('says nothing of a window whose changes were all seen already', () => {
    expect(presenceLines([])).toEqual([]);
  });
});
