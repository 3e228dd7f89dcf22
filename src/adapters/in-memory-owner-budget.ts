import {
  type BudgetCheck,
  type BudgetClock,
  budgetClock,
  type OwnerBudget,
  type OwnerBudgetLimit,
  spentUntil,
  withinBudget,
} from '../domain/owner-budget.ts';

/** Each owner's budget in this process's memory: for a single process, and for tests. */
export class InMemoryOwnerBudget implements OwnerBudget {
  readonly #clock: BudgetClock;
  readonly #now: () => Date;
  readonly #until = new Map<string, number>();
  readonly #notified = new Map<string, number>();

  constructor(limit: OwnerBudgetLimit, now: () => Date = () => new Date()) {
    this.#clock = budgetClock(limit);
    this.#now = now;
  }

  async spend(owner: string, weight: number): Promise<'allowed' | 'limited' | 'limited-notify'> {
    const now = this.#now().getTime();
    const until = this.#until.get(owner);
    if (withinBudget(until, now, weight, this.#clock)) {
      this.#until.set(owner, spentUntil(until, now, weight, this.#clock));
      return 'allowed';
    }
    // One notice until a unit comes back, as a container of the DynamoDB budget gives.
    const quietUntil = this.#notified.get(owner);
    if (quietUntil !== undefined && now < quietUntil) return 'limited';
    this.#notified.set(owner, (until ?? now) - this.#clock.tolerance + this.#clock.interval);
    return 'limited-notify';
  }

  async charge(owner: string, weight: number): Promise<void> {
    const now = this.#now().getTime();
    const until = this.#until.get(owner);
    // In debt up to two windows ahead, as the DynamoDB budget's cap.
    if (until !== undefined && until > now + 2 * this.#clock.tolerance) return;
    this.#until.set(owner, spentUntil(until, now, weight, this.#clock));
  }

  /** Whether the owner has the check's units left now: the in-memory repository's save asks before it saves. */
  allows(check: BudgetCheck): boolean {
    return withinBudget(this.#until.get(check.owner), this.#now().getTime(), check.weight, this.#clock);
  }
}
