// End to end, reconnecting: a page whose connection drops gets its session
// back (with the output produced meanwhile) if it returns within the hub's
// reconnect grace period, and a clear "session ended" after it.
// The page talks to the hub through a TCP proxy of this test that can cut
// every connection (RST both ways, as a real network drop) and refuse new
// ones for a while. `salvus up --reconnect-grace 3` with real Sage, driven
// through Debian's Chromium; run by ctest (web_e2e) with SALVUS_BINARY and
// ARTIFACTS set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { artifacts, binary, waitFor, startUp, stopUp, launchBrowser, newPage as openPage, typeInto, output,
  runCell } from './lib.mjs';

const GRACE_S = 3;
let data, up, browser, hubPort, proxy, base, hub2, hub2Log;

// A TCP proxy to `target.port` that can drop every connection and stay down.
function makeProxy(target) {
  const pairs = new Set();
  let down = false;
  const server = net.createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const hub = net.connect(target.port, '127.0.0.1');
    const pair = { client, hub };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      hub.destroy();
    };
    client.on('error', end).on('close', end);
    hub.on('error', end).on('close', end);
    client.pipe(hub);
    hub.pipe(client);
  });
  return {
    server,
    // Cuts every connection; refuses new ones for `ms`.
    cut(ms) {
      down = true;
      for (const { client, hub } of pairs) {
        client.resetAndDestroy();
        hub.resetAndDestroy();
      }
      pairs.clear();
      setTimeout(() => (down = false), ms);
      return new Promise((r) => setTimeout(r, ms));
    },
    get connections() {
      return pairs.size;
    },
  };
}

before(async () => {
  // The page's origin is the proxy's address: the hub is told to accept it.
  const target = { port: 0 };
  proxy = makeProxy(target);
  await new Promise((r) => proxy.server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${proxy.server.address().port}/`;
  ({ up, data, port: hubPort } = await startUp(['--uid-base', '230000',
    '--reconnect-grace', String(GRACE_S), '--allow-origin', base.slice(0, -1)]));
  target.port = hubPort;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  proxy?.server.close();
  if (hub2 && hub2.exitCode === null) {
    hub2.kill('SIGTERM');
    await new Promise((r) => hub2.once('exit', r));
  }
  await stopUp(up, data);
});

const newPage = () => openPage(browser, base);

// Runs `code` in cell i and returns its output text.
async function runAndWait(page, i, code, ms = 60000) {
  await runCell(page, i, code, ms);
  return (await output(page, i).innerText()).trim();
}

const TEN_LINES = 'for i in range(10):\n    print(i)\n    sleep(0.3r)';

test('a page that drops and comes back within the grace period keeps its session and output', async () => {
  const page = await newPage();
  assert.equal(await runAndWait(page, 0, 'x = 42; x'), '42');
  await typeInto(page, 0, TEN_LINES);
  await page.keyboard.press('Control+Enter');
  await waitFor(async () => (await output(page, 0).innerText()).includes('2'), 'line 2', 30000);
  // Down for 1.5 s: lines come meanwhile, kept by the hub.
  await proxy.cut(1500);
  await page.locator('#status', { hasText: 'reconnecting' }).waitFor({ timeout: 5000 });
  await page.screenshot({ path: path.join(artifacts, 'reconnect-away.png') });
  await waitFor(async () => !(await page.locator('.cell.running').count()), 'the cell to finish', 30000);
  const text = await output(page, 0).innerText();
  assert.deepEqual(text.trim().split('\n'), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    'every line, in order, once');
  assert.equal(await output(page, 0).locator('.notice').count(), 0, 'ended OK');
  await page.locator('#status', { hasText: 'ready' }).waitFor({ timeout: 5000 });
  // The same session: what was defined before the drop still is.
  assert.equal(await runAndWait(page, 0, 'x + 1'), '43');
  await page.screenshot({ path: path.join(artifacts, 'reconnect-back.png') });
  await page.context().close();
});

test('a page away longer than the grace period is told its session ended and gets a fresh one', async () => {
  const page = await newPage();
  assert.equal(await runAndWait(page, 0, 'y = 7; y'), '7');
  await typeInto(page, 0, 'for i in range(100):\n    print(i)\n    sleep(0.3r)');
  await page.keyboard.press('Control+Enter');
  await waitFor(async () => (await output(page, 0).innerText()).includes('1'), 'line 1', 30000);
  await proxy.cut((GRACE_S + 3) * 1000);
  // The running cell ends with the reason; the status line says so too.
  await output(page, 0).locator('.notice').waitFor({ timeout: 15000 });
  assert.match(await output(page, 0).locator('.notice').innerText(), /session ended while you were disconnected/);
  assert.equal(await page.locator('.cell.running').count(), 0);
  await page.locator('#status', { hasText: 'session ended while you were disconnected' }).waitFor({ timeout: 5000 });
  await page.screenshot({ path: path.join(artifacts, 'reconnect-expired.png') });
  // The next run starts a new session: `y` is gone, and it works.
  const again = await runAndWait(page, 0, 'y');
  assert.match(again, /NameError/);
  assert.equal(await runAndWait(page, 0, '2+3'), '5');
  await page.context().close();
});

test('a resume lands on any shard of a many-threaded hub', async () => {
  // A second hub with 8 event loops on the same compute server: each new
  // connection goes to a shard the kernel picks, so resumes cross shards.
  hub2Log = path.join(data, 'hub2.log');
  const compute = `127.0.0.1:${fs.readFileSync(path.join(data, 'compute.port'), 'utf8').trim()}`;
  const portFile = path.join(data, 'hub2.port');
  hub2 = spawn(binary, ['hub', '--listen', '127.0.0.1:0', '--compute', compute, '--token-file',
    path.join(data, 'token'), '--threads', '8', '--port-file', portFile, '--log-file', hub2Log,
    '--reconnect-grace', String(GRACE_S)], { stdio: 'inherit' });
  const port = await waitFor(() => {
    try {
      return fs.readFileSync(portFile, 'utf8').trim();
    } catch {
      return null;
    }
  }, 'the second hub', 30000);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  const results = await page.evaluate(async () => {
    let id = 1;
    const open = async () => {
      const ws = new WebSocket(`ws://${location.host}/ws`);
      const replies = [];
      const waiters = [];
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        replies.push(m);
        for (const w of waiters.splice(0)) w();
      };
      await new Promise((r, j) => ((ws.onopen = r), (ws.onerror = j)));
      // Sends `m`; resolves with its replies up to the last one.
      ws.call = async (m, last) => {
        const mine = id++;
        ws.send(JSON.stringify({ ...m, id: mine }));
        for (let t = 0; t < 600; ++t) {
          const got = replies.filter((r) => String(r.id) === String(mine));
          if (got.some(last)) return got;
          await new Promise((r) => { waiters.push(r); setTimeout(r, 100); });
        }
        throw new Error(`no answer to ${JSON.stringify(m)}`);
      };
      return ws;
    };
    const closed = (ws) => new Promise((r) => { ws.onclose = r; ws.close(); });
    let ws = await open();
    const started = await ws.call({ startSession: {} }, (r) => r.sessionStarted || r.error);
    const session = started[0].sessionStarted.session;
    await ws.call({ execute: { session, code: 'z = 0' } }, (r) => r.done);
    const out = [];
    for (let round = 1; round <= 6; ++round) {
      // Drop while a run is on its way: its output waits in the hub.
      ws.send(JSON.stringify({ id: id++, execute: { session, code: `z += 1; print(z)` } }));
      await closed(ws);
      await new Promise((r) => setTimeout(r, 300));
      ws = await open();
      const r = await ws.call({ resume: { session } }, (m) => m.sessionStarted || m.error);
      const got = await ws.call({ execute: { session, code: 'print("z =", z)' } }, (m) => m.done || m.error);
      out.push([r[0].sessionStarted ? 'resumed' : r[0].error.text,
        got.map((m) => m.output?.text ?? '').join('').trim()]);
    }
    // A session nobody holds.
    const gone = await ws.call({ resume: { session: 'f'.repeat(32) } }, (m) => m.sessionStarted || m.error);
    out.push([gone[0].error?.code, '']);
    await closed(ws);
    return out;
  });
  for (let round = 1; round <= 6; ++round) {
    assert.deepEqual(results[round - 1], ['resumed', `z = ${round}`], JSON.stringify(results));
  }
  assert.equal(results[6][0], 'NOT_FOUND');
  const log = fs.readFileSync(hub2Log, 'utf8');
  const handovers = (log.match(/handed over to shard/g) ?? []).length;
  process.stderr.write(`[hub2] ${handovers} of 6 resumes crossed shards\n`);
  assert.ok(handovers >= 1, 'at least one resume crossed shards (8 shards, 6 tries)');
  await context.close();
});
