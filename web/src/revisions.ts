/**
 * The newest revision applied per connection. The server numbers each change to a member; frames about one
 * member may arrive in any order, so one older than what the page already applied is stale.
 */
export class Revisions {
  readonly #applied = new Map<string, number>();

  /** True, and recorded, when a frame with this revision may be applied; a frame without one always may. */
  accept(connectionId: string, rev: number | undefined): boolean {
    if (rev === undefined) return true;
    const applied = this.#applied.get(connectionId);
    if (applied !== undefined && rev < applied) return false;
    this.#applied.set(connectionId, rev);
    return true;
  }

  /**
   * True, and recorded, when a change with this revision is newer than any the page applied for that member:
   * a change seen already (a resent presence frame) or older is not applied again.
   */
  acceptNewer(connectionId: string, rev: number | undefined): boolean {
    if (rev === undefined) return true;
    const applied = this.#applied.get(connectionId);
    if (applied !== undefined && rev <= applied) return false;
    this.#applied.set(connectionId, rev);
    return true;
  }
}
