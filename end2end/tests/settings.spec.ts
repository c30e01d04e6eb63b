import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { generate } from 'otplib';
import { accessible, password, rows, signInAs } from './session';

// Settings, sessions and sudo mode (issue 25, items 5, 6 and 8): an admin reaches Settings
// through the sidebar, renames the site (the top bar follows) and finds the change in the log
// through the action picker; ends one of their own sessions from another browser; is asked for
// the password again for a sensitive change once the last proof is old; and requires two-factor
// sign-in for everyone, which sends a member straight to set it up.

const admin = 'admin@company.com';
const member = 'rhea@company.com';

/** SQL as the database's owner (the run's DATABASE_URL): what no browser can do, to age a
 * session or put the settings back for the specs that follow. */
function sql(statement: string) {
  execFileSync('psql', [process.env.DATABASE_URL!, '-q', '-c', statement]);
}

async function shots(page: Page, name: string) {
  for (const width of [1280, 1024, 768]) {
    await page.setViewportSize({ width, height: 900 });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: `test-results/${name}-${width}-${scheme}.png`, fullPage: true });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });
}

test.afterAll(async () => {
  // The specs after this one sign in without a second factor, on the demo's site name: put
  // back, and wait out the server's settings cache (5 s).
  sql('DELETE FROM settings');
  await new Promise((done) => setTimeout(done, 6_000));
});

test('an admin renames the site, and the top bar and the log follow', async ({ browser }) => {
  const page = await signInAs(browser, admin, '/audit');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link')).toHaveText(['Audit Log', 'Exports', 'Alerts', 'Users', 'API keys', 'Settings', 'Account']);
  await nav.getByRole('link', { name: 'Settings' }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Settings' })).toHaveAttribute('aria-current', 'page');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await accessible(page, 'settings');
  await shots(page, 'settings');

  // Nothing changed: nothing to save. A number out of bounds is refused in words.
  const save = page.getByTestId('save-settings');
  await expect(save).toBeDisabled();
  const failures = page.getByTestId('setting-lockout-failures');
  await failures.fill('');
  await failures.pressSequentially('2', { delay: 60 });
  await save.click();
  await expect(page.getByTestId('settings-error')).toContainText('from 3 to 50');
  await failures.fill('');
  await failures.pressSequentially('6', { delay: 60 });

  const name = page.getByTestId('setting-site-name');
  await name.fill('');
  await name.pressSequentially('Acme Evidence', { delay: 40 });
  await save.click();
  await expect(page.getByTestId('settings-done')).toContainText('Saved');
  await expect(save).toBeDisabled();
  await page.reload();
  await expect(page.getByTestId('site-name')).toHaveText('Acme Evidence');
  await expect(page.getByTestId('setting-lockout-failures')).toHaveValue('6');

  // In the log, through the action picker: who, and each field before and after.
  await nav.getByRole('link', { name: 'Audit Log' }).click();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.getByTestId('action-picker').click();
  await page.getByTestId('action-search').pressSequentially('settings.', { delay: 60 });
  await page.locator('details[open]').getByText('settings.updated', { exact: true }).click();
  await page.keyboard.press('Escape');
  await expect(rows(page)).toHaveCount(1);
  await rows(page).first().click();
  const detail = page.getByTestId('entry-detail');
  await expect(detail).toContainText('Acme Evidence');
  await expect(detail).toContainText('lockout_failures');
  await page.context().close();
});

test('sessions are listed and ended, and a sensitive change asks for the password again', async ({ browser }) => {
  const laptop = await signInAs(browser, admin, '/account', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0');
  const phone = await signInAs(browser, admin, '/account', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1');
  await expect(phone.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await laptop.reload();
  await expect(laptop.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const table = laptop.getByTestId('session-table');
  await expect(table.locator('[data-current="true"]')).toContainText('Firefox on Linux');
  const iphone = table.getByTestId('session-row').filter({ hasText: 'Safari on iOS' });
  await expect(iphone).toHaveCount(1);
  await accessible(laptop, 'account with sessions');
  await shots(laptop, 'account-sessions');
  await iphone.getByTestId('end-session').click();
  await expect(iphone).toHaveCount(0);
  // The phone is signed out: its next call says so.
  await phone.getByTestId('set-up-two-factor').click();
  await expect(phone.getByTestId('session-ended')).toBeVisible();
  await phone.context().close();

  // The laptop's password was proven 11 minutes ago: setting up a second factor asks for it.
  sql("UPDATE sessions SET proven_at = now() - interval '11 minutes'");
  await laptop.getByTestId('set-up-two-factor').click();
  const dialog = laptop.getByTestId('sudo-dialog');
  await expect(dialog).toBeVisible();
  await expect(laptop.getByTestId('sudo-password')).toBeFocused();
  await accessible(laptop, 'the password dialog');
  await laptop.screenshot({ path: 'test-results/sudo-dialog.png' });
  await laptop.getByTestId('sudo-password').pressSequentially('not the password', { delay: 20 });
  await laptop.getByTestId('sudo-confirm').click();
  await expect(laptop.getByTestId('sudo-error')).toContainText('not right');
  await laptop.getByTestId('sudo-password').fill('');
  await laptop.getByTestId('sudo-password').pressSequentially(password, { delay: 20 });
  await laptop.getByTestId('sudo-confirm').click();
  await expect(dialog).toHaveCount(0);
  await laptop.getByTestId('set-up-two-factor').click();
  await expect(laptop.getByTestId('enrolment')).toBeVisible();
  await laptop.context().close();
});

test('a required second factor sends a member to set it up, and nothing else opens', async ({ browser }) => {
  const page = await signInAs(browser, admin, '/settings');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.getByTestId('require-2fa-everyone').check();
  await page.getByTestId('save-settings').click();
  await expect(page.getByTestId('settings-done')).toContainText('Saved');
  // The admin is held to it too, at once.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await expect(page).toHaveURL(/\/account\?enrol=required$/);
  await page.context().close();

  const rhea = await signInAs(browser, member, '/audit');
  await expect(rhea).toHaveURL(/\/account\?enrol=required$/);
  await expect(rhea.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(rhea.getByTestId('two-factor-required')).toBeVisible();
  await accessible(rhea, 'enrolment required');
  await rhea.screenshot({ path: 'test-results/account-enrol-required.png', fullPage: true });
  await rhea.goto('/keys');
  await expect(rhea).toHaveURL(/\/account\?enrol=required$/);
  const api = await rhea.request.get('/api/v1/events');
  expect(api.status()).toBe(403);

  await expect(rhea.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await rhea.getByTestId('set-up-two-factor').click();
  const secret = (await rhea.getByTestId('totp-secret').innerText()).replace(/\s/g, '');
  await rhea.getByTestId('two-factor-code').pressSequentially(await generate({ secret }), { delay: 50 });
  await rhea.getByTestId('confirm-two-factor').click();
  await expect(rhea.getByTestId('recovery-codes').locator('li')).toHaveCount(10);
  await rhea.getByTestId('codes-done').click();
  // Required: on, and no way to turn it off.
  await expect(rhea.getByTestId('two-factor-state')).toContainText('cannot be turned off');
  await expect(rhea.getByTestId('disable-two-factor')).toHaveCount(0);
  // Enrolled: the rest opens (a member may not read the log, and is told so).
  await rhea.goto('/audit');
  await expect(rhea).toHaveURL(/\/audit$/);
  await rhea.context().close();
});
