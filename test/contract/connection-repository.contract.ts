import { describe, expect, it } from '@jest/globals';
import type { Connection } from '../../src/domain/connection.ts';
import type { ConnectionRepository } from '../../src/domain/connection-repository.ts';
import { InvalidCursorError } from '../../src/domain/errors.ts';

export interface RepositoryFactory {
  /** A repository over an empty store, paging at `pageSize`, in `shards` shards, whose clock reads `now`. */
  (options: { pageSize?: number; shards?: number; now?: () => Date }): Promise<ConnectionRepository>;
}

// Real time: DynamoDB Local's TTL sweeper deletes rows whose expiry is in the real past.
const T0 = new Date(Math.floor(Date.now() / 1000) * 1000);
const HOUR = 3_600_000;
/** A handshake cut-off after every connection here connected. */
const AFTER_HANDSHAKES = new Date(T0.getTime() + 60_000);

function connection(id: string, room = 'lobby', options: { name?: string; expiresAt?: Date } = {}): Connection {
  return {
    id,
    room,
    name: options.name ?? `name of ${id}`,
    connectedAt: T0,
    expiresAt: options.expiresAt ?? new Date(T0.getTime() + 2 * HOUR),
    revision: 0,
    announced: false,
  };
}

async function listAll(repository: ConnectionRepository, room = 'lobby'): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of repository.list(room)) ids.push(...page);
  return ids.sort();
}

async function saveAll(
  repository: ConnectionRepository,
  connections: readonly Connection[],
  parallel = 50,
): Promise<void> {
  for (let i = 0; i < connections.length; i += parallel) {
    await Promise.all(connections.slice(i, i + parallel).map((c) => repository.save(c)));
  }
}

/** What every ConnectionRepository adapter must do; run once per adapter. */
export function connectionRepositoryContract(adapter: string, create: RepositoryFactory): void {
  const clock = () => T0;

  describe(`ConnectionRepository contract: ${adapter}`, () => {
    it('lists a saved connection in its room', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha', 'lobby', { name: 'Alice' }));
      expect(await listAll(repository, 'lobby')).toEqual(['alpha']);
    });

    it('lists a verified member with its user id', async () => {
      const repository = await create({ now: clock });
      await repository.save({ ...connection('a', 'red', { name: 'Ann' }), userId: 'user-ann' });

      const { members } = await repository.members('red', 10);

      expect(members).toEqual([{ id: 'a', name: 'Ann', userId: 'user-ann', revision: 0 }]);
    });

    it('names the members of a room, up to the limit asked for', async () => {
      const repository = await create({ now: clock });
      await saveAll(repository, [
        connection('a', 'red', { name: 'Ann' }),
        connection('b', 'red', { name: 'Bob' }),
        connection('c', 'red', { name: 'Cy' }),
        connection('d', 'blue', { name: 'Dee' }),
      ]);

      await repository.update('b', { name: 'Bobby' });
      const all = await repository.members('red', 10);
      const two = await repository.members('red', 2);

      expect([...all.members].sort((x, y) => x.id.localeCompare(y.id))).toEqual([
        { id: 'a', name: 'Ann', revision: 0 },
        { id: 'b', name: 'Bobby', revision: 1 },
        { id: 'c', name: 'Cy', revision: 0 },
      ]);
      expect(all.next).toBeUndefined();
      expect(two.members).toHaveLength(2);
      expect(two.next).toEqual(expect.any(String));
    });

    it('splits a room into its shards, each member in exactly one, each shard paged by its cursors', async () => {
      const repository = await create({ now: clock, shards: 4 });
      const ids = Array.from({ length: 41 }, (_, i) => `s${String(i).padStart(2, '0')}`);
      await saveAll(repository, [...ids.map((id) => connection(id, 'hall')), connection('other', 'attic')]);

      const byShard: string[][] = [];
      for (let shard = 0; shard < repository.shards; shard += 1) {
        const listed: string[] = [];
        let page = await repository.listShard('hall', shard, 3);
        listed.push(...page.ids);
        while (page.next !== undefined) {
          expect(page.ids).toHaveLength(3);
          page = await repository.listShard('hall', shard, 3, page.next);
          listed.push(...page.ids);
        }
        byShard.push(listed);
      }

      expect({ shards: repository.shards, all: byShard.flat().sort() }).toEqual({ shards: 4, all: ids });
      expect(byShard.filter((listed) => listed.length > 0).length).toBeGreaterThan(1);
      expect((await listAll(repository, 'hall')).sort()).toEqual(ids);
    });

    it('refuses a shard cursor it did not give', async () => {
      const repository = await create({ now: clock, shards: 2 });
      await repository.save(connection('a', 'red'));
      await expect(repository.listShard('red', 0, 10, 'made-up')).rejects.toThrow(InvalidCursorError);
    });

    it('pages a roster through every shard of a room, naming every member once', async () => {
      const repository = await create({ now: clock, shards: 3 });
      const ids = Array.from({ length: 20 }, (_, i) => `r${String(i).padStart(2, '0')}`);
      await saveAll(
        repository,
        ids.map((id) => connection(id, 'crowd')),
      );

      const named: string[] = [];
      let page = await repository.members('crowd', 6);
      named.push(...page.members.map((m) => m.id));
      while (page.next !== undefined) {
        page = await repository.members('crowd', 6, page.next);
        named.push(...page.members.map((m) => m.id));
      }

      expect(named.sort()).toEqual(ids);
    });

    it('pages through a room with the cursor of each page, naming every member once', async () => {
      const repository = await create({ now: clock, pageSize: 7 });
      await saveAll(
        repository,
        Array.from({ length: 23 }, (_, i) => connection(`p${String(i).padStart(2, '0')}`, 'crowd')),
      );

      const ids: string[] = [];
      let page = await repository.members('crowd', 10);
      const pages = [page.members.length];
      ids.push(...page.members.map((m) => m.id));
      while (page.next !== undefined) {
        page = await repository.members('crowd', 10, page.next);
        pages.push(page.members.length);
        ids.push(...page.members.map((m) => m.id));
      }

      expect(ids.sort()).toEqual(Array.from({ length: 23 }, (_, i) => `p${String(i).padStart(2, '0')}`));
      expect(pages.slice(0, 2)).toEqual([10, 10]);
    });

    it("names on a cursor's later page only members that have not expired by then, however far time moved", async () => {
      let now = T0;
      const repository = await create({ now: () => now });
      await saveAll(repository, [
        connection('a', 'red', { expiresAt: new Date(T0.getTime() + HOUR) }),
        connection('b', 'red', { expiresAt: new Date(T0.getTime() + HOUR + 10_000) }),
        connection('c', 'red'),
        connection('d', 'red'),
      ]);
      const first = await repository.members('red', 1);
      // An hour ahead: DynamoDB Local's sweeper, on real time, deletes none of these rows during the test.
      now = new Date(T0.getTime() + HOUR + 30_000);

      const named: string[] = [];
      let page = first;
      while (page.next !== undefined) {
        page = await repository.members('red', 1, page.next);
        named.push(...page.members.map((m) => m.id));
      }

      expect({ first: first.members.map((m) => m.id), named: named.sort() }).toEqual({
        first: ['a'],
        named: ['c', 'd'],
      });
    });

    it('refuses a roster cursor it did not give', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('a', 'red'));
      await expect(repository.members('red', 10, 'not-a-cursor')).rejects.toThrow(InvalidCursorError);
    });

    it('names 250 members across several reads', async () => {
      const repository = await create({ now: clock, pageSize: 60 });
      await saveAll(
        repository,
        Array.from({ length: 250 }, (_, i) =>
          connection(`m${String(i).padStart(3, '0')}`, 'crowd', { name: `Member ${i}` }),
        ),
      );

      const { members, next } = await repository.members('crowd', 1000);

      expect(members).toHaveLength(250);
      expect(next).toBeUndefined();
      expect(new Set(members.map((m) => m.name)).size).toBe(250);
    });

    it('lists nothing for a room nobody is in', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha', 'lobby'));
      expect(await listAll(repository, 'attic')).toEqual([]);
    });

    it("lists each room's connections apart", async () => {
      const repository = await create({ now: clock });
      await saveAll(repository, [connection('a', 'red'), connection('b', 'blue'), connection('c', 'red')]);
      expect([await listAll(repository, 'red'), await listAll(repository, 'blue')]).toEqual([['a', 'c'], ['b']]);
    });

    it('gets a stored connection with everything saved', async () => {
      const repository = await create({ now: clock });
      const saved = connection('alpha', 'red', { name: 'Alice' });
      await repository.save(saved);
      expect(await repository.get('alpha')).toEqual(saved);
    });

    it('gets nothing for an id that is not stored', async () => {
      const repository = await create({ now: clock });
      expect(await repository.get('nobody')).toBeUndefined();
    });

    it('refuses to save an id that is stored already, and lists it once', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha', 'red'));
      await expect(repository.save(connection('alpha', 'blue'))).rejects.toThrow(/stored already/);
      expect({ red: await listAll(repository, 'red'), blue: await listAll(repository, 'blue') }).toEqual({
        red: ['alpha'],
        blue: [],
      });
    });

    it('moves a connection to another room in one update and returns it before and after', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha', 'red', { name: 'Alice' }));

      const change = await repository.update('alpha', { room: 'blue' });

      expect(change).toEqual({
        before: connection('alpha', 'red', { name: 'Alice' }),
        after: { ...connection('alpha', 'blue', { name: 'Alice' }), revision: 1 },
      });
      expect([await listAll(repository, 'red'), await listAll(repository, 'blue')]).toEqual([[], ['alpha']]);
    });

    it('renames a connection, and its room lists the new name', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha', 'red', { name: 'Alice' }));

      const change = await repository.update('alpha', { name: 'Alicia' });

      expect(change?.after.name).toBe('Alicia');
      expect(await repository.members('red', 10)).toEqual({ members: [{ id: 'alpha', name: 'Alicia', revision: 1 }] });
      expect(await repository.get('alpha')).toEqual({ ...connection('alpha', 'red', { name: 'Alicia' }), revision: 1 });
    });

    it('changes room and name in one update', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha', 'red', { name: 'Alice' }));

      await repository.update('alpha', { room: 'blue', name: 'Alicia' });

      expect(await repository.get('alpha')).toEqual({
        ...connection('alpha', 'blue', { name: 'Alicia' }),
        revision: 1,
      });
    });

    it('leaves a field the update gives no value for unchanged', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha', 'red', { name: 'Alice' }));

      await repository.update('alpha', { room: undefined, name: 'Alicia' });

      expect({ room: (await repository.get('alpha'))?.room, red: await listAll(repository, 'red') }).toEqual({
        room: 'red',
        red: ['alpha'],
      });
    });

    it('updates nothing and creates nothing for an id that is not stored', async () => {
      const repository = await create({ now: clock });
      expect(await repository.update('ghost', { room: 'red' })).toBeUndefined();
      expect(await repository.get('ghost')).toBeUndefined();
      expect(await listAll(repository, 'red')).toEqual([]);
    });

    it('removes only the connection asked for and returns what was stored', async () => {
      const repository = await create({ now: clock });
      await saveAll(repository, [connection('a'), connection('b', 'lobby', { name: 'Bea' }), connection('c')]);

      const removed = await repository.remove('b');

      expect(removed).toEqual(connection('b', 'lobby', { name: 'Bea' }));
      expect(await listAll(repository)).toEqual(['a', 'c']);
    });

    it('takes a retired connection out of its room, yet remove still returns its room and name', async () => {
      const repository = await create({ now: clock });
      await saveAll(repository, [connection('a', 'red', { name: 'Ann' }), connection('b', 'red')]);

      await repository.retire('a', AFTER_HANDSHAKES);

      expect(await listAll(repository, 'red')).toEqual(['b']);
      expect((await repository.members('red', 10)).members.map((m) => m.id)).toEqual(['b']);
      expect(await repository.get('a')).toBeUndefined();
      expect(await repository.update('a', { name: 'Back' })).toBeUndefined();
      // Retiring raised its revision, so that its leave outranks every frame about it before.
      expect(await repository.remove('a')).toEqual({ ...connection('a', 'red', { name: 'Ann' }), revision: 1 });
    });

    it('accepts retiring a connection that is not stored, and stores nothing', async () => {
      const repository = await create({ now: clock });
      await repository.retire('ghost', AFTER_HANDSHAKES);
      expect(await repository.remove('ghost')).toBeUndefined();
    });

    it('accepts removing a connection that is not stored', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('a'));
      expect(await repository.remove('never-stored')).toBeUndefined();
      expect(await listAll(repository)).toEqual(['a']);
    });

    it('hides connections whose expiry has passed from list, get and update', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('live'));
      await repository.save(connection('stale', 'lobby', { expiresAt: new Date(T0.getTime() - 1000) }));
      expect(await listAll(repository)).toEqual(['live']);
      expect((await repository.members('lobby', 10)).members.map((m) => m.id)).toEqual(['live']);
      expect(await repository.get('stale')).toBeUndefined();
      expect(await repository.update('stale', { name: 'zombie' })).toBeUndefined();
    });

    it('hides a connection whose expiry is this very moment', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('live'));
      await repository.save(connection('expiring', 'lobby', { expiresAt: T0 }));

      expect({ listed: await listAll(repository), got: await repository.get('expiring') }).toEqual({
        listed: ['live'],
        got: undefined,
      });
    });

    it('does not bring an expired connection back into a room by updating it', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('stale', 'lobby', { expiresAt: new Date(T0.getTime() - 1000) }));

      await repository.update('stale', { room: 'red' });

      expect({ red: await listAll(repository, 'red'), got: await repository.get('stale') }).toEqual({
        red: [],
        got: undefined,
      });
    });

    it('applies two identical updates made at once one on top of the other: the second changes nothing', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha', 'red'));

      const changes = await Promise.all([
        repository.update('alpha', { room: 'blue' }),
        repository.update('alpha', { room: 'blue' }),
      ]);

      const moved = changes.filter((change) => change !== undefined && change.before.room !== change.after.room);
      expect({ moved: moved.length, revision: (await repository.get('alpha'))?.revision }).toEqual({
        moved: 1,
        revision: 1,
      });
    });

    it('applies six renames made at once, each on top of another, and answers every one', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha'));
      const names = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];

      const changes = await Promise.all(names.map((name) => repository.update('alpha', { name })));

      const stored = await repository.get('alpha');
      expect({
        answered: changes.every((change) => change !== undefined),
        revision: stored?.revision,
        lastApplied: names.includes(stored?.name ?? ''),
        revisions: changes.map((change) => change?.after.revision).sort(),
      }).toEqual({ answered: true, revision: 6, lastApplied: true, revisions: [1, 2, 3, 4, 5, 6] });
    });

    it('keeps a connection reported gone while it may still be in its handshake', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('young', 'red'));

      const retired = await repository.retire('young', T0);

      expect({ retired, listed: await listAll(repository, 'red') }).toEqual({ retired: false, listed: ['young'] });
    });

    it('returns a connection to one of two removals made at once, so its room hears one leave', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha', 'red'));

      const removed = await Promise.all([repository.remove('alpha'), repository.remove('alpha')]);

      expect(removed.filter((connection) => connection !== undefined).map((c) => c.room)).toEqual(['red']);
      expect(await repository.get('alpha')).toBeUndefined();
    });

    it('returns a removed connection as it was last changed, revision included', async () => {
      const repository = await create({ now: clock });
      await repository.save(connection('alpha', 'red'));
      await repository.update('alpha', { room: 'blue' });

      expect(await repository.remove('alpha')).toEqual({ ...connection('alpha', 'blue'), revision: 1 });
    });

    it('lists every live connection when a row a page stopped at expires before the next page is read', async () => {
      let now = T0;
      const repository = await create({ now: () => now, pageSize: 1 });
      await saveAll(repository, [
        connection('a', 'red', { expiresAt: new Date(T0.getTime() + 10_000) }),
        connection('b', 'red', { expiresAt: new Date(T0.getTime() + 20_000) }),
        connection('c', 'red'),
      ]);

      const listed: string[] = [];
      for await (const page of repository.list('red')) {
        listed.push(...page);
        now = new Date(T0.getTime() + 15_000);
      }

      expect(listed).toContain('c');
    });

    it('leaves out of a listing a connection removed while an earlier page was being processed', async () => {
      const repository = await create({ now: clock, pageSize: 2 });
      await saveAll(repository, [connection('a'), connection('b'), connection('c'), connection('d')]);

      const listed: string[] = [];
      for await (const page of repository.list('lobby')) {
        listed.push(...page);
        if (page.includes('a')) await repository.remove('d');
      }

      expect(listed).toEqual(['a', 'b', 'c']);
    });

    it('leaves out of a listing a connection moved to another room while an earlier page was being processed', async () => {
      const repository = await create({ now: clock, pageSize: 2 });
      await saveAll(repository, [connection('a'), connection('b'), connection('c'), connection('d')]);

      const listed: string[] = [];
      for await (const page of repository.list('lobby')) {
        listed.push(...page);
        if (page.includes('a')) await repository.update('d', { room: 'red' });
      }

      expect(listed).toEqual(['a', 'b', 'c']);
    });

    it('keeps ids with characters API Gateway uses, such as = and +', async () => {
      const repository = await create({ now: clock });
      const ids = ['L0SM9cOFvHcCIhw=', 'a+b/c=='];
      await saveAll(
        repository,
        ids.map((id) => connection(id)),
      );
      expect(await listAll(repository)).toEqual([...ids].sort());
    });

    it('pages through 2,500 connections of a room at a page size of 25, listing each exactly once', async () => {
      const repository = await create({ now: clock, pageSize: 25 });
      const ids = Array.from({ length: 2500 }, (_, i) => `conn-${i.toString().padStart(4, '0')}`);
      await saveAll(repository, [...ids.map((id) => connection(id, 'big')), connection('elsewhere', 'small')]);

      const pages: (readonly string[])[] = [];
      for await (const page of repository.list('big')) pages.push(page);

      const listed = pages.flat();
      expect(pages.length).toBeGreaterThanOrEqual(100);
      expect(pages.every((page) => page.length <= 25)).toBe(true);
      expect(new Set(listed).size).toBe(2500);
      expect([...listed].sort()).toEqual(ids);
    }, 180_000);
  });
}
