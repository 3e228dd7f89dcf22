import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startWebServer, type WebServer } from '../../scripts/web-server.ts';
import { checkPageTraffic, type LaunchedBrowser, launchChromium, screenshot } from '../support/browser.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

describe("the chat page when its address's budget is spent", () => {
  let stack: TestStack;
  let web: WebServer;
  let chromium: LaunchedBrowser;

  beforeAll(async () => {
    // 20 units per 10 s for everyone on 127.0.0.1: one tab's connect (5) and hello (10), then another's connect (5).
    stack = await startTestStack({ OWNER_RATE_LIMIT_FRAMES: '20', CONNECT_WEIGHT: '5' });
    web = await startWebServer({ port: 0, websocketUrl: stack.websocketUrl });
    chromium = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await chromium?.close();
    await web?.stop();
    await stack?.stop();
  });

  it('says hello again until it is welcomed, when its first hello was refused', async () => {
    const open = async (name: string) => {
      const context = await chromium.browser.newContext({ viewport: { width: 900, height: 700 } });
      const page = await context.newPage();
      checkPageTraffic(page);
      await page.goto(`${web.url}?room=budget&name=${name}`);
      return { page, context };
    };
    const welcomed = (page: Awaited<ReturnType<typeof open>>['page']) =>
      page.locator('#status[data-state="open"][data-connection-id]').waitFor({ timeout: 30_000 });
    const first = await open('First');
    await welcomed(first.page);
    const second = await open('Second');
    try {
      // Its hello is refused, and the page says why.
      await second.page.getByText('You are sending too fast', { exact: false }).first().waitFor({ timeout: 15_000 });

      await welcomed(second.page);

      expect(await second.page.locator('#status').getAttribute('data-state')).toBe('open');
    } finally {
      await screenshot(second.page, 'owner-budget-second-tab');
      await Promise.all([first.context.close(), second.context.close()]);
    }
  }, 90_000);
});
