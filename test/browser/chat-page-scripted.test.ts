import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { BrowserContext, Page } from 'playwright-core';
import { startWebServer, type WebServer } from '../../scripts/web-server.ts';
import {
  type LaunchedBrowser,
  launchChromium,
  ScriptedChatServer,
  type ScriptedConnection,
  screenshot,
} from '../support/browser.ts';

/** The server the page's config.json names, and one it does not: both played by the test. */
const HOME = 'ws://chat.test/';
const ELSEWHERE = 'ws://elsewhere.test/';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZXYtdXNlciJ9.c2lnbmF0dXJl';
const SENT_AT = '2026-01-01T12:00:00.000Z';

interface Opened {
  readonly page: Page;
  readonly context: BrowserContext;
  readonly home: ScriptedChatServer;
  readonly elsewhere: ScriptedChatServer;
  /** Every other WebSocket the page opens, such as its default server when it has no config.json. */
  readonly anyOther: ScriptedChatServer;
  /** Every HTTP request of the page that failed or was answered with an error status. */
  readonly failedRequests: string[];
}

function message(seq: number, room = 'lobby', text = `message ${seq}`): object {
  return { type: 'message', id: `id-${room}-${seq}`, seq, room, from: 'bob-1', name: 'Bob', text, sentAt: SENT_AT };
}

/** The server's answer to a hello or join: a welcome, then the replayed history, oldest first. */
function welcome(connection: ScriptedConnection, room: string, rev: number, replay: object[] = []): void {
  connection.send({ type: 'welcome', connectionId: 'me-1', room, name: 'Ann', replay: replay.length, rev, members: 1 });
  for (const frame of replay) connection.send(frame);
}

function isHello(frame: Record<string, unknown>): boolean {
  return frame['action'] === 'hello';
}

describe('the chat page against a scripted server', () => {
  let web: WebServer;
  let chromium: LaunchedBrowser;
  const opened: Opened[] = [];

  beforeAll(async () => {
    web = await startWebServer({ port: 0, websocketUrl: HOME, mintToken: async () => TOKEN });
    chromium = await launchChromium();
  }, 60_000);

  afterEach(async () => {
    const name = expect.getState().currentTestName ?? 'test';
    for (const [i, { page }] of opened.entries()) await screenshot(page, `${name}-tab-${i + 1}`);
    await Promise.all(opened.splice(0).map(({ context }) => context.close()));
  });

  afterAll(async () => {
    await chromium?.close();
    await web?.stop();
  });

  /**
   * Opens the page with the query; with `clock`, the page's timers run on a clock the test can move; with
   * `withoutConfig`, the page is served as from a static host, without config.json.
   */
  async function openPage(query: string, options: { clock?: boolean; withoutConfig?: boolean } = {}): Promise<Opened> {
    const context = await chromium.browser.newContext({ viewport: { width: 900, height: 700 } });
    const home = await ScriptedChatServer.route(context, (url) => url.host === 'chat.test');
    const elsewhere = await ScriptedChatServer.route(context, (url) => url.host === 'elsewhere.test');
    const anyOther = await ScriptedChatServer.route(
      context,
      (url) => url.host !== 'chat.test' && url.host !== 'elsewhere.test',
    );
    if (options.withoutConfig) await context.route('**/config.json', (route) => route.fulfill({ status: 404 }));
    const page = await context.newPage();
    const failedRequests: string[] = [];
    page.on('response', (response) => {
      if (response.status() >= 400) failedRequests.push(`${response.status()} ${response.url()}`);
    });
    page.on('requestfailed', (request) => failedRequests.push(`failed ${request.url()}`));
    if (options.clock) await page.clock.install();
    await page.goto(`${web.url}?${query}`);
    const tab = { page, context, home, elsewhere, anyOther, failedRequests };
    opened.push(tab);
    return tab;
  }

  /** Answers the page's first hello in `room` and waits until the page shows it is connected. */
  async function connectedIn(tab: Opened, room = 'lobby', replay: object[] = []): Promise<ScriptedConnection> {
    const connection = await tab.home.connection(0);
    await connection.frame(isHello);
    welcome(connection, room, 1, replay);
    await tab.page.locator('#status[data-state="open"][data-connection-id="me-1"]').waitFor();
    return connection;
  }

  /** Types and sends a line, then waits until the server has it: every frame the page sent before it has arrived too. */
  async function sendMarker(
    page: Page,
    connection: ScriptedConnection,
    text = 'marker',
  ): Promise<Array<Record<string, unknown>>> {
    const box = page.getByRole('textbox', { name: 'Message', exact: true });
    await box.fill(text);
    await box.press('Enter');
    const marker = await connection.frame((frame) => frame['action'] === 'sendmessage' && frame['text'] === text);
    return connection.frames.slice(0, connection.frames.indexOf(marker));
  }

  function shownTexts(page: Page): Promise<string[]> {
    return page.locator('#messages li.message .text').allTextContents();
  }

  describe('page parameters', () => {
    it.each(['0', '-1', 'abc', '0.001', '', 'Infinity'])(
      'sends nothing but its handshake over 3 seconds when linked with ?keepalive=%s',
      async (keepalive) => {
        const tab = await openPage(`keepalive=${keepalive}`, { clock: true });
        const connection = await connectedIn(tab);

        await tab.page.clock.runFor(3_000);
        const before = await sendMarker(tab.page, connection);

        expect(before.map((frame) => frame['action'])).toEqual(['hello', 'who']);
      },
    );

    it('still pings, at most once in 30 seconds, when linked with a tiny ?keepalive', async () => {
      const tab = await openPage('keepalive=1', { clock: true });
      const connection = await connectedIn(tab);

      await tab.page.clock.runFor(61_000);
      const before = await sendMarker(tab.page, connection);

      expect(before.filter((frame) => frame['action'] === 'ping')).toHaveLength(2);
    });

    it('ignores a room, a name and a token in the link that the chat would refuse', async () => {
      const tab = await openPage(
        `room=${encodeURIComponent('../no spaces')}&name=${encodeURIComponent('\u202eevil')}&token=${encodeURIComponent('<b>')}`,
      );

      const connection = await tab.home.connection(0);

      expect(connection.url.searchParams.get('room')).toBe('lobby');
      expect(connection.url.searchParams.has('name')).toBe(false);
      expect(connection.url.searchParams.get('token')).toBe(TOKEN);
    });

    it.each(['javascript:alert(1)', 'http://elsewhere.test/', 'ws://user:secret@elsewhere.test/', 'not a url'])(
      'connects to its own server when linked with ?ws=%s',
      async (ws) => {
        const tab = await openPage(`ws=${encodeURIComponent(ws)}`);

        const connection = await tab.home.connection(0);

        expect(connection.url.host).toBe('chat.test');
      },
    );
  });

  describe('sending', () => {
    it('refuses to send faster than a person can, keeping the text in the box', async () => {
      const tab = await openPage('', { clock: true });
      const connection = await connectedIn(tab);
      const box = tab.page.getByRole('textbox', { name: 'Message', exact: true });

      await tab.page.clock.pauseAt((await tab.page.evaluate(() => Date.now())) + 1_000);
      for (let i = 1; i <= 20; i += 1) {
        await box.fill(`burst ${i}`);
        await box.press('Enter');
      }
      await tab.page.locator('#messages li.notice.error', { hasText: 'too fast' }).first().waitFor();
      const leftInBox = await box.inputValue();
      await tab.page.clock.runFor(20_000);
      const before = await sendMarker(tab.page, connection);

      const burst = before.filter((frame) => frame['action'] === 'sendmessage');
      expect(burst.length).toBeGreaterThan(0);
      expect(burst.length).toBeLessThanOrEqual(8);
      expect(leftInBox).toBe('burst 20');
    });
  });

  describe('servers', () => {
    it('stays on its own server when a link names another, and goes there unsigned only when asked', async () => {
      const tab = await openPage(`ws=${encodeURIComponent(ELSEWHERE)}`);
      await connectedIn(tab);
      const notice = tab.page.locator('#server-notice');
      await notice.waitFor();
      const offered = await notice.textContent();
      const openedElsewhereFirst = tab.elsewhere.connections.length;

      await tab.page.getByRole('button', { name: `Connect to ${ELSEWHERE} without signing in` }).click();
      const there = await tab.elsewhere.connection(0);

      expect((await tab.home.connection(0)).url.searchParams.get('token')).toBe(TOKEN);
      expect(openedElsewhereFirst).toBe(0);
      expect(offered).toContain(ELSEWHERE);
      expect(there.url.searchParams.has('token')).toBe(false);
      expect(await notice.textContent()).toMatch(/not signed in/);
    });

    it('sends its token to no server typed in the Server field but its own, and says so', async () => {
      const tab = await openPage('');
      await connectedIn(tab);

      await tab.page.getByText('Server', { exact: true }).click();
      await tab.page.getByRole('textbox', { name: 'WebSocket URL' }).fill(ELSEWHERE);
      await tab.page.getByRole('button', { name: 'Connect', exact: true }).click();
      const there = await tab.elsewhere.connection(0);
      const notice = await tab.page.locator('#server-notice').textContent();
      await tab.page.getByRole('button', { name: `Back to ${HOME}` }).click();
      const back = await tab.home.connection(1);

      expect(there.url.searchParams.has('token')).toBe(false);
      expect(notice).toContain(ELSEWHERE);
      expect(notice).toMatch(/not signed in/);
      expect(back.url.searchParams.get('token')).toBe(TOKEN);
    });
  });

  describe('a page served without config.json', () => {
    it('connects nowhere when a link names a server, until the person agrees, and only then signs in there', async () => {
      const tab = await openPage(`ws=${encodeURIComponent(ELSEWHERE)}&token=${TOKEN}`, { withoutConfig: true });
      const notice = tab.page.locator('#server-notice');
      await notice.waitFor({ timeout: 5_000 });
      const offered = await notice.textContent();
      const openedFirst = [tab.home, tab.elsewhere, tab.anyOther].map((server) => server.connections.length);

      await tab.page.getByRole('button', { name: `Connect to ${ELSEWHERE} and sign in there` }).click();
      const there = await tab.elsewhere.connection(0);

      expect(openedFirst).toEqual([0, 0, 0]);
      expect(offered).toContain(ELSEWHERE);
      expect(there.url.searchParams.get('token')).toBe(TOKEN);
    });
  });

  describe('the sign-in token', () => {
    const LINKED = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsaW5rZWQifQ.c2lnbmF0dXJl';

    it('takes the token out of the address at once, and writes it into no address after', async () => {
      const tab = await openPage(`room=kitchen&token=${LINKED}`);
      const connection = await tab.home.connection(0);
      await connection.frame(isHello);
      const addressOnConnect = tab.page.url();
      welcome(connection, 'kitchen', 1);
      await tab.page.locator('#status[data-state="open"]').waitFor();
      const roomBox = tab.page.getByRole('textbox', { name: 'Room', exact: true });
      await roomBox.fill('garden');
      await roomBox.press('Enter');
      await connection.frame((frame) => frame['action'] === 'join');
      welcome(connection, 'garden', 2);
      await tab.page.locator('#room-title', { hasText: 'garden' }).waitFor();

      expect(connection.url.searchParams.get('token')).toBe(LINKED);
      expect(new URL(addressOnConnect).searchParams.has('token')).toBe(false);
      expect(new URL(tab.page.url()).searchParams.get('room')).toBe('garden');
      expect(tab.page.url()).not.toContain(LINKED);
    });

    it('still signs in with the linked token after a reload, though the address no longer holds it', async () => {
      const tab = await openPage(`token=${LINKED}`);
      await tab.home.connection(0);

      await tab.page.reload();
      const again = await tab.home.connection(1);

      expect(again.url.searchParams.get('token')).toBe(LINKED);
    });
  });

  describe('names', () => {
    function rosterOf(connection: ScriptedConnection, members: object[]): void {
      connection.send({ type: 'roster', room: 'lobby', members, count: members.length });
    }

    it('refuses to save a name the chat would refuse, saying why, and sends none', async () => {
      const tab = await openPage('');
      const connection = await connectedIn(tab);
      const nameBox = tab.page.getByRole('textbox', { name: 'Your name', exact: true });

      await nameBox.fill('\u0410lice');
      await nameBox.press('Enter');
      const notice = await tab.page.locator('#messages li.notice.error').textContent();
      const before = await sendMarker(tab.page, connection);

      expect(notice).toBe('Not saved: a name cannot mix Latin and Cyrillic letters, which look alike.');
      expect(before.filter((frame) => frame['action'] === 'setname')).toEqual([]);
    });

    it('marks its own member by an element no name can make, not by the name "Ann (you)"', async () => {
      const tab = await openPage('');
      const connection = await connectedIn(tab);

      rosterOf(connection, [
        { connectionId: 'me-1', name: 'Ann', rev: 1 },
        { connectionId: 'm-1', name: 'Ann (you)', rev: 1 },
      ]);
      await tab.page.locator('#roster li[data-id="m-1"]').waitFor();

      expect(
        await tab.page
          .locator('#roster li:has(.you)')
          .evaluateAll((items) => items.map((li) => li.id || (li as HTMLElement).dataset['id'])),
      ).toEqual(['me-1']);
      expect(await tab.page.locator('#roster li[data-id="m-1"] bdi').textContent()).toBe('Ann (you)');
    });

    it('tells two signed-in users of one name apart by a tag of their user id, the same in roster and messages', async () => {
      const tab = await openPage('');
      const connection = await connectedIn(tab);

      rosterOf(connection, [
        { connectionId: 'a-1', name: 'Alice', userId: 'user-alice', rev: 1 },
        { connectionId: 'a-2', name: 'Alice', userId: 'user-mallory', rev: 1 },
      ]);
      connection.send({
        ...message(1),
        from: 'a-2',
        name: 'Alice',
        userId: 'user-mallory',
        text: 'send me your password',
      });
      await tab.page.locator('#messages li.message').waitFor();
      const tagOf = (selector: string): Promise<string | null> => tab.page.locator(`${selector} .tag`).textContent();

      const [real, fake, speaker] = [
        await tagOf('#roster li[data-id="a-1"]'),
        await tagOf('#roster li[data-id="a-2"]'),
        await tagOf('#messages li.message .from'),
      ];

      expect(real).toMatch(/^#[0-9A-Z]{6}$/);
      expect(fake).toMatch(/^#[0-9A-Z]{6}$/);
      expect(real).not.toBe(fake);
      expect(speaker).toBe(fake);
    });
  });

  describe('bidirectional text', () => {
    it('isolates every name and text, so a right-to-left override cannot flip the words after it', async () => {
      const tab = await openPage('');
      const connection = await connectedIn(tab);
      const mallory = '\u202eMallory';

      connection.send({
        type: 'presence',
        event: 'join',
        room: 'lobby',
        members: 2,
        connectionId: 'm-1',
        name: mallory,
        rev: 1,
        at: SENT_AT,
      });
      connection.send({ ...message(1), from: 'm-1', name: mallory, text: '\u202eflipped' });
      await tab.page.locator('#messages li.message').waitFor();
      const layout = await tab.page.evaluate(() => {
        const notice = [...document.querySelectorAll('#messages li.notice')].find((li) =>
          li.textContent?.endsWith('joined'),
        );
        const walker = document.createTreeWalker(notice ?? document.body, NodeFilter.SHOW_TEXT);
        let node = walker.nextNode();
        while (node !== null && !(node.textContent ?? '').includes('joined')) node = walker.nextNode();
        const at = (offset: number): number => {
          const range = document.createRange();
          range.setStart(node as Node, offset);
          range.setEnd(node as Node, offset + 1);
          return range.getBoundingClientRect().left;
        };
        const start = (node?.textContent ?? '').indexOf('joined');
        return { j: at(start), d: at(start + 5) };
      });
      const isolation = await tab.page.evaluate(() =>
        [...document.querySelectorAll('#messages *, #roster *')]
          .filter((element) =>
            [...element.childNodes].some(
              (child) => child.nodeType === Node.TEXT_NODE && child.textContent?.includes('\u202e'),
            ),
          )
          .map((element) => getComputedStyle(element).unicodeBidi),
      );

      expect(layout.j).toBeLessThan(layout.d);
      expect(isolation.length).toBeGreaterThanOrEqual(3);
      expect(isolation.every((value) => value === 'isolate' || value === 'plaintext')).toBe(true);
    });
  });

  describe('history and presence', () => {
    it('asks on reconnect only for what follows the last seq it has every message up to', async () => {
      const tab = await openPage('');
      const first = await connectedIn(tab, 'lobby', [message(1), message(2)]);
      first.send(message(4));
      await tab.page.locator('#messages li.message[data-seq="4"]').waitFor();

      await first.close();
      const second = await tab.home.connection(1);
      const hello = await second.frame(isHello);

      expect(hello).toEqual({ action: 'hello', afterSeq: 2 });
    });

    it('counts a message that arrived out of order as had', async () => {
      const tab = await openPage('');
      const first = await connectedIn(tab);
      for (const seq of [2, 1, 3]) first.send(message(seq));
      await tab.page.locator('#messages li.message[data-seq="3"]').waitFor();

      await first.close();
      const hello = await (await tab.home.connection(1)).frame(isHello);

      expect(hello).toEqual({ action: 'hello', afterSeq: 3 });
      expect(await shownTexts(tab.page)).toEqual(['message 1', 'message 2', 'message 3']);
    });

    it('asks once for a missing message it has waited 3 seconds for, and shows it in its place', async () => {
      const tab = await openPage('', { clock: true });
      const connection = await connectedIn(tab);
      connection.send(message(1));
      connection.send(message(3));
      await tab.page.locator('#messages li.message[data-seq="3"]').waitFor();

      await tab.page.clock.runFor(3_500);
      await connection.frame((frame) => isHello(frame) && frame['afterSeq'] === 1);
      await tab.page.clock.runFor(30_000);
      const before = await sendMarker(tab.page, connection);
      welcome(connection, 'lobby', 1, [message(2), message(3)]);
      await tab.page.locator('#messages li.message[data-seq="2"]').waitFor();

      expect(before.filter(isHello)).toEqual([{ action: 'hello' }, { action: 'hello', afterSeq: 1 }]);
      expect(await shownTexts(tab.page)).toEqual(['message 1', 'message 2', 'message 3']);
    });

    it('shows a message delivered twice once', async () => {
      const tab = await openPage('');
      const connection = await connectedIn(tab, 'lobby', [message(1)]);

      connection.send(message(1));
      connection.send(message(2));
      await tab.page.locator('#messages li.message[data-seq="2"]').waitFor();

      expect(await shownTexts(tab.page)).toEqual(['message 1', 'message 2']);
    });

    it('stays in the room of the newest welcome when two joins race', async () => {
      const tab = await openPage('');
      const connection = await connectedIn(tab);
      const roomBox = tab.page.getByRole('textbox', { name: 'Room', exact: true });
      for (const room of ['kitchen', 'garden']) {
        await roomBox.fill(room);
        await roomBox.press('Enter');
      }
      await connection.frame((frame) => frame['action'] === 'join' && frame['room'] === 'garden');

      welcome(connection, 'garden', 3, [message(1, 'garden', 'roses')]);
      welcome(connection, 'kitchen', 2, [message(1, 'kitchen', 'dinner')]);
      connection.send(message(2, 'garden', 'tulips'));
      await tab.page.locator('#messages li.message', { hasText: 'tulips' }).waitFor();

      expect(await tab.page.locator('#room-title').textContent()).toBe('garden');
      expect(await shownTexts(tab.page)).toEqual(['roses', 'tulips']);
    });

    it('ignores a presence frame older than one it has applied for that member', async () => {
      const tab = await openPage('');
      const connection = await connectedIn(tab);
      const presence = (event: string, connectionId: string, name: string, rev: number): object => ({
        type: 'presence',
        event,
        room: 'lobby',
        members: 2,
        connectionId,
        name,
        rev,
        at: SENT_AT,
      });

      connection.send(presence('leave', 'x-1', 'Xavier', 6));
      connection.send(presence('join', 'x-1', 'Xavier', 5));
      connection.send(presence('join', 'y-1', 'Yvonne', 1));
      await tab.page.locator('#roster li', { hasText: 'Yvonne' }).waitFor();

      expect(await tab.page.locator('#roster li').allTextContents()).toEqual(['Yvonne']);
    });
  });

  describe('what a new user runs into', () => {
    it('still marks its own earlier messages as its own after a reload', async () => {
      const tab = await openPage('');
      const first = await connectedIn(tab);
      const mine = { ...message(1), from: 'me-1', name: 'Ann', text: 'before the reload' };
      first.send(mine);
      await tab.page.locator('#messages li.message.own').waitFor();

      await tab.page.reload();
      const second = await tab.home.connection(1);
      await second.frame(isHello);
      second.send({ type: 'welcome', connectionId: 'me-2', room: 'lobby', name: 'Ann', replay: 2, rev: 1, members: 1 });
      second.send(mine);
      second.send(message(2));
      await tab.page.locator('#messages li.message[data-seq="2"]').waitFor();

      expect(await tab.page.locator('#messages li.message.own .text').allTextContents()).toEqual(['before the reload']);
      expect(await tab.page.locator('#messages li.message.own .from').textContent()).toBe('Ann (you)');
    });
    it('gives back a text refused as too long though another was typed since, so it can be shortened', async () => {
      const tab = await openPage('');
      const connection = await connectedIn(tab);
      const box = tab.page.getByRole('textbox', { name: 'Message', exact: true });
      const long = 'x'.repeat(5000);
      await box.fill(long);
      await box.press('Enter');
      const sent = await connection.frame((frame) => frame['action'] === 'sendmessage');
      await box.fill('typed meanwhile');

      connection.send({
        type: 'error',
        code: 'message_too_large',
        message: 'message text is 5000 bytes; the limit is 4096',
        clientMsgId: sent['clientMsgId'],
      });
      await tab.page.locator('#messages li.notice.error').waitFor();

      expect(await box.inputValue()).toBe(`${long} typed meanwhile`);
    });
    it.each([
      ['Room', 'no spaces', 'A room name is 1 to 32 letters, digits, "-" or "_".'],
      ['Room', '', 'A room name is 1 to 32 letters, digits, "-" or "_".'],
      ['Your name', '', 'Not saved: a name is 1 to 32 characters.'],
      ['WebSocket URL', 'chat.example.com', 'The server address must be a ws:// or wss:// URL.'],
    ])('says in its own words what the %s field takes when given "%s"', async (label, value, rule) => {
      const tab = await openPage('');
      const connection = await connectedIn(tab);
      if (label === 'WebSocket URL') await tab.page.getByText('Server', { exact: true }).click();
      const field = tab.page.getByRole('textbox', { name: label, exact: true });

      await field.fill(value);
      await field.press('Enter');
      await sendMarker(tab.page, connection);

      expect(await tab.page.locator('#messages li.notice.error').allTextContents()).toEqual([rule]);
    });
    function joinOf(connectionId: string, name: string, at: string): object {
      return { type: 'presence', event: 'join', room: 'lobby', members: 2, connectionId, name, rev: 1, at };
    }

    function logLines(page: Page): Promise<Array<string | null>> {
      return page
        .locator('#messages li')
        .evaluateAll((items) => items.map((li) => (li.querySelector('.text') ?? li).textContent));
    }

    it('shows no line of its own join, though the join comes before its welcome and the history', async () => {
      const tab = await openPage('');
      const connection = await tab.home.connection(0);
      await connection.frame(isHello);

      connection.send(joinOf('me-1', 'Ann', '2026-01-01T12:05:00.000Z'));
      welcome(connection, 'lobby', 1, [message(1), message(2)]);
      await tab.page.locator('#messages li.message[data-seq="2"]').waitFor();

      expect(await logLines(tab.page)).toEqual(['message 1', 'message 2']);
    });

    it('tells nothing of its own earlier connection leaving, after a reload', async () => {
      const tab = await openPage('');
      await connectedIn(tab);

      await tab.page.reload();
      const second = await tab.home.connection(1);
      await second.frame(isHello);
      second.send({ type: 'welcome', connectionId: 'me-2', room: 'lobby', name: 'Ann', replay: 0, rev: 1, members: 2 });
      second.send({
        type: 'roster',
        room: 'lobby',
        members: [
          { connectionId: 'me-1', name: 'Ann', rev: 1 },
          { connectionId: 'me-2', name: 'Ann', rev: 1 },
        ],
        count: 2,
      });
      await tab.page.locator('#roster li[data-id="me-1"]').waitFor();
      second.send({ ...joinOf('me-1', 'Ann', '2026-01-01T12:05:00.000Z'), event: 'leave', members: 1, rev: 2 });
      await tab.page.locator('#roster li[data-id="me-1"]').waitFor({ state: 'detached' });

      expect(await logLines(tab.page)).toEqual([]);
    });

    it('shows the history sent before a join above the line of that join', async () => {
      const tab = await openPage('');
      const connection = await tab.home.connection(0);
      await connection.frame(isHello);

      connection.send(joinOf('bob-2', 'Bob', '2026-01-01T12:05:00.000Z'));
      welcome(connection, 'lobby', 1, [message(1), message(2)]);
      await tab.page.locator('#messages li.message[data-seq="2"]').waitFor();

      expect(await logLines(tab.page)).toEqual(['message 1', 'message 2', 'Bob joined']);
    });
    it('shows the name the server knows, and asks for it on reconnect, after a rename the server refused', async () => {
      const tab = await openPage('');
      const first = await connectedIn(tab);
      const nameBox = tab.page.getByRole('textbox', { name: 'Your name', exact: true });
      await nameBox.fill('Zed');
      await nameBox.press('Enter');
      await first.frame((frame) => frame['action'] === 'setname');

      first.send({ type: 'error', code: 'name_locked', message: 'your name comes from your sign-in' });
      await tab.page.locator('#messages li.notice.error').waitFor();
      const shown = await nameBox.inputValue();
      await first.close();
      const second = await tab.home.connection(1);

      expect(shown).toBe('Ann');
      expect(second.url.searchParams.get('name')).toBe('Ann');
    });

    it('shows in the name field the name its own presence says it has', async () => {
      const tab = await openPage('');
      const connection = await connectedIn(tab);

      connection.send({
        type: 'presence',
        event: 'rename',
        room: 'lobby',
        members: 1,
        connectionId: 'me-1',
        name: 'Annie',
        previousName: 'Ann',
        rev: 2,
        at: SENT_AT,
      });
      await tab.page.locator('#roster li', { hasText: 'Annie' }).waitFor();

      expect(await tab.page.getByRole('textbox', { name: 'Your name', exact: true }).inputValue()).toBe('Annie');
    });
    it('makes no request that fails, the icon a browser shows in its tab included', async () => {
      const tab = await openPage('');
      await connectedIn(tab);

      // Headless Chromium fetches no icon: ask for the one a browser would, the page's own or else /favicon.ico.
      const icon = await tab.page.evaluate(
        () =>
          document.querySelector<HTMLLinkElement>('link[rel~="icon"]')?.href ??
          new URL('/favicon.ico', location.href).href,
      );
      const iconStatus = icon.startsWith('data:') ? 200 : (await tab.context.request.get(icon)).status();

      expect(tab.failedRequests).toEqual([]);
      expect(iconStatus).toBe(200);
    });
  });
});
