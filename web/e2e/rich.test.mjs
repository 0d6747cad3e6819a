// End to end, rich output: plots, MathJax, interacts, completion, help,
// modes, permalinks and an embedded cell on a page of another site.
// `salvus up` with real Sage, driven through Debian's Chromium; run by
// ctest (web_e2e) with SALVUS_BINARY and ARTIFACTS set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { artifacts, waitFor, startUp, stopUp, launchBrowser, newPage as openPage, typeInto, output,
  runCell } from './lib.mjs';

let data, up, browser, base, hubPort, site, sitePort;

before(async () => {
  // A third-party site (another origin) that embeds a cell.
  site = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html><head><title>A course page</title></head><body>
      <h1>Factoring</h1>
      <div class="salvus-cell">factor(2^64+1)</div>
      <script src="http://127.0.0.1:${hubPort}/embed.js"></script>
    </body></html>`);
  });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  sitePort = site.address().port;
  ({ up, data, port: hubPort } = await startUp(['--uid-base', '220000',
    '--allow-origin', `http://127.0.0.1:${sitePort}`]));
  base = `http://127.0.0.1:${hubPort}`;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  site?.close();
  await stopUp(up, data);
});

const newPage = (url = `${base}/`) => openPage(browser, url, { width: 1000, height: 900 });

test('a plot appears as an image of the right size', async () => {
  const page = await newPage();
  await runCell(page, 0, 'plot(sin(x), (x, 0, 2*pi))');
  const img = output(page, 0).locator('.display.image img');
  await img.waitFor({ timeout: 30000 });
  const size = await waitFor(
    () => img.evaluate((el) => (el.complete && el.naturalWidth > 0 ? [el.naturalWidth, el.naturalHeight, el.width, el.height] : null)),
    'the image to load', 30000);
  const [nw, nh, w, h] = size;
  assert.ok(nw >= 300 && nh >= 200, `a real plot (${nw}x${nh})`);
  assert.ok(w > 0 && h > 0 && Math.abs(w / h - nw / nh) < 0.05, `shown with its aspect (${w}x${h} of ${nw}x${nh})`);
  const src = await img.getAttribute('src');
  assert.match(src, /\/blobs\/[0-9a-f]{40}$/);
  const res = await fetch(new URL(src, base));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  assert.match(res.headers.get('cache-control'), /max-age=31536000/);
  await page.screenshot({ path: path.join(artifacts, 'plot.png') });
  await page.context().close();
});

test('show(x^2/3) is typeset by MathJax', async () => {
  const page = await newPage();
  await runCell(page, 0, 'show(x^2/3)');
  await output(page, 0).locator('mjx-container svg').first().waitFor({ timeout: 30000 });
  await page.screenshot({ path: path.join(artifacts, 'mathjax.png') });
  await page.context().close();
});

test('a slider interact reruns its function', async () => {
  const page = await newPage();
  await runCell(page, 0, '@interact\ndef f(n=slider(1, 10, 1, default=3)):\n    print("square", n^2)\nprint("after")');
  const box = output(page, 0).locator('.interact');
  await box.getByText('square 9').waitFor({ timeout: 30000 });
  // Output after the interact stays the cell's own.
  assert.equal(await box.getByText('after').count(), 0);
  await output(page, 0).getByText('after').waitFor();
  const slider = box.locator('input[type=range]');
  await slider.fill('7');
  await box.getByText('square 49').waitFor({ timeout: 30000 });
  assert.equal(await box.getByText('square 9').count(), 0, 'the old output was replaced');
  await page.screenshot({ path: path.join(artifacts, 'interact.png') });
  await page.context().close();
});

test('every kind of control sends a value the worker takes', async () => {
  const page = await newPage();
  await runCell(page, 0, [
    '@interact',
    'def f(a=slider(1, 10, 1, default=3), b=slider([1, "two", 3/2], default="two"),',
    '      c=range_slider(0, 10, 1, default=(2, 7)), d=input_box("x^2"), e=input_box("hi", type=str, height=3),',
    '      g=checkbox(False), h=selector(["p", "q", "r"], default="q"), k=selector([1, 2, 3], buttons=True),',
    '      m=color_selector((1, 0, 0)), n=input_grid(2, 2, default=[[1, 2], [3, 4]]),',
    '      o=button("Go", value="clicked", default="idle"), t=text_control("note"),',
    '      p=range_slider([1, 2, 4, 8], default=(2, 4)), q=range_slider(["a", "b", "c", "d"])):',
    '    print("run", a, b, c, d, e, g, h, k, m.html_color(), n, o, t, p, q)',
  ].join('\n'));
  const box = output(page, 0).locator('.interact');
  const line = (o, g = 'False', h = 'q', k = '1', p = '(2, 4)') =>
    `run 3 two (2, 7) x^2 hi ${g} ${h} ${k} #ff0000 [[1, 2], [3, 4]] ${o} note ${p} ('a', 'd')`;
  await box.getByText(line('idle')).waitFor({ timeout: 30000 });
  // A range_slider over a list of values moves over their indices and shows
  // the values.
  const ranges = box.locator('.control-range_slider');
  assert.equal(await ranges.nth(1).locator('.control-value').textContent(), '2 – 4');
  assert.equal(await ranges.nth(2).locator('.control-value').textContent(), 'a – d');
  // Every update sends the value of every control; a click lasts one run.
  await box.locator('.control-button button').click();
  await box.getByText(line('clicked')).waitFor({ timeout: 30000 });
  await box.locator('input[type=checkbox]').click();
  await box.getByText(line('idle', 'True')).waitFor({ timeout: 30000 });
  await box.locator('select').selectOption('2');
  await box.getByText(line('idle', 'True', 'r')).waitFor({ timeout: 30000 });
  await box.locator('.buttons button').nth(2).click();
  await box.getByText(line('idle', 'True', 'r', '3')).waitFor({ timeout: 30000 });
  await ranges.nth(1).locator('input[type=range]').nth(1).fill('3');
  await box.getByText(line('idle', 'True', 'r', '3', '(2, 8)')).waitFor({ timeout: 30000 });
  assert.equal(await ranges.nth(1).locator('.control-value').textContent(), '2 – 8');
  await page.context().close();
});

test('Tab completes facto to factor, and factor? shows its docstring', async () => {
  const page = await newPage();
  await typeInto(page, 0, 'facto');
  await page.keyboard.press('Tab');
  await waitFor(async () => (await page.locator('.cell .cm-content').first().innerText()).startsWith('factor'),
    'the completion', 60000);
  await runCell(page, 0, 'factor?');
  const help = output(page, 0).locator('.help-pane');
  await help.waitFor({ timeout: 30000 });
  assert.match(await help.innerText(), /factor/i);
  assert.match(await help.innerText(), /factorization/i);
  await page.screenshot({ path: path.join(artifacts, 'help.png') });
  await page.context().close();
});

test('%gp runs PARI/GP', async () => {
  const page = await newPage();
  await runCell(page, 0, '%gp\nfactor(2^64+1)');
  // gp prints the factorization matrix in its own layout.
  await output(page, 0).getByText('67280421310721 1]').waitFor({ timeout: 30000 });
  const text = await output(page, 0).innerText();
  assert.match(text, /\[\s*274177 1\]\s*\[67280421310721 1\]/);
  assert.doesNotMatch(text, /Error|Traceback/);
  await page.context().close();
});

test('share a cell, open the link in a new page and run it', async () => {
  const page = await newPage();
  await typeInto(page, 0, 'print(6*7, "shared")');
  await page.locator('.cell .tools button.share').first().click();
  const link = page.locator('.cell .share-link a').first();
  await link.waitFor({ timeout: 15000 });
  const url = await link.getAttribute('href');
  assert.match(url, /\/s\/[A-Za-z0-9_-]{6,}$/);
  const other = await newPage(url);
  assert.equal(await other.locator('.cell .cm-content').first().innerText(), 'print(6*7, "shared")');
  await other.keyboard.press('Shift+Enter');
  await output(other, 0).getByText('42 shared').waitFor({ timeout: 60000 });
  await other.context().close();
  // ?autoeval=1 runs it at once.
  const auto = await newPage(`${url}?autoeval=1`);
  await output(auto, 0).getByText('42 shared').waitFor({ timeout: 60000 });
  await auto.screenshot({ path: path.join(artifacts, 'shared.png') });
  await auto.context().close();
  // A missing id is a clear message.
  const missing = await browser.newPage();
  await missing.goto(`${base}/s/nosuchid123`);
  await missing.locator('.shared-banner', { hasText: 'No such shared cell' }).waitFor({ timeout: 15000 });
  await missing.close();
  await page.context().close();
});

test('a shared interact opens with the values it was shared with', async () => {
  const page = await newPage();
  await runCell(page, 0, '@interact\ndef g(k=slider(1, 10, 1, default=2)):\n    print("cube", k^3)');
  const box = output(page, 0).locator('.interact');
  await box.getByText('cube 8').waitFor({ timeout: 30000 });
  await box.locator('input[type=range]').fill('5');
  await box.getByText('cube 125').waitFor({ timeout: 30000 });
  await page.locator('.cell .tools button.share').first().click();
  const link = page.locator('.cell .share-link a').first();
  await link.waitFor({ timeout: 15000 });
  const other = await newPage(`${await link.getAttribute('href')}?autoeval=1`);
  const shared = output(other, 0).locator('.interact');
  await shared.getByText('cube 125').waitFor({ timeout: 60000 });
  assert.equal(await shared.locator('input[type=range]').inputValue(), '5');
  await other.context().close();
  await page.context().close();
});

test('an embedded cell on a page of another site runs', async () => {
  const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${sitePort}/`);
  await page.locator('.salvus-cell .cell').waitFor({ timeout: 15000 });
  await page.locator('.salvus-cell button.run').click();
  await page.locator('.salvus-cell .output').getByText('274177 * 67280421310721').waitFor({ timeout: 60000 });
  await page.screenshot({ path: path.join(artifacts, 'embed.png') });
  await context.close();
});

test('bad blob names and foreign origins are refused', async () => {
  let r = await fetch(`${base}/blobs/not-a-sha1`);
  assert.equal(r.status, 400);
  assert.match(await r.text(), /malformed blob name/);
  r = await fetch(`${base}/blobs/${'0'.repeat(40)}`);
  assert.equal(r.status, 404);
  // A WebSocket from a page of a site the hub does not allow.
  const status = await new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: hubPort, path: '/ws',
      headers: {
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', Origin: 'http://evil.example',
      },
    });
    req.on('response', (res) => resolve(res.statusCode));
    req.on('upgrade', () => resolve(101));
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 403);
});
