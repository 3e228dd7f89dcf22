import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ChatClient, type ReceivedFrame } from '../support/chat-client.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { waitUntil } from '../support/wait.ts';

/**
 * The paths that slipped past IAM before, through the local stack, which refuses what a role does not allow as AWS
 * does. A room counted above FANOUT_SHARD_SIZE (3 here, with one room shard) is fanned out by shard jobs of pages of
 * 3: the worker delivers a page, then queues the next (sqs:SendMessage), and a presence flush of such a room queues
 * shard jobs from the worker too. $disconnect marks the connection (UpdateItem) before the room hears the leave.
 * Run once with the roles serverless.yml states, and once with those permissions revoked, as the old roles were.
 */
const BIG_ROOM_ENV = { FANOUT_SHARD_SIZE: '3', ROOM_SHARDS: '1' };
const MEMBERS = 7;
const REVOKED = 'FanOutRole:sqs:SendMessage,DisconnectRole:dynamodb:UpdateItem,DisconnectRole:dynamodb:GetItem';

const messageOf = (id: string) => (frame: ReceivedFrame) => frame.type === 'message' && frame['id'] === id;

/** The refusals the emulator logged for a role's action: the handlers log the AccessDeniedException they met. */
const refusals = (stack: TestStack, role: string, action: string): number =>
  stack.output.filter(
    (line) => line.includes('AccessDeniedException') && line.includes(`assumed-role/${role}/`) && line.includes(action),
  ).length;

interface Room {
  readonly members: ChatClient[];
  close(): Promise<void>;
}

async function joinRoom(stack: TestStack, room: string, count: number): Promise<Room> {
  const members: ChatClient[] = [];
  for (let i = 0; i < count; i += 1)
    members.push(await ChatClient.connect(`${stack.websocketUrl}/?room=${room}&name=M${i}`));
  return { members, close: async () => void (await Promise.all(members.map((member) => member.close()))) };
}

/** Posts a message from the room's first member and resolves with its ack. */
async function post(room: Room, text: string): Promise<ReceivedFrame> {
  const [sender] = room.members;
  if (sender === undefined) throw new Error('an empty room');
  const clientMsgId = text.replaceAll(' ', '-');
  sender.send({ action: 'sendmessage', text, clientMsgId });
  const [ack] = await sender.waitFor(
    (frame) => frame.type === 'ack' && frame['clientMsgId'] === clientMsgId,
    1,
    20_000,
  );
  if (ack === undefined || typeof ack['id'] !== 'string') throw new Error('no ack');
  return ack;
}

/**
 * A local stack with these handler variables for the enclosing block's tests. Not stackPerFile: with $disconnect
 * refused, closed connections stay in the table, which stackPerFile waits to see empty after each test.
 */
function stackWith(handlerEnv: Record<string, string>): () => TestStack {
  let stack: TestStack | undefined;
  beforeAll(async () => {
    stack = await startTestStack(handlerEnv);
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });
  return () => {
    if (stack === undefined) throw new Error('the local stack did not start');
    return stack;
  };
}

describe('least privilege through the local stack, with the roles serverless.yml states', () => {
  const started = stackWith(BIG_ROOM_ENV);

  it('delivers a message in a room fanned out in pages to every member: the worker may queue each next page', async () => {
    const room = await joinRoom(started(), 'paged', MEMBERS);
    try {
      const ack = await post(room, 'to every page');
      const id = String(ack['id']);

      await Promise.all(room.members.map((member) => member.waitFor(messageOf(id), 1, 20_000)));

      expect({ shards: ack['shards'], refused: refusals(started(), 'FanOutRole', 'sqs:SendMessage') }).toEqual({
        shards: 1,
        refused: 0,
      });
    } finally {
      await room.close();
    }
  });

  it("announces a join to every member of a big room: the worker may queue the flush's shard jobs", async () => {
    const room = await joinRoom(started(), 'crowd', MEMBERS);
    try {
      const newcomer = await ChatClient.connect(`${started().websocketUrl}/?room=crowd&name=Newcomer`);
      const told = await Promise.all(
        room.members.map((member) =>
          member.waitForChange((change) => change.event === 'join' && change.name === 'Newcomer', 1, 20_000),
        ),
      );
      await newcomer.close();

      expect(told.map((changes) => changes.length)).toEqual(room.members.map(() => 1));
    } finally {
      await room.close();
    }
  });

  it('announces a leave: the disconnect function may read and remove the connection, with its leave', async () => {
    const room = await joinRoom(started(), 'nook', 2);
    const [stayer, leaver] = room.members;
    if (stayer === undefined || leaver === undefined) throw new Error('the room did not fill');
    const leaverId = await leaver.whoAmI();

    await leaver.close();
    const leaves = await stayer.waitForChange((c) => c.event === 'leave' && c.connectionId === leaverId, 1, 20_000);

    expect(leaves).toHaveLength(1);
    await room.close();
  });
});

describe(`least privilege through the local stack, with ${REVOKED} revoked as AWS would refuse them`, () => {
  const started = stackWith({ ...BIG_ROOM_ENV, CHAT_IAM_REVOKE: REVOKED });

  it('delivers a paged message to its first page only: the worker is refused the next page', async () => {
    const room = await joinRoom(started(), 'paged', MEMBERS);
    try {
      const ack = await post(room, 'to the first page');
      const id = String(ack['id']);
      const before = refusals(started(), 'FanOutRole', 'sqs:SendMessage');
      // The worker delivers the first page, then asks to queue the next one and is refused.
      await Promise.any(room.members.map((member) => member.waitFor(messageOf(id), 1, 20_000)));
      await waitUntil(
        'the worker to be refused sqs:SendMessage',
        async () => refusals(started(), 'FanOutRole', 'sqs:SendMessage') > before,
        20_000,
      );

      const reached = room.members.filter((member) => member.received.some(messageOf(id))).length;
      expect(reached).toBe(3);
    } finally {
      await room.close();
    }
  });

  it('announces no join in a big room: the worker is refused the shard jobs of its flush', async () => {
    const room = await joinRoom(started(), 'crowd', MEMBERS);
    try {
      const before = refusals(started(), 'FanOutRole', 'sqs:SendMessage');
      const newcomer = await ChatClient.connect(`${started().websocketUrl}/?room=crowd&name=Newcomer`);
      await waitUntil(
        'a presence flush of the room to be refused sqs:SendMessage',
        async () => refusals(started(), 'FanOutRole', 'sqs:SendMessage') > before,
        20_000,
      );
      await newcomer.close();

      const told = room.members.filter((member) =>
        member.changes().some((change) => change.event === 'join' && change.name === 'Newcomer'),
      );
      expect(told).toHaveLength(0);
    } finally {
      await room.close();
    }
  });

  it('announces no leave, and the closed connection stays in the roster: $disconnect is refused its read', async () => {
    const room = await joinRoom(started(), 'nook', 2);
    const [stayer, leaver] = room.members;
    if (stayer === undefined || leaver === undefined) throw new Error('the room did not fill');
    const leaverId = await leaver.whoAmI();

    await leaver.close();
    await waitUntil(
      '$disconnect to be refused dynamodb:GetItem',
      async () => refusals(started(), 'DisconnectRole', 'dynamodb:GetItem') > 0,
      20_000,
    );
    stayer.send({ action: 'who' });
    const [roster] = await stayer.waitFor((frame) => frame.type === 'roster');

    expect({
      leaves: stayer.changes().filter((c) => c.event === 'leave' && c.connectionId === leaverId).length,
      inRoster: JSON.stringify(roster?.['members']).includes(leaverId),
    }).toEqual({ leaves: 0, inRoster: true });
    await room.close();
  });
});
