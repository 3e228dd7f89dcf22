import { describe, expect, it } from '@jest/globals';
import type {
  ConnectionCaps,
  ConnectionOwners,
  ConnectionQuota,
  QuotaClaim,
} from '../../src/domain/connection-quota.ts';
import { CONNECTION_LIFETIME_MS } from '../../src/domain/chat-service.ts';
import { QUOTA_CLAIM_GRACE_MS } from '../../src/domain/connection-quota.ts';
import type { ConnectionRepository } from '../../src/domain/connection-repository.ts';

export interface ConnectionQuotaFactory {
  /**
   * A quota with those caps over an empty store, whose clock reads `now`, and the connections it tells live ones
   * by (the repository its adapter reads, over the same store, built with the quota: it takes slots with a save).
   */
  (caps: ConnectionCaps, now: () => Date): Promise<{ quota: ConnectionQuota; connections: ConnectionRepository }>;
}

// Real time: DynamoDB Local's TTL sweeper deletes items whose expiry is in the real past.
const T0 = new Date(Math.floor(Date.now() / 1000) * 1000);
const HOUR = 3_600_000;
/** The expiry a $connect at T0 claims with. */
const LIFETIME = new Date(T0.getTime() + CONNECTION_LIFETIME_MS);

const ann: ConnectionOwners = { userId: 'user-ann', sourceIp: '198.51.100.1' };

async function claimEach(
  quota: ConnectionQuota,
  ids: readonly string[],
  owners: ConnectionOwners,
): Promise<QuotaClaim[]> {
  const claims: QuotaClaim[] = [];
  for (const id of ids) claims.push(await quota.claim(id, owners, LIFETIME));
  return claims;
}

/** What every ConnectionQuota adapter must do; run once per adapter. */
export function connectionQuotaContract(adapter: string, create: ConnectionQuotaFactory): void {
  describe(`ConnectionQuota contract: ${adapter}`, () => {
    const fixed = () => T0;

    it('gives a user as many connections as its cap, then refuses the next with user_at_cap', async () => {
      const { quota } = await create({ perUser: 2, perIp: 0 }, fixed);

      expect(await claimEach(quota, ['a', 'b', 'c'], ann)).toEqual(['claimed', 'claimed', 'user_at_cap']);
    });

    it('gives an address as many connections as its cap, whoever the users, then refuses with ip_at_cap', async () => {
      const { quota } = await create({ perUser: 10, perIp: 2 }, fixed);
      const from = (userId: string) => ({ userId, sourceIp: '203.0.113.9' });

      const claims = [
        await quota.claim('a', from('u1'), LIFETIME),
        await quota.claim('b', from('u2'), LIFETIME),
        await quota.claim('c', from('u3'), LIFETIME),
      ];

      expect(claims).toEqual(['claimed', 'claimed', 'ip_at_cap']);
    });

    it('takes no slot from the user of a connection refused for its address', async () => {
      const { quota } = await create({ perUser: 2, perIp: 1 }, fixed);
      await quota.claim('a', { userId: 'u1', sourceIp: '203.0.113.1' }, LIFETIME);
      await quota.claim('b', { userId: 'u1', sourceIp: '203.0.113.1' }, LIFETIME);

      expect(await quota.claim('c', { userId: 'u1', sourceIp: '203.0.113.2' }, LIFETIME)).toBe('claimed');
    });

    it('frees a slot when its connection is released', async () => {
      const { quota } = await create({ perUser: 1, perIp: 0 }, fixed);
      await quota.claim('a', ann, LIFETIME);
      const refused = await quota.claim('b', ann, LIFETIME);

      await quota.release('a', ann);

      expect([refused, await quota.claim('b', ann, LIFETIME)]).toEqual(['user_at_cap', 'claimed']);
    });

    it('frees the slots of both owners on release', async () => {
      const { quota } = await create({ perUser: 1, perIp: 1 }, fixed);
      await quota.claim('a', ann, LIFETIME);

      await quota.release('a', ann);

      expect([
        await quota.claim('b', { userId: 'user-ann' }, LIFETIME),
        await quota.claim('c', { sourceIp: ann.sourceIp }, LIFETIME),
      ]).toEqual(['claimed', 'claimed']);
    });

    it('counts a connection claimed twice once', async () => {
      const { quota } = await create({ perUser: 2, perIp: 0 }, fixed);

      expect(await claimEach(quota, ['a', 'a', 'b', 'c'], ann)).toEqual([
        'claimed',
        'claimed',
        'claimed',
        'user_at_cap',
      ]);
    });

    it('changes nothing when releasing a connection that holds no slot', async () => {
      const { quota } = await create({ perUser: 1, perIp: 1 }, fixed);
      await quota.release('ghost', { userId: 'nobody', sourceIp: '192.0.2.1' });
      await quota.claim('a', ann, LIFETIME);

      await quota.release('ghost', ann);

      expect(await quota.claim('b', ann, LIFETIME)).toBe('user_at_cap');
    });

    it('stops counting a slot once its connection has expired', async () => {
      let now = T0;
      const { quota } = await create({ perUser: 1, perIp: 1 }, () => now);
      await quota.claim('a', ann, new Date(T0.getTime() + HOUR));

      now = new Date(T0.getTime() + HOUR + 1000);

      expect(await quota.claim('b', ann, new Date(now.getTime() + HOUR))).toBe('claimed');
    });

    it('keeps owners apart: other users, other addresses, and a user named like an address', async () => {
      const { quota } = await create({ perUser: 1, perIp: 1 }, fixed);
      await quota.claim('a', { userId: '192.0.2.1', sourceIp: '192.0.2.1' }, LIFETIME);

      expect([
        await quota.claim('b', { userId: 'someone-else' }, LIFETIME),
        await quota.claim('c', { sourceIp: '192.0.2.2' }, LIFETIME),
        await quota.claim('d', { userId: '192.0.2.2', sourceIp: '192.0.2.3' }, LIFETIME),
      ]).toEqual(['claimed', 'claimed', 'claimed']);
    });

    it('caps nothing with caps of 0', async () => {
      const { quota } = await create({ perUser: 0, perIp: 0 }, fixed);
      const ids = Array.from({ length: 30 }, (_, i) => `c${i}`);

      expect(new Set(await claimEach(quota, ids, ann))).toEqual(new Set(['claimed']));
    });

    it('counts a connection with no known owner against nothing', async () => {
      const { quota } = await create({ perUser: 1, perIp: 1 }, fixed);

      expect(await claimEach(quota, ['a', 'b', 'c'], {})).toEqual(['claimed', 'claimed', 'claimed']);
    });

    it('gives exactly the cap when many connections of one user claim at once, as from many containers', async () => {
      const { quota } = await create({ perUser: 5, perIp: 0 }, fixed);

      const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => quota.claim(`c${i}`, ann, LIFETIME)));

      expect({
        claimed: claims.filter((claim) => claim === 'claimed').length,
        refused: claims.filter((claim) => claim === 'user_at_cap').length,
      }).toEqual({ claimed: 5, refused: 15 });
    });

    it('loses no release when many connections of one user close at once', async () => {
      const { quota } = await create({ perUser: 8, perIp: 0 }, fixed);
      const first = Array.from({ length: 8 }, (_, i) => `first${i}`);
      await Promise.all(first.map((id) => quota.claim(id, ann, LIFETIME)));

      await Promise.all(first.map((id) => quota.release(id, ann)));
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => quota.claim(`second${i}`, ann, LIFETIME)));

      expect(new Set(claims)).toEqual(new Set(['claimed']));
    });

    it('takes back, at its cap, the slot of a connection no longer stored, claimed longer ago than a $connect runs', async () => {
      let now = T0;
      const { quota, connections } = await create({ perUser: 2, perIp: 0 }, () => now);
      await connections.save({
        id: 'live',
        room: 'lobby',
        name: 'Live',
        connectedAt: T0,
        expiresAt: LIFETIME,
        revision: 0,
        announced: true,
      });
      const first = await claimEach(quota, ['live', 'lost'], ann);
      const atOnce = await quota.claim('young', ann, LIFETIME);
      now = new Date(T0.getTime() + QUOTA_CLAIM_GRACE_MS + 1000);
      const later = await quota.claim('next', ann, new Date(now.getTime() + CONNECTION_LIFETIME_MS));
      const full = await quota.claim('one-more', ann, new Date(now.getTime() + CONNECTION_LIFETIME_MS));

      // 'lost' never stored its row (its $connect failed, or its release did): only its slot is taken back.
      expect({ first, atOnce, later, full }).toEqual({
        first: ['claimed', 'claimed'],
        atOnce: 'user_at_cap',
        later: 'claimed',
        full: 'user_at_cap',
      });
    });
    describe('with a repository that takes the slots with the save', () => {
      const stored = (id: string, at = T0) => ({
        id,
        room: 'lobby',
        name: id,
        connectedAt: at,
        expiresAt: new Date(at.getTime() + CONNECTION_LIFETIME_MS),
        revision: 0,
        announced: true,
      });

      it('stores the connection and takes a slot of each owner in one step, counted as claims are', async () => {
        const { quota, connections } = await create({ perUser: 2, perIp: 2 }, fixed);

        const saves = [
          await connections.saveWithSlots(stored('a'), [], ann),
          await connections.saveWithSlots(stored('b'), [], ann),
          await connections.saveWithSlots(stored('c'), [], ann),
        ];
        const claimAtCap = await quota.claim('d', ann, LIFETIME);
        await quota.release('a', ann);

        expect({
          takesSlots: connections.takesSlots,
          saves,
          stored: [await connections.get('a'), await connections.get('c')].map((c) => c?.id),
          claimAtCap,
          afterRelease: await quota.claim('d', ann, LIFETIME),
          address: await quota.claim('e', { sourceIp: ann.sourceIp }, LIFETIME),
        }).toEqual({
          takesSlots: true,
          saves: ['saved', 'saved', 'owners_full'],
          stored: ['a', undefined],
          claimAtCap: 'user_at_cap',
          afterRelease: 'claimed',
          // b and d hold the address's 2 slots; c, refused by its user, took none.
          address: 'ip_at_cap',
        });
      });

      it('saves exactly the cap when many connections of one user save at once, as from many containers', async () => {
        const { connections } = await create({ perUser: 3, perIp: 0 }, fixed);

        const saves = await Promise.all(
          Array.from({ length: 10 }, (_, i) => connections.saveWithSlots(stored(`many${i}`), [], ann)),
        );

        expect(saves.filter((saved) => saved === 'saved').length).toBe(3);
      });

      it('forgets a connection and gives back its slots in one step, the user it was stored with first', async () => {
        const { quota, connections } = await create({ perUser: 1, perIp: 1 }, fixed);
        await connections.saveWithSlots({ ...stored('a'), userId: ann.userId }, [], ann);

        // The closing event may not name the user (no authorizer context): the row does.
        const outcome = await connections.removeWithSlots('a', () => [], { sourceIp: ann.sourceIp });

        expect({
          removed: outcome.removed?.id,
          released: outcome.released,
          stored: await connections.get('a'),
          next: await quota.claim('b', ann, LIFETIME),
        }).toEqual({ removed: 'a', released: true, stored: undefined, next: 'claimed' });
      });

      it('gives back nothing for a connection not stored, and forgets the row alone when a slot is not held', async () => {
        const { quota, connections } = await create({ perUser: 2, perIp: 0 }, fixed);
        await connections.save(stored('unclaimed'));
        await quota.claim('other', ann, LIFETIME);

        const ghost = await connections.removeWithSlots('ghost', () => [], ann);
        const unclaimed = await connections.removeWithSlots('unclaimed', () => [], ann);

        expect({
          ghost,
          // Whether it says it released (the DynamoDB transaction refused, the in-memory release was a no-op), the
          // caller's release through the quota changes nothing more.
          unclaimed: unclaimed.removed?.id,
          stored: await connections.get('unclaimed'),
          // 'other' still holds its slot: one left of two.
          claims: [await quota.claim('c', ann, LIFETIME), await quota.claim('d', ann, LIFETIME)],
        }).toEqual({
          ghost: { removed: undefined, released: false },
          unclaimed: 'unclaimed',
          stored: undefined,
          claims: ['claimed', 'user_at_cap'],
        });
      });

      it("leaves expired and abandoned slots to the quota's claim, which takes them back", async () => {
        let now = T0;
        const { quota, connections } = await create({ perUser: 1, perIp: 0 }, () => now);
        await quota.claim('lost', ann, LIFETIME);
        now = new Date(T0.getTime() + QUOTA_CLAIM_GRACE_MS + 1000);

        const full = await connections.saveWithSlots(stored('next', now), [], ann);
        const claim = await quota.claim('next', ann, new Date(now.getTime() + CONNECTION_LIFETIME_MS));

        expect({ full, claim, stored: await connections.get('next') }).toEqual({
          full: 'owners_full',
          claim: 'claimed',
          stored: undefined,
        });
      });
    });
  });
}
