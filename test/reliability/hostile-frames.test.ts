import { afterAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { problemsWith } from '../support/frame-shapes.ts';
import { describeFrame, hostileFrame } from '../support/hostile-frames.ts';
import { inMemoryChat, requestOf } from '../support/in-memory-chat.ts';
import { recordFigures, tally } from '../support/reliability-figures.ts';

const FRAMES = 10_000;
/** Set RELIABILITY_SEED to replay a run; fast-check prints the seed of a failing one. */
const SEED = Number(process.env['RELIABILITY_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const SENDER = { id: 'sender', room: 'alpha', name: 'Sender' };
const MEMBERS = [
  SENDER,
  { id: 'peer', room: 'alpha', name: 'Peer' },
  { id: 'observer', room: 'beta', name: 'Observer' },
];

interface Frame {
  readonly type?: unknown;
  readonly code?: unknown;
  readonly [field: string]: unknown;
}

describe("hostile frames through the message handler's whole Middy chain", () => {
  const outcomes: string[] = [];
  let tried = 0;
  let crashes = 0;

  afterAll(async () => {
    await recordFigures('hostile-frames', {
      framesTried: tried,
      crashes,
      seed: SEED,
      outcomes: tally(outcomes, (o) => o),
    });
  });

  it('answers every generated frame without a crash: a typed refusal to its sender alone, or a valid action', async () => {
    await fc.assert(
      fc.asyncProperty(hostileFrame, async (frame) => {
        tried += 1;
        const chat = await inMemoryChat(MEMBERS);
        let result;
        try {
          result = await chat.receive(SENDER.id, frame);
        } catch (error) {
          crashes += 1;
          throw error;
        }
        const { statusCode, sent } = result;
        if (statusCode !== 200 && statusCode !== 400) crashes += 1;
        const request = requestOf(SENDER.id, frame);
        const input = frame.kind === 'text' ? frame.text : '';
        const received = sent.map((s) => ({ to: s.connectionId, frame: JSON.parse(JSON.stringify(s.frame)) as Frame }));
        const toSender = received.filter((r) => r.to === SENDER.id).map((r) => r.frame);
        const errors = toSender.filter((f) => f.type === 'error');
        const problems = toSender.flatMap((f) => problemsWith(f, input));
        const silentRename = request?.action === 'setname' && request.name === SENDER.name;
        if (statusCode === 400) {
          outcomes.push(`refused ${String(errors[0]?.code)}`);
          if (received.length !== 1 || errors.length !== 1) problems.push(`a refusal sent ${JSON.stringify(received)}`);
          if (request !== undefined) problems.push('a frame the parser accepts was refused');
          const row = await chat.connections.get(SENDER.id);
          if (row?.room !== SENDER.room || row.name !== SENDER.name)
            problems.push(`a refusal changed the sender: ${JSON.stringify(row)}`);
          if ((await chat.history.recent(SENDER.room)).length > 0) problems.push('a refusal stored a message');
        } else if (statusCode === 200) {
          outcomes.push(
            silentRename ? 'valid setname to the same name (no frame)' : `valid ${request?.action ?? 'text'}`,
          );
          if (errors.length > 0) problems.push(`an accepted frame was answered with ${JSON.stringify(errors)}`);
          if (toSender.length === 0 && !silentRename) problems.push('an accepted frame was not answered');
        } else {
          outcomes.push(`status ${String(statusCode)}`);
          problems.push(`status ${String(statusCode)}, frames ${JSON.stringify(received).slice(0, 500)}`);
        }
        const { save, retire, remove } = chat.connections.calls;
        if (save + retire + remove > 0) problems.push(`connections changed: ${JSON.stringify(chat.connections.calls)}`);
        for (const { id } of MEMBERS) if ((await chat.connections.get(id)) === undefined) problems.push(`${id} lost`);

        expect({ frame: describeFrame(frame), problems }).toEqual({ frame: describeFrame(frame), problems: [] });
      }),
      { numRuns: FRAMES, seed: SEED },
    );

    expect({ tried: tried >= FRAMES, crashes }).toEqual({ tried: true, crashes: 0 });
  }, 300_000);
});
