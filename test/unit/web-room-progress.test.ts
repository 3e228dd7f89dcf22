import { describe, expect, it } from '@jest/globals';
import { RoomProgress } from '../../web/src/room-progress.ts';

/** A room whose welcome replayed the given seqs. */
function afterReplay(...seqs: number[]): RoomProgress {
  const progress = new RoomProgress();
  progress.startReplay(seqs.length);
  for (const seq of seqs) progress.saw(seq);
  return progress;
}

describe('RoomProgress', () => {
  it('knows nothing before the first replay', () => {
    expect(new RoomProgress().watermark).toBeUndefined();
  });

  it('stands at 0 after an empty replay, so a later reconnect asks for everything', () => {
    expect(afterReplay().watermark).toBe(0);
  });

  it('stands at the highest replayed seq, since the replay is everything the server keeps after it', () => {
    expect(afterReplay(5, 6, 9).watermark).toBe(9);
  });

  it('moves over live messages that follow it without a hole', () => {
    const progress = afterReplay(1, 2);

    progress.saw(3);
    progress.saw(4);

    expect(progress.watermark).toBe(4);
  });

  it('stops below a missing seq and reports the gap', () => {
    const progress = afterReplay(1, 2);

    progress.saw(4);

    expect([progress.watermark, progress.gapAfter]).toEqual([2, 2]);
  });

  it('closes the gap when the missing message arrives late', () => {
    const progress = afterReplay(1, 2);
    progress.saw(4);
    progress.saw(5);

    progress.saw(3);

    expect([progress.watermark, progress.gapAfter]).toEqual([5, undefined]);
  });

  it('counts live messages that arrived before the replay ended', () => {
    const progress = new RoomProgress();
    progress.startReplay(2);
    progress.saw(1);
    progress.saw(3);

    progress.saw(2);

    expect(progress.watermark).toBe(3);
  });

  it('reports no gap while a replay is still arriving', () => {
    const progress = afterReplay(1);
    progress.saw(3);
    progress.startReplay(2);

    progress.saw(2);

    expect(progress.gapAfter).toBeUndefined();
  });

  it('skips a seq the server no longer keeps once a replay has passed it', () => {
    const progress = afterReplay(1);
    progress.saw(3);
    progress.startReplay(1);

    progress.saw(3);

    expect([progress.watermark, progress.gapAfter]).toEqual([3, undefined]);
  });

  it('ignores a seq at or below the watermark', () => {
    const progress = afterReplay(1, 2, 3);

    progress.saw(2);

    expect([progress.watermark, progress.gapAfter]).toEqual([3, undefined]);
  });

  it.each([0, -1, 1.5, Number.NaN])('ignores the impossible seq %p', (seq) => {
    const progress = afterReplay(1);

    progress.saw(seq);

    expect([progress.watermark, progress.gapAfter]).toEqual([1, undefined]);
  });
});
