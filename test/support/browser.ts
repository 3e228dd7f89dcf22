import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page, type WebSocketRoute } from 'playwright-core';
import { projectRoot } from '../../scripts/local-stack.ts';
import { checkClientFrame, checkServerFrame } from './protocol-contract.ts';

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(projectRoot, '.results', 'screenshots');

/** Fails at once, saying how to install Chromium, when there is none. */
export function assertChromiumInstalled(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Install it with: sudo apt-get install -y chromium ` +
        '(or set CHROMIUM_PATH to a Chromium or Chrome binary).',
    );
  }
}

export interface LaunchedBrowser {
  readonly browser: Browser;
  close(): Promise<void>;
}

/** Debian's headless Chromium, with no network of its own and a fresh profile. */
export async function launchChromium(): Promise<LaunchedBrowser> {
  assertChromiumInstalled();
  // Playwright starts every launch with a fresh, empty profile directory of its own (--user-data-dir).
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}

/** A WebSocket URL without its query, so that no token reaches a failure message. */
function withoutQuery(url: string): string {
  return url.replace(/\?.*$/, '');
}

/**
 * Checks every frame the page's WebSockets send and receive against asyncapi.yaml, as the browser itself sees
 * them (DevTools' network events), without touching the traffic; a frame outside the document fails the test.
 */
export function checkPageTraffic(page: Page): void {
  page.on('websocket', (socket) => {
    socket.on('framesent', ({ payload }) =>
      checkClientFrame(String(payload), `the page sent (${withoutQuery(socket.url())})`),
    );
    socket.on('framereceived', ({ payload }) =>
      checkServerFrame(String(payload), `the page received (${withoutQuery(socket.url())})`),
    );
  });
}

/** Saves a full-page screenshot under .results/screenshots, named after the test. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name.replace(/[^a-z0-9-]+/gi, '-').toLowerCase()}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Resolves with the first value `probe` finds, checking now and whenever one of `waiters` is called, or rejects
 * with `failure()` after `timeoutMs`.
 */
function untilFound<T>(
  waiters: Set<() => void>,
  probe: () => T | undefined,
  timeoutMs: number,
  failure: () => string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const found = probe();
      if (found === undefined) return;
      cleanup();
      resolve(found);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(failure()));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      waiters.delete(check);
    };
    waiters.add(check);
    check();
  });
}

/**
 * One page-side WebSocket that a {@link ScriptedChatServer} answers: every frame the page sent, parsed. What the
 * page sends and what the test sends it are checked against asyncapi.yaml, so the scripted server speaks the
 * real protocol.
 */
export class ScriptedConnection {
  readonly url: URL;
  readonly frames: Array<Record<string, unknown>> = [];
  readonly #route: WebSocketRoute;
  readonly #waiters = new Set<() => void>();
  #closed = false;

  constructor(route: WebSocketRoute) {
    this.#route = route;
    this.url = new URL(route.url());
    route.onMessage((message) => {
      checkClientFrame(String(message), `the page sent (${withoutQuery(route.url())})`);
      try {
        this.frames.push(JSON.parse(String(message)) as Record<string, unknown>);
      } catch {
        this.frames.push({ raw: String(message) });
      }
      this.#wake();
    });
    route.onClose(() => {
      this.#closed = true;
      this.#wake();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends the page one server frame. */
  send(frame: object): void {
    const text = JSON.stringify(frame);
    checkServerFrame(text, `the scripted server sent (${withoutQuery(this.url.href)})`);
    this.#route.send(text);
  }

  /** Closes the socket from the server's side, as API Gateway does after 2 hours. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#route.close({ code: 1001, reason: 'going away' });
  }

  /** The first frame the page sent that matches, waiting for it to arrive. */
  frame(matches: (frame: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    return this.#until(() => this.frames.find(matches), timeoutMs, 'a matching frame from the page');
  }

  #until<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return untilFound(
      this.#waiters,
      probe,
      timeoutMs,
      () => `timed out after ${timeoutMs} ms waiting for ${what}; frames so far: ${JSON.stringify(this.frames)}`,
    );
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/**
 * A chat server played by the test: it takes over every WebSocket the page opens to a URL and answers
 * only what the test tells it to, so the page can be shown frames in any order, repeated, or stale.
 */
export class ScriptedChatServer {
  readonly connections: ScriptedConnection[] = [];
  readonly #waiters = new Set<() => void>();

  static async route(
    context: BrowserContext,
    url: string | RegExp | ((url: URL) => boolean),
  ): Promise<ScriptedChatServer> {
    const server = new ScriptedChatServer();
    await context.routeWebSocket(url, (route) => {
      server.connections.push(new ScriptedConnection(route));
      for (const waiter of [...server.#waiters]) waiter();
    });
    return server;
  }

  /** The n-th connection the page opened (0 is the first), waiting for it to open. */
  connection(index: number, timeoutMs = 10_000): Promise<ScriptedConnection> {
    return untilFound(
      this.#waiters,
      () => this.connections[index],
      timeoutMs,
      () => `timed out after ${timeoutMs} ms waiting for connection ${index}; ${this.connections.length} opened`,
    );
  }
}

/** An axe-core rule the page breaks, with the elements that break it. */
export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly targets: string[];
}

const AXE_SOURCE = join(projectRoot, 'node_modules', 'axe-core', 'axe.min.js');

/**
 * Runs axe-core's WCAG 2.x A/AA and best-practice rules on the page as it is now. The page's CSP allows no
 * injected script, so the page's context must be made with `bypassCSP: true`.
 */
export async function accessibilityViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: AXE_SOURCE });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<AxeResults> } })
      .axe;
    interface AxeResults {
      violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }>;
    }
    const results = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    });
    return results.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.map(String).join(' ')),
    }));
  });
}
