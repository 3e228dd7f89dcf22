/** A hand-written progress bar on stderr: redrawn in place on a terminal, one line per step otherwise. */
export class ProgressBar {
  readonly #total: number;
  readonly #started = performance.now();
  readonly #tty = process.stderr.isTTY === true;
  #done = 0;
  #label = '';
  #lastLine = 0;

  constructor(total: number) {
    this.#total = Math.max(1, total);
  }

  /** Names the step now running, without counting it done. */
  step(label: string): void {
    this.#label = label;
    this.#draw(false);
  }

  /** Counts one step done. */
  tick(): void {
    this.#done = Math.min(this.#total, this.#done + 1);
    this.#draw(true);
  }

  finish(): void {
    this.#done = this.#total;
    this.#label = 'done';
    this.#draw(true);
    if (this.#tty) process.stderr.write('\n');
  }

  #draw(force: boolean): void {
    const width = 28;
    const share = this.#done / this.#total;
    const filled = Math.round(share * width);
    const elapsed = (performance.now() - this.#started) / 1000;
    const eta = this.#done > 0 ? (elapsed / this.#done) * (this.#total - this.#done) : Number.NaN;
    const etaText = Number.isFinite(eta) ? ` eta ~${Math.ceil(eta)}s` : '';
    const text =
      `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(share * 100)).padStart(3)}% ` +
      `${this.#done}/${this.#total} ${elapsed.toFixed(0)}s${etaText} ${this.#label}`;
    if (this.#tty) {
      const columns = process.stderr.columns ?? 120;
      process.stderr.write(`\r\x1b[2K${text.slice(0, columns - 1)}`);
      return;
    }
    const now = performance.now();
    if (force || now - this.#lastLine > 5000) {
      this.#lastLine = now;
      process.stderr.write(`${text}\n`);
    }
  }
}
