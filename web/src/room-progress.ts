/**
 * How much of one room's history the page has: the watermark, the highest `seq` up to which it has every
 * message, and the seqs it has above it. Messages may arrive out of order, so the watermark moves only
 * over a run without holes; a reconnect asks for what follows it, so nothing in flight is lost.
 */
export class RoomProgress {
  #watermark: number | undefined;
  readonly #above = new Set<number>();
  #replay: { remaining: number; highest: number } | undefined;

  /** Undefined until a replay has told the page where the room's history stands. */
  get watermark(): number | undefined {
    return this.#watermark;
  }

  /** The watermark when a message above it is held while the one right after it is missing. */
  get gapAfter(): number | undefined {
    return this.#watermark !== undefined && this.#replay === undefined && this.#above.size > 0
      ? this.#watermark
      : undefined;
  }

  /** A welcome announced `count` history messages, which follow it. */
  startReplay(count: number): void {
    this.#replay = { remaining: Math.max(0, Math.floor(count)), highest: 0 };
    if (this.#replay.remaining === 0) this.#finishReplay();
  }

  /** Records a message of the room, live or replayed, shown before or not. */
  saw(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 1) return;
    if (this.#replay !== undefined) {
      this.#replay.remaining -= 1;
      this.#replay.highest = Math.max(this.#replay.highest, seq);
    }
    if (this.#watermark === undefined || seq > this.#watermark) this.#above.add(seq);
    if (this.#replay !== undefined && this.#replay.remaining <= 0) this.#finishReplay();
    else this.#advance();
  }

  // The replay is everything the server keeps after the watermark: a seq below its highest that it did
  // not send is gone for good (never stored, or aged out), so waiting for it would wait forever.
  #finishReplay(): void {
    const highest = this.#replay?.highest ?? 0;
    this.#replay = undefined;
    this.#watermark = Math.max(this.#watermark ?? 0, highest);
    this.#advance();
  }

  #advance(): void {
    if (this.#watermark === undefined) return;
    for (const seq of this.#above) if (seq <= this.#watermark) this.#above.delete(seq);
    while (this.#above.delete(this.#watermark + 1)) this.#watermark += 1;
  }
}
