import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, type TransactWriteCommandInput, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  type BudgetCheck,
  type BudgetClock,
  budgetClock,
  type OwnerBudget,
  type OwnerBudgetLimit,
  spentUntil,
} from '../domain/owner-budget.ts';
import { ownerBudgetKey } from './dynamodb-keys.ts';

export interface DynamoDbOwnerBudgetOptions {
  readonly tableName: string;
  readonly limit: OwnerBudgetLimit;
  readonly now?: () => Date;
}

type ConditionCheck = NonNullable<NonNullable<TransactWriteCommandInput['TransactItems']>[number]['ConditionCheck']>;

/** Owners this container saw refused, and until when (ms) they have no unit back: refused again without asking. */
const REFUSED_OWNERS_KEPT = 10_000;

/**
 * Each owner's budget as one small item that holds a single instant, `until` (see {@link spentUntil}), and a TTL a
 * window after it. A frame costs one `UpdateItem` in the common case, idle or busy alike:
 * - an owner whose budget is whole (`until` passed) sets it to now plus the frame's weight;
 * - failing that, the refused condition returns the item (`ALL_OLD`), which tells a busy owner with units left (then
 *   one more update moves `until` on) from one over budget: refused with no second request, where the store gives the
 *   item (DynamoDB does; a store that does not is asked with the busy update).
 * An owner refused here is refused by this container without a request until a unit comes back, so a flood's frames
 * cost nothing after the first. A write the SDK replays after its answer was lost can spend a frame twice, never
 * admit one more.
 */
export class DynamoDbOwnerBudget implements OwnerBudget {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #clock: BudgetClock;
  readonly #now: () => Date;
  readonly #refused = new Map<string, number>();

  constructor(client: DynamoDBDocumentClient, options: DynamoDbOwnerBudgetOptions) {
    this.#client = client;
    this.#tableName = options.tableName;
    this.#clock = budgetClock(options.limit);
    this.#now = options.now ?? (() => new Date());
  }

  async spend(owner: string, weight: number): Promise<'allowed' | 'limited' | 'limited-notify'> {
    const now = this.#now().getTime();
    const refusedUntil = this.#refused.get(owner);
    if (refusedUntil !== undefined) {
      if (now < refusedUntil) return 'limited';
      this.#refused.delete(owner);
    }
    const idle = await this.#update(owner, now, weight, 'idle');
    if (idle === true) return 'allowed';
    // Over budget when spending now would put the full-budget instant more than a window ahead.
    if (idle !== undefined && spentUntil(idle, now, weight, this.#clock) - now > this.#clock.tolerance) {
      return this.#refuse(owner, idle);
    }
    const busy = await this.#update(owner, now, weight, 'busy');
    if (busy === true) return 'allowed';
    // The busy update is refused only when `until` is more than a window minus this frame ahead.
    return this.#refuse(owner, busy ?? now + this.#clock.tolerance);
  }

  async charge(owner: string, weight: number): Promise<void> {
    const now = this.#now().getTime();
    // `until` only moves later: an idle update refused leaves an owner that is busy, or in debt up to its cap.
    if ((await this.#update(owner, now, weight, 'idle')) === true) return;
    await this.#update(owner, now, weight, 'charge');
  }

  /**
   * The condition, for a transaction of its own (the connection repository's save), that the owner has the check's
   * units left now: the transaction is refused with it when it has not.
   */
  check(check: BudgetCheck): { ConditionCheck: ConditionCheck } {
    const now = this.#now().getTime();
    return {
      ConditionCheck: {
        TableName: this.#tableName,
        Key: ownerBudgetKey(check.owner),
        ConditionExpression: 'attribute_not_exists(#until) OR #until <= :ceiling',
        ExpressionAttributeNames: { '#until': 'until' },
        ExpressionAttributeValues: { ':ceiling': now + this.#clock.tolerance - check.weight * this.#clock.interval },
      },
    };
  }

  #refuse(owner: string, until: number): 'limited-notify' {
    // A unit is back once `until` is less than a window ahead by one unit.
    if (this.#refused.size >= REFUSED_OWNERS_KEPT) this.#refused.clear();
    this.#refused.set(owner, until - this.#clock.tolerance + this.#clock.interval);
    return 'limited-notify';
  }

  /**
   * `true` when the update applied; when its condition failed, the stored `until` if the answer gave it, else
   * `undefined`. `idle`: the budget is whole (`until` passed or never set). `busy`: `until` is ahead, and spending
   * keeps it within a window. `charge`: `until` is ahead, whatever the budget left, up to the debt's cap of two
   * windows ahead: an owner refused that long is charged no more, and has its budget back within three windows.
   */
  async #update(
    owner: string,
    now: number,
    weight: number,
    kind: 'idle' | 'busy' | 'charge',
  ): Promise<true | number | undefined> {
    const spent = weight * this.#clock.interval;
    const values: Record<string, number> = {
      ':now': now,
      // The item outlives its last spend by a window: by then the budget is whole again, as with no item.
      ':expires': Math.ceil((now + spent + 2 * this.#clock.tolerance) / 1000),
    };
    let update: string;
    let condition: string;
    if (kind === 'idle') {
      update = 'SET #until = :until, expiresAt = :expires';
      condition = 'attribute_not_exists(#until) OR #until <= :now';
      values[':until'] = now + spent;
    } else {
      // Later spends of a busy owner move its instant on; the expiry follows an instant up to the debt's cap ahead.
      update = 'SET #until = #until + :spent, expiresAt = :expires';
      values[':spent'] = spent;
      values[':expires'] = Math.ceil((now + 3 * this.#clock.tolerance + spent) / 1000);
      condition = '#until > :now AND #until <= :ceiling';
      values[':ceiling'] = kind === 'busy' ? now + this.#clock.tolerance - spent : now + 2 * this.#clock.tolerance;
    }
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: ownerBudgetKey(owner),
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const until = (error.Item as Record<string, { N?: string } | undefined> | undefined)?.['until']?.N;
      return until === undefined ? undefined : Number(until);
    }
  }
}
