import { describe, expect, it } from '@jest/globals';
import type { ConnectionRepository } from '../../src/domain/connection-repository.ts';

export interface RepositoryFactory {
  /** A repository over an empty store, paging at `pageSize`, whose clock reads `now`. */
  (options: { pageSize?: number; now?: () => Date }): Promise<ConnectionRepository>;
}

// Real time: DynamoDB Local's TTL sweeper deletes rows whose expiry is in the real past.
const T0 = new Date(Math.floor(Date.now() / 1000) * 1000);
const HOUR = 3_600_000;

function connection(id: string, expiresAt = new Date(T0.getTime() + 2 * HOUR)) {
  return { id, connectedAt: T0, expiresAt };
}

async function listAll(repository: ConnectionRepository): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of repository.list()) ids.push(...page);
  return ids;
}

async function saveAll(repository: ConnectionRepository, ids: readonly string[], parallel = 50): Promise<void> {
  for (let i = 0; i < ids.length; i += parallel) {
    await Promise.all(ids.slice(i, i + parallel).map((id) => repository.save(connection(id))));
  }
}

/** What every ConnectionRepository adapter must do; run once per adapter. */
export function connectionRepositoryContract(adapter: string, create: RepositoryFactory): void {
  const clock = () => T0;

  describe(`ConnectionRepository contract: ${adapter}`, () => {
    it('lists a saved connection', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha'));
      expect(await listAll(repository)).toEqual(['alpha']);
    });

    it('lists nothing when nothing is stored', async () => {
      const repository = await create({ now: clock });
      expect(await listAll(repository)).toEqual([]);
    });

    it('lists a connection saved twice once', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha'));
      await repository.save(connection('alpha'));
      expect(await listAll(repository)).toEqual(['alpha']);
    });

    it('removes only the connection asked for', async () => {
      const repository = await create({ now: clock });
      await saveAll(repository, ['a', 'b', 'c']);
      await repository.remove('b');
      expect((await listAll(repository)).sort()).toEqual(['a', 'c']);
    });

    it('accepts removing a connection that is not stored', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('a'));
      await repository.remove('never-stored');
      expect(await listAll(repository)).toEqual(['a']);
    });

    it('leaves out connections whose expiry has passed', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('live'));
      await repository.save(connection('stale', new Date(T0.getTime() - 1000)));
      expect(await listAll(repository)).toEqual(['live']);
    });

    it('keeps ids with characters API Gateway uses, such as = and +', async () => {
      const repository = await create({ now: clock });
      const ids = ['L0SM9cOFvHcCIhw=', 'a+b/c=='];
      await saveAll(repository, ids);
      expect((await listAll(repository)).sort()).toEqual([...ids].sort());
    });

    it('pages through 2,500 connections at a page size of 25, listing each exactly once', async () => {
      const repository = await create({ now: clock, pageSize: 25 });
      const ids = Array.from({ length: 2500 }, (_, i) => `conn-${i.toString().padStart(4, '0')}`);
      await saveAll(repository, ids);

      const pages: (readonly string[])[] = [];
      for await (const page of repository.list()) pages.push(page);

      const listed = pages.flat();
      expect(pages.length).toBeGreaterThanOrEqual(100);
      expect(pages.every((page) => page.length <= 25)).toBe(true);
      expect(new Set(listed).size).toBe(2500);
      expect([...listed].sort()).toEqual(ids);
    }, 120_000);
  });
}
