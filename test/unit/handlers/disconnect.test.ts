import { describe, expect, it } from '@jest/globals';
import { summary } from '../../support/frame-summary.ts';
import { harness } from '../../support/handler-harness.ts';
import { disconnectEvent, frameEvent } from '../../support/lambda-events.ts';
import { listed } from '../../support/service-fixtures.ts';

describe('$disconnect handler', () => {
  it('forgets the connection and answers 200', async () => {
    const h = await harness();

    const response = await h.disconnect(disconnectEvent('B'));

    expect({ response, stored: await listed(h.connections) }).toEqual({
      response: { statusCode: 200 },
      stored: ['A', 'C'],
    });
  });

  it('tells the members left in its room, and no one else, that it left', async () => {
    const h = await harness({ rooms: { kitchen: ['A', 'B'], lobby: ['L'] } });

    await h.disconnect(disconnectEvent('A'));

    expect(h.messenger.sent.map((s) => [s.connectionId, summary(s.frame)])).toEqual([
      ['B', 'presence leave kitchen A'],
    ]);
  });

  it('counts the disconnection, and leaves the fan-out of the leave to the fan-out worker', async () => {
    const h = await harness({ rooms: { kitchen: ['A', 'B'] } });

    await h.disconnect(disconnectEvent('A'));

    expect({
      disconnections: h.metrics.total('Disconnections'),
      loggedFanOuts: h.logger.find('fan-out').length,
    }).toEqual({ disconnections: 1, loggedFanOuts: 0 });
  });

  it('answers 200 and sends nothing for a connection that is not stored', async () => {
    const h = await harness();

    const response = await h.disconnect(disconnectEvent('ghost'));

    expect({ response, sent: h.messenger.sent }).toEqual({ response: { statusCode: 200 }, sent: [] });
  });

  it("counts the disconnection and publishes the invocation's metrics", async () => {
    const h = await harness({ rooms: { lobby: ['A'] } });

    await h.disconnect(disconnectEvent('A'));

    expect([h.metrics.total('Disconnections'), h.metrics.published]).toEqual([1, 1]);
  });

  it('leaves the connection stored when a message frame names $disconnect as its action', async () => {
    const h = await harness();

    await h.disconnect(frameEvent('A', { action: '$disconnect' }));

    expect(await listed(h.connections)).toEqual(['A', 'B', 'C']);
  });

  it('posts nothing when a message frame names $disconnect as its action: its role may not use @connections', async () => {
    const h = await harness();

    await h.disconnect(frameEvent('A', { action: '$disconnect' }));

    expect(h.messenger.sent).toEqual([]);
  });
});
