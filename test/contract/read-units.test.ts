import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defaultConfig } from '../../bench/chat-on-dynamodb.ts';
import { measureReadUnits, type ReadUnits } from '../../bench/read-units.ts';
import { type DynamoDbTarget, startSelectedDynamoDb } from '../support/dynamodb.ts';

/** Whatever a Query returns, DynamoDB charges it at least half a read unit (eventually consistent). */
const LEAST_QUERY_UNITS = 0.5;

const perWeight = ({ readUnits, weight }: { readUnits: number; weight: number }): number => readUnits / weight;

describe(`the read units of a roster page, against a message's (${process.env['CONTRACT_TARGET'] ?? 'dynalite'})`, () => {
  let target: DynamoDbTarget | undefined;
  let measured: ReadUnits | undefined;

  function figures(): ReadUnits {
    if (measured === undefined) throw new Error('the read units were not measured');
    return measured;
  }

  beforeAll(async () => {
    target = await startSelectedDynamoDb();
    measured = await measureReadUnits(target.endpoint, { whoRoom: 601, messageRoom: 101 });
  }, 180_000);

  afterAll(async () => {
    await target?.stop();
  });

  it('reads 25 names for a who in a room of 601: a page, not the room', () => {
    const { rowsListed, itemsFetched } = figures().who;

    expect({ rowsListed, itemsFetched }).toEqual({ rowsListed: 25, itemsFetched: 25 });
  });

  it('costs no more read units per unit of its rate weight than a message to 101 members', () => {
    const { who, message } = figures();

    expect(perWeight(who)).toBeLessThanOrEqual(perWeight(message));
  });

  it("stays within its weight when its page asks every shard of the room's index, at DynamoDB's least per Query", () => {
    const { who, message } = figures();
    const shards = defaultConfig('any').roomShards;

    const widest = { readUnits: who.readUnits + (shards - who.queries) * LEAST_QUERY_UNITS, weight: who.weight };

    expect(perWeight(widest)).toBeLessThanOrEqual(perWeight(message));
  });

  it('reads no names for a cursor that names a shard the room does not use', () => {
    const { rowsListed, itemsFetched } = figures().whoOfForgedShard;

    expect({ rowsListed, itemsFetched }).toEqual({ rowsListed: 0, itemsFetched: 0 });
  });
});
