// The page over https/wss: `salvus up --tls-cert/--tls-key` in headless Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

test('a cell runs over TLS', async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'salvus-tls-'));
  fs.chmodSync(data, 0o711);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', `${data}/key.pem`, '-out', `${data}/cert.pem`], { stdio: 'ignore' });
  const up = spawn(process.env.SALVUS_BINARY, ['up', '--port', '0', '--data', data, '--kernel', 'python',
    '--tls-cert', `${data}/cert.pem`, '--tls-key', `${data}/key.pem`,
    '--uid-base', '210000'],  // its own uids: test files may run in parallel
    { stdio: 'ignore' });
  let browser;
  try {
    let port;
    for (let i = 0; i < 600 && !port; ++i) {
      try { port = fs.readFileSync(`${data}/hub.port`, 'utf8').trim(); } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    assert.ok(port, 'salvus up started');
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`https://127.0.0.1:${port}/`);
    const editor = page.locator('.cell .cm-content').first();
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('6*7');
    await page.keyboard.press('Control+Enter');
    await page.locator('.cell .output').first().getByText('42').waitFor({ timeout: 30000 });
    // Plain http on the TLS port gets nowhere.
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
  } finally {
    await browser?.close();
    up.kill('SIGTERM');
    await new Promise((r) => up.once('exit', r));
    fs.rmSync(data, { recursive: true, force: true });
  }
});
