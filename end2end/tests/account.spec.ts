import { expect, test } from '@playwright/test';
import { generate } from 'otplib';
import { accessible, password, rows, signInAs } from './session';

// The Account page (issue 25, items 4 and 5): a member changes their password, then sets up
// two-factor sign-in on the Account page by
// typing the code an independent generator (otplib) computes from the key the page shows,
// keeps the recovery codes shown once, signs out, and signs in with password + code; an admin
// sees "On" in the Users table, resets it, and finds both entries in the audit log through
// the action picker.

const email = 'tess@company.com';

/** The code an authenticator app shows `ahead` steps from now, for the key the page showed. */
async function codeFor(secret: string, ahead = 0): Promise<string> {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 * ahead });
}

test('a member sets up two-factor sign-in, signs in with a code, and an admin resets it', async ({ browser }) => {
  const tess = await signInAs(browser, email, '/account');
  await expect(tess).toHaveURL(/\/account$/);
  await expect(tess.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const nav = tess.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link')).toHaveText(['Account']);
  await expect(nav.getByRole('link', { name: 'Account' })).toHaveAttribute('aria-current', 'page');
  await expect(tess.getByTestId('account-facts')).toContainText(email);
  await expect(tess.getByTestId('two-factor-state')).toContainText('Off.');
  await accessible(tess, 'the account page, off');

  // A new password, typed as people type: the rules said while typing, then changed.
  const newPassword = 'otter lantern quarry';
  await tess.getByTestId('current-password').pressSequentially(password, { delay: 20 });
  await tess.getByTestId('new-password').pressSequentially('short', { delay: 30 });
  await expect(tess.getByTestId('password-hint')).toContainText('at least 12');
  await tess.getByTestId('new-password').fill('');
  await tess.getByTestId('new-password').pressSequentially(newPassword, { delay: 20 });
  await tess.getByTestId('new-password-again').pressSequentially(newPassword, { delay: 20 });
  await tess.getByTestId('change-password').click();
  await expect(tess.getByTestId('password-done')).toContainText('Password changed');
  await expect(tess.getByTestId('current-password')).toHaveValue('');

  // Set up: the QR code is inline SVG; the key is text an app (here otplib) takes.
  await tess.getByTestId('set-up-two-factor').click();
  await expect(tess.getByTestId('enrolment')).toBeVisible();
  await expect(tess.locator('.enrolment .qr svg')).toBeVisible();
  const secret = (await tess.getByTestId('totp-secret').innerText()).replace(/\s/g, '');
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await accessible(tess, 'enrolment');
  for (const width of [1280, 768]) {
    await tess.setViewportSize({ width, height: 900 });
    for (const scheme of ['light', 'dark'] as const) {
      await tess.emulateMedia({ colorScheme: scheme });
      await tess.screenshot({ path: `test-results/account-enrol-${width}-${scheme}.png`, fullPage: true });
    }
  }
  await tess.emulateMedia({ colorScheme: 'light' });
  await tess.setViewportSize({ width: 1280, height: 900 });

  // A wrong code is refused in words; the app's code turns it on and shows the codes once.
  const input = tess.getByTestId('two-factor-code');
  await input.pressSequentially('000000', { delay: 40 });
  const right = await codeFor(secret);
  if (right !== '000000') {
    await tess.getByTestId('confirm-two-factor').click();
    await expect(tess.getByTestId('two-factor-error')).toContainText('not right');
  }
  await input.fill('');
  await input.pressSequentially(right, { delay: 60 });
  await tess.getByTestId('confirm-two-factor').click();
  const codes = tess.getByTestId('recovery-codes');
  await expect(codes.locator('li')).toHaveCount(10);
  const recovery = await codes.locator('li').allInnerTexts();
  for (const c of recovery) expect(c).toMatch(/^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/);
  await expect(tess.getByTestId('two-factor-state')).toContainText('10 of 10 recovery codes left');
  await accessible(tess, 'recovery codes shown');
  await tess.screenshot({ path: 'test-results/account-recovery-codes.png', fullPage: true });
  await tess.getByTestId('codes-done').click();
  await expect(codes).toHaveCount(0);

  // Signed out, the password alone leads to the code step, which a wrong code does not pass.
  await tess.getByRole('button', { name: 'Sign out' }).click();
  await expect(tess).toHaveURL(/\/login$/);
  await tess.goto('/account');
  await tess.getByLabel('Email').fill(email);
  await tess.getByLabel('Password').fill(newPassword);
  await tess.getByRole('button', { name: 'Sign in' }).click();
  await expect(tess).toHaveURL(/\/login\?step=code/);
  await expect(tess.getByText('Two-factor sign-in')).toBeVisible();
  await accessible(tess, 'the code step');
  await tess.screenshot({ path: 'test-results/login-code-step.png' });
  // The step's cookie opens no page: still signed out.
  await tess.goto('/account');
  await expect(tess).toHaveURL(/\/login\?next=/);
  await tess.goto('/login?step=code&next=%2Faccount');
  await tess.getByLabel('Code from your authenticator app').pressSequentially('000000', { delay: 40 });
  await tess.getByRole('button', { name: 'Verify' }).click();
  await expect(tess.getByRole('alert')).toContainText('not right');
  // The next step's code (the one that confirmed enrolment was used, so it would be refused).
  await tess.getByLabel('Code from your authenticator app').pressSequentially(await codeFor(secret, 1), { delay: 60 });
  await tess.getByRole('button', { name: 'Verify' }).click();
  await expect(tess).toHaveURL(/\/account$/);
  await expect(tess.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(tess.getByTestId('two-factor-state')).toContainText('On.');
  await tess.context().close();

  // The admin sees it on, resets it (a lost phone), and finds both in the log.
  const admin = await signInAs(browser, 'admin@company.com', '/users');
  await expect(admin.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const row = admin.getByTestId('user-row').filter({ hasText: email });
  await expect(row.getByTestId('user-two-factor')).toHaveText('On');
  await row.getByTestId('reset-two-factor').click();
  await expect(admin.getByTestId('user-ask')).toContainText('lost their phone');
  await admin.getByTestId('confirm-user-change').click();
  await expect(row.getByTestId('user-two-factor')).toHaveText('Off');
  await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit Log' }).click();
  await expect(admin.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await admin.getByTestId('action-picker').click();
  await admin.getByTestId('action-search').pressSequentially('2fa.', { delay: 60 });
  for (const action of ['2fa.enrolled', '2fa.reset']) {
    await admin.locator('details[open]').getByText(action, { exact: true }).click();
  }
  await admin.keyboard.press('Escape');
  await admin.getByRole('searchbox', { name: 'Search the audit log' }).pressSequentially(email, { delay: 30 });
  await expect(rows(admin)).toHaveCount(2);
  await expect(rows(admin).nth(0)).toContainText('2fa.reset');
  await expect(rows(admin).nth(1)).toContainText('2fa.enrolled');
  await admin.context().close();
});
