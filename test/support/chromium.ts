import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO } from './harness';

/** Debian's Chromium (scripts/setup.sh installs it); playwright-core downloads no browser. */
export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots a person can look at after a run. */
export const SCREENSHOTS = path.join(REPO, '.gcsfuse-bench', 'screenshots');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run npm run setup`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * A page that records what the browser console reports as errors, and uncaught page errors.
 * Requests off this machine (this sandbox has no internet; the Web UI asks for some) are answered
 * empty and listed in `offsite`, so a console error is always about the page itself.
 */
export async function newPage(browser: Browser): Promise<{ page: Page; consoleErrors: string[]; offsite: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const offsite: string[] = [];
  await page.route(
    (url) => (url.protocol === 'http:' || url.protocol === 'https:') && !LOOPBACK_HOSTS.has(url.hostname),
    (route) => {
      offsite.push(route.request().url());
      return route.fulfill({ status: 204, body: '' });
    },
  );
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
  return { page, consoleErrors, offsite };
}

/** The text of the page and every frame (the Web UI renders markdown in sandboxed iframes), whitespace collapsed. */
export async function pageText(page: Page): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((f) =>
      f
        .locator('body')
        .innerText()
        .catch(() => ''),
    ),
  );
  return texts.join(' ').replace(/\s+/g, ' ');
}

/** Waits until the page's text matches, as a reader would see it; the error shows what it showed instead. */
export async function bodyMatches(page: Page, re: RegExp, timeoutMs = 30_000, onRetry?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await pageText(page);
    if (re.test(text)) return;
    if (Date.now() > deadline) throw new Error(`the page never showed ${re}; it shows: ${text.slice(0, 3000)}`);
    await page.waitForTimeout(500);
    await onRetry?.();
  }
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The Web UI's workflow page of a workflow id. */
export function workflowPageUrl(uiUrl: string, workflowId: string, namespace = 'default'): string {
  return `${uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The Web UI's workflow list filtered by a visibility query, as the query box would put it in the address. */
export function workflowListUrl(uiUrl: string, query: string, namespace = 'default'): string {
  return `${uiUrl}/namespaces/${namespace}/workflows?query=${encodeURIComponent(query)}`;
}

/**
 * Sends a signal the way an operator does on a workflow's page: More Actions -> Send a Signal,
 * the signal name, the JSON input in the Data editor, Submit. Returns once the dialog closed.
 */
export async function sendSignalInUi(page: Page, name: string, inputJson: string): Promise<void> {
  await page.getByRole('button', { name: /More Actions/ }).click();
  await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
  const dialog = page.getByRole('dialog').filter({ hasText: 'Send a Signal' });
  await dialog.waitFor();
  // The signals the workflow declares are offered in a list when its worker answers; otherwise the name is typed.
  const select = dialog.getByTestId('signal-select-button');
  if (await select.isVisible()) {
    await select.click();
    await dialog
      .getByRole('option')
      .filter({ has: page.getByText(name, { exact: true }) })
      .click();
  } else {
    await dialog.getByTestId('signal-name').fill(name);
  }
  // The Data editor is CodeMirror: type into it as a person would.
  const data = dialog.getByRole('textbox', { name: 'Data' });
  await data.click();
  await page.keyboard.insertText(inputJson);
  await dialog.getByRole('button', { name: 'Submit' }).click();
  await dialog.waitFor({ state: 'hidden' });
}

/** Opens the User Metadata tab of a workflow page (summary, details, current details). */
export async function openUserMetadata(page: Page): Promise<void> {
  await page.getByRole('tab', { name: /User Metadata/ }).click();
}
