import { describe, expect, it } from '@jest/globals';
import { InMemoryConnectionRepository } from '../../src/adapters/in-memory-connection-repository.ts';
import type { Connection } from '../../src/domain/connection.ts';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const HOUR_MS = 60 * 60 * 1000;

function row(id: string, room = 'lobby', expiresInMs = HOUR_MS): Connection {
  return { id, room, name: `Name ${id}`, connectedAt: T0, expiresAt: new Date(T0.getTime() + expiresInMs), revision: 0, announced: false };
}

async function pagesOf(repository: InMemoryConnectionRepository, room = 'lobby'): Promise<string[][]> {
  const pages: string[][] = [];
  for await (const page of repository.list(room)) pages.push([...page]);
  return pages;
}

async function idsIn(repository: InMemoryConnectionRepository, room = 'lobby'): Promise<string[]> {
  return (await pagesOf(repository, room)).flat();
}

async function stored(repository: InMemoryConnectionRepository, ids: readonly string[], room = 'lobby'): Promise<void> {
  for (const id of ids) await repository.save(row(id, room));
}

function repositoryAtT0(pageSize?: number): InMemoryConnectionRepository {
  return new InMemoryConnectionRepository({ pageSize, now: () => T0 });
}

describe('InMemoryConnectionRepository', () => {
  describe('get', () => {
    it('returns the stored connection', async () => {
      const repository = repositoryAtT0();
      await repository.save(row('a', 'kitchen'));

      expect(await repository.get('a')).toEqual(row('a', 'kitchen'));
    });

    it('returns undefined for an id it never stored', async () => {
      const repository = repositoryAtT0();
      await stored(repository, ['a']);

      expect(await repository.get('b')).toBeUndefined();
    });

    it.each([
      { case: 'expired before now', expiresInMs: -1 },
      { case: 'expiring now', expiresInMs: 0 },
    ])('hides a row $case', async ({ expiresInMs }) => {
      const repository = repositoryAtT0();
      await repository.save(row('a', 'lobby', expiresInMs));

      expect(await repository.get('a')).toBeUndefined();
    });
  });

  describe('update', () => {
    it('moves a connection to another room and returns it before and after', async () => {
      const repository = repositoryAtT0();
      await repository.save(row('a', 'lobby'));

      const change = await repository.update('a', { room: 'kitchen' });

      expect(change).toEqual({ before: row('a', 'lobby'), after: { ...row('a', 'kitchen'), revision: 1 } });
    });

    it('renames a connection and keeps its room', async () => {
      const repository = repositoryAtT0();
      await repository.save(row('a', 'kitchen'));

      await repository.update('a', { name: 'Ann' });

      expect(await repository.get('a')).toEqual({ ...row('a', 'kitchen'), name: 'Ann', revision: 1 });
    });

    it('changes room and name in one step', async () => {
      const repository = repositoryAtT0();
      await repository.save(row('a'));

      await repository.update('a', { room: 'kitchen', name: 'Ann' });

      expect(await repository.get('a')).toMatchObject({ room: 'kitchen', name: 'Ann' });
    });

    it('leaves a field it was not given a value for unchanged', async () => {
      const repository = repositoryAtT0();
      await repository.save(row('a', 'kitchen'));

      await repository.update('a', { room: undefined, name: 'Ann' });

      expect((await repository.get('a'))?.room).toBe('kitchen');
    });

    it('returns undefined and stores nothing for an id it never stored', async () => {
      const repository = repositoryAtT0();

      const change = await repository.update('ghost', { room: 'kitchen' });

      expect({ change, listed: await idsIn(repository, 'kitchen') }).toEqual({ change: undefined, listed: [] });
    });

    it('returns undefined for an expired row and does not revive it', async () => {
      const repository = repositoryAtT0();
      await repository.save(row('a', 'lobby', -1));

      const change = await repository.update('a', { room: 'kitchen' });

      expect({ change, listed: await idsIn(repository, 'kitchen') }).toEqual({ change: undefined, listed: [] });
    });

    it('moves the connection out of its old room\'s listing', async () => {
      const repository = repositoryAtT0();
      await stored(repository, ['a', 'b']);

      await repository.update('a', { room: 'kitchen' });

      expect({ lobby: await idsIn(repository, 'lobby'), kitchen: await idsIn(repository, 'kitchen') }).toEqual({
        lobby: ['b'],
        kitchen: ['a'],
      });
    });
  });

  describe('remove', () => {
    it('returns the connection it removed', async () => {
      const repository = repositoryAtT0();
      await repository.save(row('a', 'kitchen'));

      expect(await repository.remove('a')).toEqual(row('a', 'kitchen'));
    });

    it('forgets the connection', async () => {
      const repository = repositoryAtT0();
      await stored(repository, ['a', 'b']);

      await repository.remove('a');

      expect({ got: await repository.get('a'), listed: await idsIn(repository) }).toEqual({ got: undefined, listed: ['b'] });
    });

    it('accepts the removal of an id it never stored and returns undefined', async () => {
      const repository = repositoryAtT0();
      await stored(repository, ['a']);

      await expect(repository.remove('never-stored')).resolves.toBeUndefined();
      expect(await idsIn(repository)).toEqual(['a']);
    });
  });

  describe('list', () => {
    it('yields pages of at most pageSize members', async () => {
      const repository = repositoryAtT0(3);
      await stored(repository, ['a', 'b', 'c', 'd', 'e', 'f', 'g']);

      const pages = await pagesOf(repository);

      expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    });

    it('lists every member of the room exactly once', async () => {
      const ids = Array.from({ length: 23 }, (_, i) => `conn-${String(i).padStart(2, '0')}`);
      const repository = repositoryAtT0(4);
      await stored(repository, [...ids].reverse());

      expect((await idsIn(repository)).sort()).toEqual(ids);
    });

    it('lists only the members of the room it is asked for', async () => {
      const repository = repositoryAtT0(2);
      await stored(repository, ['a', 'b', 'c'], 'kitchen');
      await stored(repository, ['d', 'e'], 'garden');
      await stored(repository, ['f'], 'lobby');

      expect(await idsIn(repository, 'kitchen')).toEqual(['a', 'b', 'c']);
    });

    it('names each member of the room for a roster, up to the limit', async () => {
      const repository = repositoryAtT0();
      await repository.save({ ...row('a', 'kitchen'), name: 'Ann' });
      await repository.save({ ...row('b', 'kitchen'), name: 'Bob' });
      await repository.save({ ...row('c', 'garden'), name: 'Cy' });

      expect([await repository.members('kitchen', 10), await repository.members('kitchen', 1)]).toEqual([
        [
          { id: 'a', name: 'Ann' },
          { id: 'b', name: 'Bob' },
        ],
        [{ id: 'a', name: 'Ann' }],
      ]);
    });

    it('lists nothing for a room nobody is in', async () => {
      const repository = repositoryAtT0();
      await stored(repository, ['a']);

      expect(await idsIn(repository, 'empty')).toEqual([]);
    });

    it('lists a connection saved twice once', async () => {
      const repository = repositoryAtT0();
      await stored(repository, ['a', 'a']);

      expect(await idsIn(repository)).toEqual(['a']);
    });

    it('leaves out rows whose expiry is not after now', async () => {
      const repository = repositoryAtT0();
      await repository.save(row('live'));
      await repository.save(row('expired', 'lobby', -1));
      await repository.save(row('expiring-now', 'lobby', 0));

      expect(await idsIn(repository)).toEqual(['live']);
    });

    it('skips a row removed while an earlier page was being processed', async () => {
      const repository = repositoryAtT0(2);
      await stored(repository, ['a', 'b', 'c', 'd']);
      const listed: string[] = [];

      for await (const page of repository.list('lobby')) {
        listed.push(...page);
        if (page.includes('a')) await repository.remove('d');
      }

      expect(listed).toEqual(['a', 'b', 'c']);
    });

    it('skips a row moved to another room while an earlier page was being processed', async () => {
      const repository = repositoryAtT0(2);
      await stored(repository, ['a', 'b', 'c', 'd']);
      const listed: string[] = [];

      for await (const page of repository.list('lobby')) {
        listed.push(...page);
        if (page.includes('a')) await repository.update('d', { room: 'kitchen' });
      }

      expect(listed).toEqual(['a', 'b', 'c']);
    });
  });

  it.each([0, -1, 1.5])('refuses a pageSize of %p', (pageSize) => {
    expect(() => new InMemoryConnectionRepository({ pageSize })).toThrow(RangeError);
  });
});
