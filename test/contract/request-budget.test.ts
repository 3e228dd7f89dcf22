import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { BUDGET_END, BUDGET_START, budgetTable, measureRequestBudget, readmePath } from '../../bench/request-budget.ts';

/** The README's request-budget table, as written there. */
function readmeTable(): string {
  const readme = readFileSync(readmePath, 'utf8');
  const start = readme.indexOf(BUDGET_START);
  const end = readme.indexOf(BUDGET_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${BUDGET_START} ... ${BUDGET_END} section`);
  return readme.slice(start + BUDGET_START.length, end).trim();
}

describe('the request budget per operation', () => {
  it("is the README's table: a request more or less on any path fails here (then run `node bench/request-budget.ts --write`)", async () => {
    expect(budgetTable(await measureRequestBudget())).toBe(readmeTable());
  }, 60_000);
});
