// The page over https/wss: `salvus up --tls-cert/--tls-key` in headless Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startUp, stopUp, launchBrowser, output } from './lib.mjs';

test('a cell runs over TLS', async () => {
  const certs = fs.mkdtempSync(path.join(os.tmpdir(), 'salvus-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', `${certs}/key.pem`, '-out', `${certs}/cert.pem`], { stdio: 'ignore' });
  const { up, data, port } = await startUp(['--kernel', 'python',
    '--tls-cert', `${certs}/cert.pem`, '--tls-key', `${certs}/key.pem`,
    '--uid-base', '210000'], { quiet: true });  // its own uids: test files may run in parallel
  let browser;
  try {
    browser = await launchBrowser();
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`https://127.0.0.1:${port}/`);
    const editor = page.locator('.cell .cm-content').first();
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('6*7');
    await page.keyboard.press('Control+Enter');
    await output(page, 0).getByText('42').waitFor({ timeout: 30000 });
    // Plain http on the TLS port gets nowhere.
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
  } finally {
    await browser?.close();
    await stopUp(up, data);
    fs.rmSync(certs, { recursive: true, force: true });
  }
});
