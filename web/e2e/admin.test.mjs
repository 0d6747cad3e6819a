// The operator's page end to end: `salvus up --monitor` (monitors of its hub
// and compute server write status rows and the compute server's log), a few
// cells run through the worksheet, then /admin in Chromium: the token form,
// the services with their health, plots drawn from the status rows, log
// lines and their filter. Writes a screenshot and prints where.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, waitFor, startUp, stopUp, launchBrowser, newPage, runCell } from './lib.mjs';

let data, up, browser, base, token, stdout;

before(async () => {
  let port;
  ({ up, data, port, stdout } = await startUp(['--kernel', 'python', '--monitor',
    '--monitor-interval', '0.3', '--uid-base', '240000']));  // its own uids: files run in parallel
  base = `http://127.0.0.1:${port}`;
  token = fs.readFileSync(path.join(data, 'token'), 'utf8').trim();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopUp(up, data);
});

const api = (p, auth = `Bearer ${token}`) => fetch(base + p, { headers: auth ? { authorization: auth } : {} });

test('salvus up says where the operator\'s page is and where its token is', async () => {
  const said = await waitFor(() => stdout().includes("Operator's page") && stdout(), 'the admin line', 10000);
  assert.match(said, new RegExp(`Operator's page: ${base}/admin .*${path.join(data, 'token')}`));
});

test('the API refuses a request without the token and answers one with it', async () => {
  for (const p of ['/admin', '/admin/api/services', '/admin/api/log?service=1']) {
    const r = await api(p, '');
    assert.equal(r.status, 403, p);
    assert.doesNotMatch(await r.text(), /compute|"lines"/, p);
    assert.equal((await api(p, 'Bearer wrong-wrong-wrong-wrong')).status, 403, p);
  }
  assert.equal((await api('/admin/api/status?service=abc')).status, 400);
  assert.equal((await api('/admin/api/log?service=1&limit=0')).status, 400);
  const r = await api('/admin/api/services');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/json');
  const body = await r.json();
  assert.ok(Array.isArray(body.services));
});

test('/admin shows the services, plots of their status and their log', async () => {
  // Cells, so the hub's figures move (cells/s, latency).
  const sheet = await newPage(browser, base + '/');
  for (let i = 0; i < 3; i++) await runCell(sheet, 0, `${i}+40`);
  await sheet.context().close();
  // Both services registered, with a few status rows each, and log lines.
  const services = await waitFor(async () => {
    const s = (await (await api('/admin/api/services')).json()).services;
    if (s.length < 2) return null;
    for (const x of s) {
      const rows = (await (await api(`/admin/api/status?service=${x.id}&hours=1`)).json()).rows;
      if (rows.length < 4) return null;
    }
    return s;
  }, 'status rows of both services', 60000);
  const compute = services.find((s) => s.type === 'compute');
  assert.ok(compute && services.find((s) => s.type === 'hub'), JSON.stringify(services));
  await waitFor(async () => (await (await api(`/admin/api/log?service=${compute.id}`)).json()).lines.length > 0,
    'log lines of the compute server', 30000);

  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  await page.goto(base + '/admin');
  // Without the token: the form, no data.
  await page.locator('input[name=token]').fill('not the token');
  await page.locator('form button').click();
  await page.getByText('That is not the cluster token').waitFor();
  await page.locator('input[name=token]').fill(token);
  await page.locator('form button').click();
  await page.waitForURL(base + '/admin');

  await page.locator('#services tbody tr[data-service]').nth(1).waitFor({ timeout: 30000 });
  const rows = await page.locator('#services tbody tr').allTextContents();
  assert.ok(rows.some((r) => r.includes('compute up') && r.includes('127.0.0.1:')), rows.join('\n'));
  assert.ok(rows.some((r) => r.includes('hub up')), rows.join('\n'));
  assert.equal(await page.locator('#services td.health.up').count(), 2, rows.join('\n'));

  const card = page.locator(`section.service[data-service="${compute.id}"]`);
  // Plots with a line each for load, CPU, memory and sessions.
  await card.locator('svg.plot path.plot-line').nth(3).waitFor({ timeout: 30000 });
  const titles = await card.locator('svg.plot .plot-title').allTextContents();
  for (const t of ['load (1 min)', 'CPU %', 'memory (RSS, MB)', 'sessions']) assert.ok(titles.includes(t), titles.join());
  const hubCard = page.locator(`section.service[data-service="${services.find((s) => s.type === 'hub').id}"]`);
  const hubTitles = await hubCard.locator('svg.plot .plot-title').allTextContents();
  assert.ok(hubTitles.includes('cells/s') && hubTitles.includes('cell latency (ms)'), hubTitles.join());

  // The compute server's log, then filtered.
  await card.locator('.log-line').first().waitFor({ timeout: 30000 });
  const all = await card.locator('.log-line').count();
  assert.ok(all > 0);
  const word = 'listening';
  await card.locator('.log-filter').fill(word);
  await waitFor(async () => {
    const lines = await card.locator('.log-line').allTextContents();
    return lines.length > 0 && lines.every((l) => l.toLowerCase().includes(word)) && lines.length <= all;
  }, 'the filtered log', 15000);
  await card.locator('.log-filter').fill('');
  await waitFor(async () => (await card.locator('.log-line').count()) >= all, 'the whole log again', 15000);

  const shot = path.join(artifacts, 'admin-screenshot.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`admin screenshot: ${shot}`);
  await context.close();
});
