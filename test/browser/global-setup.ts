import { assertChromiumInstalled } from '../support/browser.ts';

/** Runs before any browser test: without Chromium there is nothing to test, so fail now and say why. */
export default function globalSetup(): void {
  assertChromiumInstalled();
}
