// The headless Chromium every browser test and bench of the package uses: the system's
// (/usr/bin/chromium, or $CHROMIUM; never a downloaded one), with the flags that let it run as
// root and offline on these machines, beside the static server for the test pages.
import { chromium } from 'playwright-core';
import { serve } from '../../../scripts/serve.mjs';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The page server on a free port. */
export async function startPages() {
  const server = await serve(0);
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

/**
 * The page server and a headless Chromium for one test file: `{ browser, base, stop }`, where
 * `await stop()` closes both.
 */
export async function startBrowser() {
  const { server, base } = await startPages();
  const closeServer = () => new Promise((resolve) => server.close(resolve));
  let browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  } catch (e) {
    await closeServer();
    throw e;
  }
  return {
    browser,
    base,
    stop: async () => {
      await browser.close();
      await closeServer();
    },
  };
}
