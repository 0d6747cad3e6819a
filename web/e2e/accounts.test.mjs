// Accounts in the page, in Chromium: sign up, sign out, a wrong password,
// sign in, a reset through the mailed link (the vault writes mail to
// data/mail/ under `salvus up`), sign out everywhere. The address is sealed
// in the page: it must not be in the main database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startUp, stopUp, launchBrowser, newPage, waitFor } from './lib.mjs';

const email = 'e2e.person@example.net';

async function signInDialog(page, password) {
  await page.locator('button.sign-in').click();
  await page.locator('dialog input[name=email]').fill(email);
  if (password !== undefined) await page.locator('dialog input[name=password]').fill(password);
}

test('sign up, sign in, reset by mail, sign out everywhere', async () => {
  const { up, data, port } = await startUp(['--kernel', 'python', '--uid-base', '260000',
    '--password-cost', 'min'], { quiet: true });
  const url = `http://127.0.0.1:${port}/`;
  let browser;
  try {
    browser = await launchBrowser();
    const page = await newPage(browser, url);

    await signInDialog(page, 'first password');
    await page.locator('button.do-sign-up').click();
    await page.locator('button.sign-out').waitFor({ timeout: 30000 });
    await page.locator('button.sign-out').click();
    await page.locator('button.sign-in').waitFor();

    await signInDialog(page, 'not the password');
    await page.locator('button.do-sign-in').click();
    await page.locator('.account-message.bad').getByText('wrong e-mail address or password').waitFor();
    await page.locator('dialog input[name=password]').fill('first password');
    await page.locator('button.do-sign-in').click();
    await page.locator('button.sign-out').waitFor();
    // The cookie outlives a reload; the page cannot read it.
    await page.reload();
    await page.locator('button.sign-out').waitFor();
    assert.equal(await page.evaluate(() => document.cookie), '');

    // Forgotten: the mailed link, followed in the browser.
    await page.locator('button.sign-out').click();
    await signInDialog(page);
    await page.locator('button.do-forgot').click();
    await page.locator('.account-message.ok').getByText('if an account exists').waitFor();
    const link = await waitFor(() => {
      const dir = path.join(data, 'mail');
      for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        const m = /(http\S*#reset=[0-9a-f]{64})/.exec(fs.readFileSync(path.join(dir, f), 'utf8'));
        if (m) return m[1];
      }
      return null;
    }, 'the reset mail', 30000);
    await page.goto(link);
    await page.locator('dialog input[name=new-password]').fill('second password');
    await page.locator('button.do-reset').click();
    await page.locator('button.sign-out').waitFor();

    // A second browser signs in; "everywhere" from the first signs it out.
    const other = await newPage(browser, url);
    await other.locator('button.sign-in').click();
    await other.locator('dialog input[name=email]').fill(email);
    await other.locator('dialog input[name=password]').fill('second password');
    await other.locator('button.do-sign-in').click();
    await other.locator('button.sign-out').waitFor();
    await page.locator('button.sign-out-all').click();
    await page.locator('button.sign-in').waitFor();
    await other.reload();
    await other.locator('button.sign-in').waitFor();

    for (const f of fs.readdirSync(data).filter((n) => n.startsWith('salvus.db'))) {
      assert.ok(!fs.readFileSync(path.join(data, f)).includes(email), `${email} in ${f}`);
    }
  } finally {
    await browser?.close();
    await stopUp(up, data);
  }
});
