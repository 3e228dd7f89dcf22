import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { ServerFrame } from '../../src/domain/frames.ts';
import { problemsWith } from '../support/frame-shapes.ts';
import {
  describeFrame,
  type HostileFrame,
  hostileFrame,
  LIFECYCLE_ACTIONS,
  namesLifecycleRoute,
  overTheWire,
} from '../support/hostile-frames.ts';
import { type InMemoryChat, inMemoryChat, requestOf } from '../support/in-memory-chat.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { waitUntil } from '../support/wait.ts';
import { recordFigures, tally } from '../support/reliability-figures.ts';
import type { StackTable } from '../support/stack-table.ts';
import { WireClient, type WireFrame } from '../support/wire-client.ts';

const FRAMES = 1_000;
const SEED = Number(process.env['RELIABILITY_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const ANSWER_TIMEOUT_MS = 10_000;
/** The rate limit has a test of its own; this one must reach the parser with every frame. */
const NO_RATE_LIMIT = { RATE_LIMIT_FRAMES: '100000', RATE_LIMIT_WINDOW_SECONDS: '1' };

/** What a test compares of a frame: its type, and the code or event that says what it means. */
function signature(frame: WireFrame | ServerFrame): string {
  if ('unparsable' in frame) return `unparsable ${String(frame.unparsable).slice(0, 80)}`;
  if (frame['type'] === 'error') return `error ${String(frame['code'])}`;
  if (frame['type'] === 'presence') return `presence ${String(frame['event'])}`;
  return String(frame['type'] ?? `untyped ${JSON.stringify(frame).slice(0, 80)}`);
}

const sorted = (values: readonly string[]): string[] => [...values].sort();

function send(client: WireClient, frame: HostileFrame): void {
  if (frame.kind === 'text') client.sendText(frame.text);
  else client.sendBinary(frame.bytes);
}

describe('hostile frames through the local stack, from one real WebSocket client', () => {
  let stack: TestStack;
  let table: StackTable;
  let sender: WireClient;
  let observer: WireClient;
  /** The same handler in memory, fed the same frames: what each frame should have caused. */
  let oracle: InMemoryChat;
  const mismatches: string[] = [];
  const outcomes: string[] = [];
  let textFrames = 0;
  let binaryFrames = 0;
  let crashes = 0;
  let binaryInternalErrors = 0;
  let idsBefore: string[] = [];

  beforeAll(async () => {
    stack = await startTestStack(NO_RATE_LIMIT);
    table = stack.table;
    // Presence comes from the fan-out worker when a window ends, not in answer to a frame: it is kept apart.
    sender = await WireClient.connect(`${stack.websocketUrl}/?room=alpha&name=Sender`, 10_000, { presenceApart: true });
    observer = await WireClient.connect(`${stack.websocketUrl}/?room=beta&name=Observer`, 10_000, {
      presenceApart: true,
    });
    oracle = await inMemoryChat([
      { id: 'sender', room: 'alpha', name: 'Sender' },
      { id: 'observer', room: 'beta', name: 'Observer' },
    ]);
    idsBefore = await table.connectionIds();
  }, 120_000);

  afterAll(async () => {
    await recordFigures('hostile-frames-e2e', {
      framesTried: textFrames + binaryFrames,
      textFrames,
      binaryFrames,
      crashes,
      binaryFramesAnsweredInternalError: binaryInternalErrors,
      mismatchesWithTheHandlerInMemory: mismatches.length,
      seed: SEED,
      outcomes: tally(outcomes, (o) => o),
    });
    await Promise.all([sender?.close(), observer?.close()]);
    await stack?.stop();
  });

  it('answers each sampled frame exactly as the handler does in memory, to the sender and to the other room', async () => {
    const frames = fc.sample(
      hostileFrame.filter((frame) => !namesLifecycleRoute(frame)),
      { numRuns: FRAMES, seed: SEED },
    );
    const shapeProblems: string[] = [];
    let senderSeen = 0;
    let observerSeen = 0;
    for (const [i, frame] of frames.entries()) {
      if (mismatches.length >= 5 || !sender.open) break;
      const wire: HostileFrame = frame.kind === 'text' ? { kind: 'text', text: overTheWire(frame.text) } : frame;
      const { sent } = await oracle.receive('sender', wire);
      const answers = sent.filter((s) => !s.frame.type.startsWith('presence'));
      const toSender = answers.filter((s) => s.connectionId === 'sender').map((s) => signature(s.frame));
      const toObserver = answers.filter((s) => s.connectionId === 'observer').map((s) => signature(s.frame));

      send(sender, frame);
      const answered = await sender.waitForCount(senderSeen + toSender.length, ANSWER_TIMEOUT_MS);
      const heard = await observer.waitForCount(observerSeen + toObserver.length, ANSWER_TIMEOUT_MS);
      const gotSender = sender.received.slice(senderSeen);
      const gotObserver = observer.received.slice(observerSeen);
      senderSeen = sender.received.length;
      observerSeen = observer.received.length;

      const input = wire.kind === 'text' ? wire.text : '';
      shapeProblems.push(...gotSender.flatMap((f) => problemsWith(f, input).map((p) => `frame ${i}: ${p}`)));
      const internalErrors = gotSender.filter((f) => signature(f) === 'error internal_error').length;
      const untyped = gotSender.filter((f) => !('type' in f)).length;
      if (frame.kind === 'binary') {
        // API Gateway itself closes a connection that sends a binary frame; the emulator hands it to the handler.
        binaryFrames += 1;
        binaryInternalErrors += internalErrors;
        crashes += untyped;
        outcomes.push(`binary: ${gotSender.map(signature).join(', ') || 'no frame'}`);
        const refusedAlone =
          gotSender.length === 1 &&
          gotObserver.length === 0 &&
          signature(gotSender[0] ?? { unparsable: '' }).startsWith('error ');
        if (!refusedAlone)
          mismatches.push(
            `frame ${i} (${describeFrame(frame)}): sender got ${JSON.stringify(gotSender.map(signature))}, observer ${JSON.stringify(gotObserver.map(signature))}`,
          );
        continue;
      }
      crashes += internalErrors + untyped;
      outcomes.push(
        toSender.find((s) => s.startsWith('error ')) ?? `valid ${requestOf('sender', wire)?.action ?? 'text'}`,
      );
      textFrames += 1;
      const same =
        answered &&
        heard &&
        JSON.stringify(sorted(gotSender.map(signature))) === JSON.stringify(sorted(toSender)) &&
        JSON.stringify(sorted(gotObserver.map(signature))) === JSON.stringify(sorted(toObserver));
      if (!same) {
        mismatches.push(
          `frame ${i} (${describeFrame(frame)}): sender expected ${JSON.stringify(sorted(toSender))}, got ${JSON.stringify(sorted(gotSender.map(signature)))}; ` +
            `observer expected ${JSON.stringify(sorted(toObserver))}, got ${JSON.stringify(sorted(gotObserver.map(signature)))}`,
        );
      }
    }
    // Anything that arrives late was not expected by any frame: each client pings, and its pong must be all it gets.
    for (const [client, seen] of [
      [sender, senderSeen],
      [observer, observerSeen],
    ] as const) {
      client.sendText('{"action":"ping"}');
      await client.waitFor(
        (frame) => signature(frame) === 'pong' && client.received.indexOf(frame) >= seen,
        ANSWER_TIMEOUT_MS,
      );
    }

    expect({
      tried: textFrames + binaryFrames,
      mismatches,
      shapeProblems: shapeProblems.slice(0, 10),
      crashes,
      late: {
        sender: sender.received.slice(senderSeen).map(signature),
        observer: observer.received.slice(observerSeen).map(signature),
      },
    }).toEqual({
      tried: FRAMES,
      mismatches: [],
      shapeProblems: [],
      crashes: 0,
      late: { sender: ['pong'], observer: ['pong'] },
    });
  }, 300_000);

  it('keeps exactly the same connections stored, each in the room the frames moved it to', async () => {
    const rooms = Object.fromEntries((await table.connections()).map((item) => [item.id, item.room]));
    const expectedRooms = [
      (await oracle.connections.get('sender'))?.room,
      (await oracle.connections.get('observer'))?.room,
    ];

    expect({ ids: await table.connectionIds(), rooms: Object.values(rooms).sort() }).toEqual({
      ids: idsBefore,
      rooms: expectedRooms.sort(),
    });
  });

  it('still lets the sender chat afterwards', async () => {
    const before = sender.received.length;

    sender.sendText(JSON.stringify({ action: 'sendmessage', text: 'still here', clientMsgId: 'after-the-storm' }));

    await sender.waitForCount(before + 2, ANSWER_TIMEOUT_MS);
    expect(sender.received.slice(before).map(signature).sort()).toEqual(['ack', 'message']);
  });

  it('refuses a binary frame with binary_not_supported, as the README documents', async () => {
    const before = sender.received.length;

    sender.sendBinary(new Uint8Array(Buffer.from('{"action":"sendmessage","text":"as bytes"}', 'utf8')));

    await sender.waitForCount(before + 1, ANSWER_TIMEOUT_MS);
    expect(sender.received.slice(before).map(signature)).toEqual(['error binary_not_supported']);
  });

  // API Gateway routes no frame to $connect or $disconnect; the emulator does. Those functions' roles may not post
  // to @connections, so they answer nothing: each logs the refusal, which is the signal that the frame was handled.
  it.each(LIFECYCLE_ACTIONS.filter((action) => action !== '$default'))(
    'changes nothing and answers nothing when a client names the %s route as its action',
    async (action) => {
      // A room per case: the leave of an earlier case's client must not reach this one.
      const client = await WireClient.connect(
        `${stack.websocketUrl}/?room=lifecycle-${action.replace(/\W/g, '')}&name=Lifecycle`,
        10_000,
        { presenceApart: true },
      );
      client.sendText('{"action":"ping"}');
      await client.waitForCount(1, ANSWER_TIMEOUT_MS);
      const pong = client.received[0];
      const id = pong !== undefined && 'connectionId' in pong ? pong['connectionId'] : undefined;
      const row = async () => (await table.connections()).find((item) => item.id === id);
      const before = await row();

      const refused = () => stack.output.filter((line) => line.includes(`a frame reached the ${action} route`)).length;
      const refusedBefore = refused();

      client.sendText(JSON.stringify({ action }));
      await waitUntil(
        `the ${action} function to refuse the frame`,
        async () => refused() > refusedBefore,
        ANSWER_TIMEOUT_MS,
      );
      const after = await row();
      await client.close();

      expect({ after, answers: client.received.slice(1).map(signature) }).toEqual({ after: before, answers: [] });
    },
  );
});
