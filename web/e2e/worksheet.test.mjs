// End to end: `salvus up` with real Sage, driven through Debian's Chromium.
// Run by ctest (web_e2e) with SALVUS_BINARY and ARTIFACTS set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { artifacts, waitFor, startUp, stopUp, launchBrowser, newPage as openPage, typeInto, output }
  from './lib.mjs';

let data, up, browser, base;

before(async () => {
  let port;
  ({ up, data, port } = await startUp());
  base = `http://127.0.0.1:${port}/`;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopUp(up, data);
});

const newPage = () => openPage(browser, base);

test('factor(2^64+1) with Shift+Enter', async () => {
  const page = await newPage();
  await typeInto(page, 0, 'factor(2^64+1)');
  await page.keyboard.press('Shift+Enter');
  await assert.doesNotReject(output(page, 0).getByText('274177 * 67280421310721').waitFor({ timeout: 60000 }));
  assert.equal(await page.locator('.cell').count(), 2, 'Shift+Enter made a new cell');
  await page.screenshot({ path: path.join(artifacts, 'factor.png') });
  await page.context().close();
});

test('ten thousand lines stream in and end with 9999', async () => {
  const page = await newPage();
  await typeInto(page, 0, 'for i in range(10^4): print(i)');
  await page.keyboard.press('Control+Enter');
  await waitFor(async () => !(await page.locator('.cell.running').count()), 'the cell to finish', 60000);
  const text = await output(page, 0).innerText();
  const lines = text.trim().split('\n');
  assert.equal(lines.length, 10000);
  assert.equal(lines.at(-1), '9999');
  await page.context().close();
});

test('interrupt a loop, then run again', async () => {
  const page = await newPage();
  await typeInto(page, 0, 'while True: pass');
  await page.keyboard.press('Control+Enter');
  await page.locator('.cell.running').waitFor();
  await page.locator('#status', { hasText: 'ready' }).waitFor({ timeout: 60000 });  // the code is on its way
  await page.waitForTimeout(500);
  await page.click('#interrupt');
  await output(page, 0).getByText('KeyboardInterrupt').waitFor({ timeout: 15000 });
  assert.equal(await page.locator('.cell.running').count(), 0);
  await typeInto(page, 0, '6*7');
  await page.keyboard.press('Control+Enter');
  await output(page, 0).getByText('42').waitFor({ timeout: 10000 });
  await page.screenshot({ path: path.join(artifacts, 'interrupt.png') });
  await page.context().close();
});

test('cells survive a reload', async () => {
  const page = await newPage();
  await typeInto(page, 0, 'a = 1');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.insertText('b = 2');
  await page.reload();
  await page.waitForSelector('.cell .cm-content');
  const texts = await page.locator('.cell .cm-content').allInnerTexts();
  assert.deepEqual(texts.slice(0, 2), ['a = 1', 'b = 2']);
  await page.context().close();
});

test('phone-sized screen', async () => {
  const context = await browser.newContext({ viewport: { width: 375, height: 700 }, isMobile: true });
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('.cell .cm-content');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `no horizontal scrolling (page is ${width}px wide)`);
  await page.screenshot({ path: path.join(artifacts, 'phone.png') });
  await context.close();
});

test('killing the compute server mid-run gives a clear error; running again works', async () => {
  const page = await newPage();
  // 0.1r: a Python float (Python 3.11's time.sleep refuses Sage's RealLiteral).
  await typeInto(page, 0, 'import time\nwhile True: time.sleep(0.1r)');
  await page.keyboard.press('Control+Enter');
  await page.locator('.cell.running').waitFor();
  await page.locator('#status', { hasText: 'ready' }).waitFor({ timeout: 60000 });
  await page.waitForTimeout(500);
  const pid = Number(execFileSync('pgrep', ['-f', `compute --listen .* --state-dir ${data}/compute`, '-o']).toString());
  process.kill(pid, 'SIGKILL');
  await output(page, 0).locator('.notice').waitFor({ timeout: 10000 });
  const notice = await output(page, 0).locator('.notice').innerText();
  assert.match(notice, /compute server/);
  await page.screenshot({ path: path.join(artifacts, 'compute-killed.png') });
  // `salvus up` restarts it; a new run gets a new session once it is back.
  await waitFor(async () => {
    await typeInto(page, 0, '2+2');
    await page.keyboard.press('Control+Enter');
    await waitFor(async () => !(await page.locator('.cell.running').count()), 'the run to end', 30000);
    return (await output(page, 0).innerText()).trim() === '4';
  }, 'a successful run after the restart', 90000);
  await page.context().close();
});

test('bad input over the WebSocket gets clear errors and breaks nothing', async () => {
  const page = await newPage();
  const replies = await page.evaluate(async () => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    await new Promise((r) => (ws.onopen = r));
    const got = [];
    ws.onmessage = (e) => got.push(JSON.parse(e.data));
    const send = (t) => ws.send(t);
    send('{not json');
    send(JSON.stringify({ id: 2, frobnicate: {} }));
    send(JSON.stringify({ id: 3, execute: { session: 'nope', code: '1' } }));
    send(JSON.stringify({ id: 4, execute: { code: '1' } }));
    send(JSON.stringify({ id: 5, execute: { code: 'x'.repeat(2 * 1024 * 1024) } }));
    send(new Uint8Array([1, 2, 3]));
    send(JSON.stringify({ id: 6, startSession: {} }));
    // Every reply is in once the session started (the compute server may
    // just have been restarted by the test before: allow it a minute).
    for (let i = 0; i < 600 && !got.some((m) => String(m.id) === '6'); ++i) {
      await new Promise((r) => setTimeout(r, 100));
    }
    ws.close();
    return got;
  });
  const byId = (id) => replies.find((m) => String(m.id ?? '0') === String(id));
  const errors = replies.filter((m) => m.error);
  assert.ok(errors.length >= 6, JSON.stringify(replies));
  assert.match(errors[0].error.text, /malformed/);
  assert.equal(byId(2).error.code, 'BAD_REQUEST');
  assert.equal(byId(3).error.code, 'NOT_FOUND');
  assert.equal(byId(4).error.code, 'NOT_FOUND');
  assert.ok(errors.some((m) => /too large/.test(m.error.text)), 'oversized code refused');
  assert.ok(errors.some((m) => /binary/.test(m.error.text)));
  assert.ok(byId(6).sessionStarted, 'the connection still works');
  // A message past the WebSocket limit closes that socket (1009 "message too
  // big", or 1006 when the close races the upload); others go on.
  const code = await page.evaluate(async () => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    await new Promise((r) => (ws.onopen = r));
    ws.send('x'.repeat(8 * 1024 * 1024));
    return await new Promise((r) => (ws.onclose = (e) => r(e.code)));
  });
  assert.ok(code === 1009 || code === 1006, `closed with ${code}`);
  await typeInto(page, 0, '1+1');
  await page.keyboard.press('Control+Enter');
  await output(page, 0).getByText('2').waitFor({ timeout: 30000 });
  await page.context().close();
});
