import { describe, expect, it } from '@jest/globals';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import { liveRow } from '../support/service-fixtures.ts';

// What every ConnectionRepository must do is the contract's (test/contract); these are this adapter's own.
describe('InMemoryConnectionRepository', () => {
  it('yields pages of exactly pageSize members, the last one holding the rest', async () => {
    const repository = new InMemoryConnectionRepository({ pageSize: 3 });
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) await repository.save(liveRow(id));

    const pages: string[][] = [];
    for await (const page of repository.list('lobby')) pages.push([...page]);

    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
  });

  it.each([0, -1, 1.5])('refuses a pageSize of %p', (pageSize) => {
    expect(() => new InMemoryConnectionRepository({ pageSize })).toThrow(RangeError);
  });
});
