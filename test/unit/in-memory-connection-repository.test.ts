import { describe, expect, it } from '@jest/globals';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import type { Connection } from '../../src/domain/connection.ts';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const HOUR_MS = 60 * 60 * 1000;

function row(id: string, expiresInMs = HOUR_MS): Connection {
  return { id, connectedAt: T0, expiresAt: new Date(T0.getTime() + expiresInMs) };
}

async function pagesOf(repository: InMemoryConnectionRepository): Promise<string[][]> {
  const pages: string[][] = [];
  for await (const page of repository.list()) pages.push([...page]);
  return pages;
}

async function stored(repository: InMemoryConnectionRepository, ids: readonly string[]): Promise<void> {
  for (const id of ids) await repository.save(row(id));
}

describe('InMemoryConnectionRepository', () => {
  it('yields pages of at most pageSize ids', async () => {
    const repository = new InMemoryConnectionRepository({ pageSize: 3, now: () => T0 });
    await stored(repository, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);

    const pages = await pagesOf(repository);

    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
  });

  it('lists every stored id exactly once', async () => {
    const ids = Array.from({ length: 23 }, (_, i) => `conn-${String(i).padStart(2, '0')}`);
    const repository = new InMemoryConnectionRepository({ pageSize: 4, now: () => T0 });
    await stored(repository, [...ids].reverse());

    const listed = (await pagesOf(repository)).flat();

    expect(listed.sort()).toEqual(ids);
  });

  it('lists a connection saved twice once', async () => {
    const repository = new InMemoryConnectionRepository({ now: () => T0 });
    await stored(repository, ['a', 'a']);

    expect((await pagesOf(repository)).flat()).toEqual(['a']);
  });

  it('leaves out rows whose expiry is not after now', async () => {
    const repository = new InMemoryConnectionRepository({ now: () => T0 });
    await repository.save(row('live'));
    await repository.save(row('expired', -1));
    await repository.save(row('expiring-now', 0));

    expect((await pagesOf(repository)).flat()).toEqual(['live']);
  });

  it('lists nothing once a connection is removed', async () => {
    const repository = new InMemoryConnectionRepository({ now: () => T0 });
    await stored(repository, ['a', 'b']);

    await repository.remove('a');

    expect((await pagesOf(repository)).flat()).toEqual(['b']);
  });

  it('accepts the removal of an id it never stored', async () => {
    const repository = new InMemoryConnectionRepository({ now: () => T0 });
    await stored(repository, ['a']);

    await expect(repository.remove('never-stored')).resolves.toBeUndefined();
    expect((await pagesOf(repository)).flat()).toEqual(['a']);
  });

  it('skips a row removed while an earlier page was being processed', async () => {
    const repository = new InMemoryConnectionRepository({ pageSize: 2, now: () => T0 });
    await stored(repository, ['a', 'b', 'c', 'd']);
    const listed: string[] = [];

    for await (const page of repository.list()) {
      listed.push(...page);
      if (page.includes('a')) await repository.remove('d');
    }

    expect(listed).toEqual(['a', 'b', 'c']);
  });

  it.each([0, -1, 1.5])('refuses a pageSize of %p', (pageSize) => {
    expect(() => new InMemoryConnectionRepository({ pageSize })).toThrow(RangeError);
  });
});
