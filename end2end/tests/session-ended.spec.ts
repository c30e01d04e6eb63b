import { expect, test, type Page } from '@playwright/test';
import { accessible, ready } from './session';

// An ended session (issue 24, D1 and D2): signed out in a second tab, every place that notices
// it — a read, the live stream, the export — says "Your session ended — sign in again" with a
// way back to the same page and filter; nothing retries for ever, nothing shows raw JSON. And
// Back after Sign out shows the sign-in page, not the log.

/** Signs the shared session out from a second tab of the same browser. */
async function signOutElsewhere(page: Page) {
  const other = await page.context().newPage();
  await other.goto('/audit');
  await other.getByRole('button', { name: 'Sign out' }).click();
  await expect(other).toHaveURL(/\/login/);
  await other.close();
}

async function expectNotice(page: Page, path: RegExp) {
  const notice = page.getByTestId('session-ended');
  await expect(notice).toBeVisible({ timeout: 30_000 });
  await expect(notice).toContainText('Your session ended — sign in again');
  const link = page.getByTestId('sign-in-again');
  await expect(link).toBeFocused();
  await expect(link).toHaveAttribute('href', path);
  await expect(page.getByText('Cannot reach the server')).toHaveCount(0);
}

test('a read after the session ended says so, and signing in again comes back to the filter', async ({ page }) => {
  await ready(page, '/audit?status=failure');
  await signOutElsewhere(page);
  await page.getByTestId('refresh').click();
  await expectNotice(page, /^\/login\?next=\/audit%3Fstatus%3Dfailure/);
  await accessible(page, 'the session-ended notice');
  // The integrity badge does not turn red for it.
  await expect(page.getByTestId('integrity-badge')).not.toHaveAttribute('data-state', 'failed');
  await page.getByTestId('sign-in-again').click();
  await page.getByLabel('Email').fill('admin@company.com');
  await page.getByLabel('Password').fill(process.env.TRAILKEEP_DEMO_PASSWORD ?? 'trailkeep-demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/audit\?status=failure/);
  await expect(page.getByTestId('session-ended')).toHaveCount(0);
});

test('live mode stops when the session ends, and says why', async ({ page }) => {
  test.setTimeout(90_000);
  await ready(page, '/audit');
  await page.getByTestId('live-toggle').click();
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'live');
  await signOutElsewhere(page);
  await expectNotice(page, /^\/login\?next=\/audit/);
  // The socket is refused at its next heartbeat (every 15 s); then the stream stops and says why.
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'signedout', { timeout: 30_000 });
});

test('the export after the session ended never shows the API refusal', async ({ page }) => {
  await ready(page, '/audit?action=user.login_failed');
  await signOutElsewhere(page);
  await page.getByTestId('export').click();
  await expectNotice(page, /^\/login\?next=\/audit%3Faction%3Duser\.login_failed/);
  await expect(page.locator('body')).not.toContainText('sign in, or send an API key');
  await expect(page).toHaveURL(/\/audit\?action=user\.login_failed/);
});

test('Back after Sign out shows the sign-in page, not the log', async ({ page }) => {
  await ready(page, '/audit');
  await expect(page.locator('table.entry-table')).toBeVisible();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goBack();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.locator('table.entry-table')).toHaveCount(0);
  await expect(page.getByLabel('Password')).toBeVisible();
});
