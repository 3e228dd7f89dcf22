import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { ADMIN_ACCESS_KEY } from '../../scripts/local-iam/iam-proxy.ts';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { BrowserContext, Page } from 'playwright-core';
import { startWebServer, type WebServer } from '../../scripts/web-server.ts';
import {
  accessibilityViolations,
  checkPageTraffic,
  type LaunchedBrowser,
  launchChromium,
  screenshot,
} from '../support/browser.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';
import { LOCAL_SECRET, PUBLISHER_ACCESS_KEY } from '../../scripts/local-iam/http-api-check.ts';
import { PublishClient } from '../../scripts/publish-client.ts';

/** The page, as a person at one browser tab uses it. */
class Tab {
  readonly dialogs: string[] = [];
  readonly page: Page;
  readonly context: BrowserContext;

  constructor(page: Page, context: BrowserContext) {
    this.page = page;
    this.context = context;
    page.on('dialog', (dialog) => {
      this.dialogs.push(dialog.message());
      void dialog.dismiss();
    });
  }

  async connected(): Promise<string> {
    const status = this.page.locator('#status[data-state="open"][data-connection-id]');
    await status.waitFor({ timeout: 20_000 });
    return (await status.getAttribute('data-connection-id')) ?? '';
  }

  async say(text: string): Promise<void> {
    await this.page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
    await this.page.getByRole('textbox', { name: 'Message', exact: true }).press('Enter');
  }

  messageTexts(): Promise<string[]> {
    return this.page.locator('#messages li.message .text').allTextContents();
  }

  async waitForMessage(text: string): Promise<void> {
    await this.page.locator('#messages li.message .text', { hasText: text }).first().waitFor({ timeout: 15_000 });
  }
}

describe('the chat page in Chromium', () => {
  let stack: TestStack;
  let web: WebServer;
  let chromium: LaunchedBrowser;
  const tabs: Tab[] = [];

  let testRoom = 0;

  /**
   * Opens the page; unless the query names a room, each test gets a room of its own, with no history. With
   * `audit`, the page's CSP lets axe-core be injected; with `clock`, its timers run on a clock the test moves.
   */
  async function openTab(
    query = '',
    options: { viewport?: { width: number; height: number }; audit?: boolean; clock?: boolean } = {},
  ): Promise<Tab> {
    const context = await chromium.browser.newContext({
      viewport: options.viewport ?? { width: 900, height: 700 },
      bypassCSP: options.audit ?? false,
    });
    const page = await context.newPage();
    checkPageTraffic(page);
    if (options.clock) await page.clock.install();
    const search = new URLSearchParams(query);
    if (!search.has('room')) search.set('room', `test${testRoom}`);
    await page.goto(`${web.url}?${search.toString()}`);
    const tab = new Tab(page, context);
    tabs.push(tab);
    return tab;
  }

  beforeAll(async () => {
    stack = await startTestStack();
    web = await startWebServer({ port: 0, websocketUrl: stack.websocketUrl });
    chromium = await launchChromium();
  }, 120_000);

  beforeEach(() => {
    testRoom += 1;
  });

  afterEach(async () => {
    const name = expect.getState().currentTestName ?? 'test';
    for (const [i, tab] of tabs.entries()) await screenshot(tab.page, `${name}-tab-${i + 1}`);
    await Promise.all(tabs.splice(0).map((tab) => tab.context.close()));
  });

  afterAll(async () => {
    await chromium?.close();
    await web?.stop();
    await stack?.stop();
  });

  it('lets two tabs chat both ways, each seeing every message in order with its sender and time', async () => {
    const [alice, bob] = [await openTab('?name=Alice'), await openTab('?name=Bob')];
    await Promise.all([alice.connected(), bob.connected()]);

    const conversation: Array<[Tab, string]> = [
      [alice, 'Hi Bob'],
      [bob, 'Hi Alice, how are you?'],
      [alice, 'Fine, thanks'],
      [bob, 'Good to hear'],
    ];
    for (const [speaker, text] of conversation) {
      await speaker.say(text);
      await Promise.all([alice.waitForMessage(text), bob.waitForMessage(text)]);
    }

    const expected = conversation.map(([, text]) => text);
    expect(await alice.messageTexts()).toEqual(expected);
    expect(await bob.messageTexts()).toEqual(expected);
    const bobsFirst = bob.page.locator('#messages li.message').nth(1);
    expect(await bobsFirst.locator('.from').textContent()).toBe('Bob (you)');
    expect(await alice.page.locator('#messages li.message').nth(1).locator('.from').textContent()).toBe('Bob');
    expect(await bobsFirst.locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('keeps two rooms apart across three tabs, with names, roster, presence, history and acks', async () => {
    const alice = await openTab('?room=kitchen&name=Alice');
    const bob = await openTab('?room=kitchen&name=Bob');
    const carol = await openTab('?room=garden&name=Carol');
    await Promise.all([alice.connected(), bob.connected(), carol.connected()]);
    await alice.page.locator('#roster li', { hasText: 'Bob' }).waitFor();

    await alice.say('Dinner is ready');
    await bob.waitForMessage('Dinner is ready');
    await carol.say('The roses are out');
    await carol.waitForMessage('The roses are out');
    await alice.page.locator('#messages li.message.acked', { hasText: 'Dinner is ready' }).waitFor();

    expect(await bob.messageTexts()).toEqual(['Dinner is ready']);
    expect(await alice.page.locator('li.message.acked .status').textContent()).toBe('✓ delivered to 2');
    expect(await alice.page.locator('#roster li').allTextContents()).toEqual(['Alice (you)', 'Bob']);
    await bob.page.waitForTimeout(300);
    expect(await alice.messageTexts()).toEqual(['Dinner is ready']);

    await carol.page.getByRole('textbox', { name: 'Room', exact: true }).fill('kitchen');
    await carol.page.getByRole('button', { name: 'Join' }).click();
    await carol.waitForMessage('Dinner is ready');
    await alice.page.locator('#messages li.notice', { hasText: 'Carol joined' }).waitFor();
    await bob.page.locator('#roster li', { hasText: 'Carol' }).waitFor();

    expect(await carol.messageTexts()).toEqual(['Dinner is ready']);
    expect(await carol.page.locator('#room-title').textContent()).toBe('kitchen');
  });

  it('reconnects by itself after the server closes its connection, and chats again', async () => {
    const [alice, bob] = [await openTab(), await openTab()];
    const [firstId] = await Promise.all([alice.connected(), bob.connected()]);

    // API Gateway closes connections (idle timeout, 2-hour cap); the emulator's DELETE @connections does the same.
    // The local IAM judges @connections calls: this one is signed with the stack's administrator key.
    const management = new ApiGatewayManagementApiClient({
      endpoint: stack.managementEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: ADMIN_ACCESS_KEY, secretAccessKey: 'local' },
    });
    const closed = await management.send(new DeleteConnectionCommand({ ConnectionId: firstId }));
    management.destroy();
    expect(closed.$metadata.httpStatusCode).toBeLessThan(300);
    await alice.page.locator('#status:not([data-state="open"])').waitFor({ timeout: 10_000 });
    const secondId = await alice.connected();

    await alice.say('back again');
    await bob.waitForMessage('back again');
    expect(secondId).not.toBe(firstId);
    expect(await bob.messageTexts()).toEqual(['back again']);
  });

  it("shows a backend service's published message as a notice across the log, not as a member's bubble", async () => {
    const tab = await openTab('?name=Alice');
    await tab.connected();
    const publisher = new PublishClient({
      endpoint: stack.httpEndpoint,
      credentials: { accessKeyId: PUBLISHER_ACCESS_KEY, secretAccessKey: LOCAL_SECRET },
    });

    await tab.say('before the notice');
    await tab.waitForMessage('before the notice');
    await publisher.publish(`test${testRoom}`, { text: 'Dinner is ready', name: 'Kitchen' });
    await tab.waitForMessage('Dinner is ready');

    const notice = tab.page.locator('#messages li.message', { hasText: 'Dinner is ready' });
    const member = tab.page.locator('#messages li.message', { hasText: 'before the notice' });
    const widthOf = async (item: typeof notice) => (await item.boundingBox())?.width ?? 0;
    const backgroundOf = (item: typeof notice) => item.evaluate((node) => getComputedStyle(node).backgroundColor);
    expect({
      classes: await notice.getAttribute('class'),
      from: await notice.locator('.from').textContent(),
      wider: (await widthOf(notice)) > (await widthOf(member)),
      sameBackground: (await backgroundOf(notice)) === (await backgroundOf(member)),
    }).toEqual({ classes: 'message published', from: 'Kitchen notice', wider: true, sameBackground: false });
  });

  it('shows markup in a message as text and runs none of it', async () => {
    const [alice, bob] = [await openTab(), await openTab()];
    await Promise.all([alice.connected(), bob.connected()]);
    const payload = '<img src=x onerror=alert(1)><script>alert(2)</script>';

    await alice.say(payload);
    await bob.waitForMessage('<img src=x');

    expect(await bob.messageTexts()).toEqual([payload]);
    expect(await bob.page.locator('#messages img, #messages script').count()).toBe(0);
    await bob.page.waitForTimeout(300);
    expect([...alice.dialogs, ...bob.dialogs]).toEqual([]);
  });

  it('tells the person, in words, that an oversize message was not sent', async () => {
    const [alice, bob] = [await openTab(), await openTab()];
    await Promise.all([alice.connected(), bob.connected()]);

    await alice.say('x'.repeat(5000));

    const notice = alice.page.locator('#messages li.notice.error');
    await notice.waitFor({ timeout: 10_000 });
    expect(await notice.textContent()).toMatch(/^Not sent: That message is too long\./);
    expect(await bob.messageTexts()).toEqual([]);
  });

  it('pings every 5 minutes on its own while idle, so API Gateway does not drop the open tab', async () => {
    const tab = await openTab('', { clock: true });
    const sent: string[] = [];
    const marker = new Promise<void>((resolve) =>
      tab.page.on('websocket', (socket) =>
        socket.on('framesent', ({ payload }) => {
          sent.push(String(payload));
          if (String(payload).includes('"text":"still here"')) resolve();
        }),
      ),
    );
    await tab.connected();

    await tab.page.clock.runFor(10 * 60 * 1000 + 1_000);
    await tab.say('still here');
    await marker;

    expect(sent.filter((payload) => payload === '{"action":"ping"}')).toHaveLength(2);
  });

  it('can be used by keyboard alone: the room, name and server controls are a Tab away, and Enter sends', async () => {
    const tab = await openTab('?name=Kim');
    await tab.connected();
    const focused = (): Promise<string> =>
      tab.page.evaluate(() => {
        const element = document.activeElement;
        return element?.id || element?.textContent?.trim() || element?.tagName.toLowerCase() || '';
      });
    const startedIn = await focused();
    const backwards: string[] = [];
    const forwards: string[] = [];

    while (backwards.at(-1) !== 'room' && backwards.length < 20) {
      await tab.page.keyboard.press('Shift+Tab');
      backwards.push(await focused());
    }
    while (forwards.at(-1) !== 'message' && forwards.length < 20) {
      await tab.page.keyboard.press('Tab');
      forwards.push(await focused());
    }
    await tab.page.keyboard.type('typed, not clicked');
    await tab.page.keyboard.press('Enter');
    await tab.waitForMessage('typed, not clicked');

    const controls = ['room', 'Join', 'name', 'Save', 'Server', 'message'];
    expect(startedIn).toBe('message');
    expect(backwards.filter((stop) => controls.includes(stop)).reverse()).toEqual(controls.slice(0, -1));
    expect(forwards.filter((stop) => controls.includes(stop))).toEqual(controls.slice(1));
  });

  it.each([
    ['a desktop window', { width: 900, height: 700 }],
    ['a 360 px phone', { width: 360, height: 740 }],
  ])(
    'passes an axe-core audit with no violations in %s, with messages, presence and a refusal shown',
    async (_, viewport) => {
      const tab = await openTab('?name=Alice', { viewport, audit: true });
      await tab.connected();
      const bob = await openTab(`?room=test${testRoom}&name=Bob`);
      await bob.connected();
      await tab.page.locator('#messages li.notice', { hasText: 'Bob joined' }).waitFor();
      await bob.say('Hello Alice');
      await tab.say('Hello Bob');
      await tab.page.locator('#messages li.message.acked', { hasText: 'Hello Bob' }).waitFor();
      await tab.say('x'.repeat(5000));
      await tab.page.locator('#messages li.notice.error').waitFor();

      const violations = await accessibilityViolations(tab.page);

      expect(violations).toEqual([]);
    },
  );

  it('announces new messages to screen readers through a polite log', async () => {
    const [alice, bob] = [await openTab(), await openTab()];
    await Promise.all([alice.connected(), bob.connected()]);

    await bob.say('can you hear me');
    await alice.waitForMessage('can you hear me');

    const log = alice.page.getByRole('log');
    expect(await log.locator('li.message', { hasText: 'can you hear me' }).count()).toBe(1);
    expect(await log.evaluate((element) => getComputedStyle(element).display)).not.toBe('none');
  });

  it('fits a phone-width window without sideways scrolling', async () => {
    const context = await chromium.browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true });
    const page = await context.newPage();
    await page.goto(web.url);
    const tab = new Tab(page, context);
    tabs.push(tab);
    await tab.connected();

    await tab.say('a long line '.repeat(20));
    await tab.waitForMessage('a long line');

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await page.getByRole('button', { name: 'Send' }).isVisible()).toBe(true);
  });
});
