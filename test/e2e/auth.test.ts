import { describe, expect, it } from '@jest/globals';
import { handshakeStatus } from '../support/handshake.ts';
import { SignJWT } from 'jose';
import { type ChatClient, ofType } from '../support/chat-client.ts';
import { stackPerFile } from '../support/stack-per-file.ts';

const SECRET = 'an-e2e-secret-that-is-at-least-32-characters';
/** The audience the stack's authorizer requires: tokens of other applications signed with the same key are refused. */
const AUDIENCE = 'ws-chat-e2e';
const ALLOWED_ORIGIN = 'http://127.0.0.1:8080';
/** Connections one user may hold at once in this stack. */
const USER_CAP = 3;

function token(claims: Record<string, unknown>, expiresIn = '1h', secret = SECRET): Promise<string> {
  return new SignJWT({ aud: AUDIENCE, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

describe('the local stack with authentication and an origin allow-list', () => {
  const local = stackPerFile(
    { AUTH_JWT_SECRET: SECRET, AUTH_AUDIENCE: AUDIENCE },
    { authMode: 'jwt', allowedOrigins: ALLOWED_ORIGIN, maxConnectionsPerUser: String(USER_CAP) },
  );

  // API Gateway itself answers 401 to a handshake without the token (its identity source); the emulator
  // runs the authorizer anyway, whose Deny policy it answers with 403.
  it('refuses a handshake without a token', async () => {
    expect(await handshakeStatus(local.stack.websocketUrl)).toBe(403);
  });

  it.each([
    ['an expired token', () => token({ sub: 'u1', name: 'Ann' }, '-1m')],
    ['a token signed with another secret', () => token({ sub: 'u1', name: 'Ann' }, '1h', 'x'.repeat(40))],
    ['a malformed token', async () => 'not-a-jwt'],
    [
      'a token without an expiry',
      () =>
        new SignJWT({ sub: 'u1', name: 'Ann', aud: AUDIENCE })
          .setProtectedHeader({ alg: 'HS256' })
          .sign(new TextEncoder().encode(SECRET)),
    ],
    ['a token of another application signed with the same key', () => token({ sub: 'u1', aud: 'another-app' })],
    ['a token that claims to live 100 years', () => token({ sub: 'u1', name: 'Ann' }, '100y')],
    ['a token whose subject is longer than 256 characters', () => token({ sub: 'u'.repeat(257), name: 'Ann' })],
  ])('refuses a handshake with %s with 403', async (_, make) => {
    expect(await handshakeStatus(`${local.stack.websocketUrl}/?token=${encodeURIComponent(await make())}`)).toBe(403);
  });

  it('refuses a browser handshake from another origin with 403, even with a good token', async () => {
    const url = `${local.stack.websocketUrl}/?token=${await token({ sub: 'u1', name: 'Ann' })}`;
    expect(await handshakeStatus(url, 'https://evil.example')).toBe(403);
  });

  it('makes the verified user the sender: the token names it, and the client cannot rename itself', async () => {
    const [ann, bob] = await Promise.all([
      local.connect(`name=Mallory&token=${await token({ sub: 'user-ann', name: 'Ann' })}`),
      local.connect(`token=${await token({ sub: 'user-bob', name: 'Bob' })}`),
    ]);

    ann.send({ action: 'hello' });
    const [welcome] = await ann.waitFor(ofType('welcome'));
    ann.send({ action: 'setname', name: 'Bob' });
    const [refusal] = await ann.waitFor(ofType('error'));
    ann.send('signed and sealed');
    const [message] = await bob.waitFor(ofType('message'));

    expect({ name: welcome?.['name'], refusal: refusal?.['code'], message }).toMatchObject({
      name: 'Ann',
      refusal: 'name_locked',
      message: { name: 'Ann', userId: 'user-ann', text: 'signed and sealed' },
    });
  });

  it("refuses a user's connection past its cap with 429 while the first ones chat, and a closed one frees its slot", async () => {
    const query = `token=${await token({ sub: 'user-many', name: 'Many' })}`;
    const clients: ChatClient[] = [];
    for (let i = 0; i < USER_CAP; i += 1) clients.push(await local.connect(query));
    const welcomes = await Promise.all(
      clients.map(async (client) => {
        client.send({ action: 'hello' });
        return (await client.waitFor(ofType('welcome')))[0]?.['name'];
      }),
    );
    const over = await handshakeStatus(`${local.stack.websocketUrl}/?${query}`);
    const [first, second] = clients;
    if (first === undefined || second === undefined) throw new Error('the clients did not connect');
    const firstId = await first.whoAmI();

    await first.close();
    // Its slot is given back before its room hears it leave.
    await second.waitForChange((change) => change.event === 'leave' && change.connectionId === firstId);
    const again = await handshakeStatus(`${local.stack.websocketUrl}/?${query}`);

    expect({ welcomes, over, again }).toEqual({ welcomes: Array(USER_CAP).fill('Many'), over: 429, again: 101 });
  });
});
