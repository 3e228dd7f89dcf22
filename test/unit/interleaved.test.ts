import { describe, expect, it } from '@jest/globals';
import { interleaved } from '../../src/adapters/dynamodb-room-listing.ts';

/** A source of `items`, one a tick apart, that records in `closed` when it is closed or runs out. */
async function* source(name: string, items: readonly string[], closed: string[]): AsyncIterable<string> {
  try {
    for (const item of items) {
      await new Promise((resolve) => setImmediate(resolve));
      yield item;
    }
  } finally {
    closed.push(name);
  }
}

describe('interleaved, the room listing across shards', () => {
  it('hands on every item of every source, each source in its own order', async () => {
    const closed: string[] = [];
    const got: string[] = [];
    for await (const item of interleaved([source('a', ['a1', 'a2'], closed), source('b', ['b1'], closed)]))
      got.push(item);

    expect({ a: got.filter((i) => i.startsWith('a')), b: got.filter((i) => i.startsWith('b')) }).toEqual({
      a: ['a1', 'a2'],
      b: ['b1'],
    });
    expect(closed.sort()).toEqual(['a', 'b']);
  });

  it('closes every source when the consumer stops early, the one whose item it holds included', async () => {
    const closed: string[] = [];
    const sources = ['a', 'b', 'c'].map((name) => source(name, [`${name}1`, `${name}2`], closed));
    for await (const item of interleaved(sources)) {
      expect(item).toMatch(/1$/);
      break;
    }

    expect(closed.sort()).toEqual(['a', 'b', 'c']);
  });
});
