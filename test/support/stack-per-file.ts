import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { ChatClient } from './chat-client.ts';
import { startTestStack, type TestStack } from './local-stack.ts';
import { waitUntil } from './wait.ts';

/** A test file's local stack, and the clients its tests open on it. */
export interface StackPerFile {
  readonly stack: TestStack;
  /** Opens a client with this query string (`room=red&name=Ann`), closed after the test. */
  connect(query?: string): Promise<ChatClient>;
}

/**
 * Starts a local stack before the file's tests and stops it after them; after each test, closes the clients
 * it opened and waits until the table holds none of them, so that no test sees an earlier one's $disconnect.
 */
export function stackPerFile(
  handlerEnv: Record<string, string> = {},
  params: Record<string, string> = {},
): StackPerFile {
  let started: TestStack | undefined;
  const clients: ChatClient[] = [];
  const stack = (): TestStack => {
    if (started === undefined) throw new Error('the local stack did not start');
    return started;
  };

  beforeAll(async () => {
    started = await startTestStack(handlerEnv, params);
  }, 90_000);

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    // $disconnect runs after the socket has closed, so the close alone does not say the row is gone.
    if (started !== undefined)
      await waitUntil(
        'every closed connection to leave the table',
        async () => (await stack().table.openConnectionIds()).length === 0,
      );
  });

  afterAll(async () => {
    await started?.stop();
  });

  return {
    get stack() {
      return stack();
    },
    async connect(query) {
      const client = await ChatClient.connect(
        query === undefined ? stack().websocketUrl : `${stack().websocketUrl}/?${query}`,
      );
      clients.push(client);
      return client;
    },
  };
}
