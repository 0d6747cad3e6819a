// What the end-to-end test files share: `salvus up` in a fresh data folder,
// Debian's Chromium through playwright-core, and the page's cells.
// Not a test file itself (node --test runs *.test.mjs).
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const binary = process.env.SALVUS_BINARY;
export const artifacts = process.env.ARTIFACTS ?? fs.mkdtempSync(path.join(os.tmpdir(), 'salvus-e2e-'));
fs.mkdirSync(artifacts, { recursive: true });

// Polls `fn` every 100 ms until it returns something truthy, which it returns.
export async function waitFor(fn, what, ms = 120000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Starts `salvus up --port 0` with `args` (each test file its own
// --uid-base: files may run in parallel) and its output on our stderr.
// Resolves once it has written hub.port, i.e. sessions can start; stdout()
// is what it printed so far (unless quiet).
export async function startUp(args = [], { quiet = false } = {}) {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'salvus-up-'));
  fs.chmodSync(data, 0o711);  // session uids pass through to their homes
  const up = spawn(binary, ['up', '--port', '0', '--data', data, ...args],
    { stdio: ['ignore', quiet ? 'ignore' : 'pipe', quiet ? 'ignore' : 'pipe'] });
  let stdout = '';
  if (!quiet) {
    up.stdout.on('data', (d) => { stdout += d; process.stderr.write(`[up] ${d}`); });
    up.stderr.on('data', (d) => process.stderr.write(`[up] ${d}`));
  }
  const port = await waitFor(() => {
    if (up.exitCode !== null) throw new Error(`salvus up exited with ${up.exitCode}`);
    try {
      return Number(fs.readFileSync(path.join(data, 'hub.port'), 'utf8').trim());
    } catch {
      return null;
    }
  }, 'salvus up');
  return { up, data, port, stdout: () => stdout };
}

// SIGTERM; then nothing of it may be left running.
export async function stopUp(up, data) {
  if (up && up.exitCode === null) {
    up.kill('SIGTERM');
    await new Promise((r) => up.once('exit', r));
  }
  if (!data) return;
  const left = execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.includes(data));
  assert.deepEqual(left, [], 'processes left behind by salvus up');
  fs.rmSync(data, { recursive: true, force: true });
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A fresh context (no shared storage) with the worksheet at `url` loaded.
export async function newPage(browser, url, viewport = { width: 1000, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector('.cell .cm-content');
  return page;
}

// Types `code` into cell `i` (replacing its text).
export async function typeInto(page, i, code) {
  const editor = page.locator('.cell .cm-content').nth(i);
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(code);
}

// The top-level output area of cell i.
export function output(page, i) {
  return page.locator('.cell > .output').nth(i);
}

// Runs `code` in cell i with Ctrl+Enter and waits until no cell runs.
export async function runCell(page, i, code, ms = 90000) {
  await typeInto(page, i, code);
  await page.keyboard.press('Control+Enter');
  await waitFor(async () => !(await page.locator('.cell.running').count()), 'the cell to finish', ms);
}
