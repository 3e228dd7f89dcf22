import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { BUDGET_SECTION, budgetDocPath, budgetTable, measureRequestBudget } from '../../bench/request-budget.ts';
import { withSection } from '../../scripts/readme-section.ts';

describe('the request budget per operation', () => {
  it("is docs/performance.md's table: a request more or less on any path fails here (then run `node bench/request-budget.ts --write`)", async () => {
    const readme = readFileSync(budgetDocPath, 'utf8');
    expect(withSection(readme, BUDGET_SECTION, budgetTable(await measureRequestBudget()))).toBe(readme);
  }, 60_000);
});
