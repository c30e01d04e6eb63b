import { expect, test, type Page } from '@playwright/test';
import { accessible } from './session';

const password = process.env.TRAILKEEP_DEMO_PASSWORD ?? 'trailkeep-demo';
const ingestKey = process.env.TRAILKEEP_E2E_KEY ?? '';

async function signIn(page: Page, email: string, pass = password) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(pass);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('a signed-out visitor is sent to the login page and comes back after signing in', async ({ page }) => {
  await page.goto('/audit');
  await expect(page).toHaveURL(/\/login\?next=%2Faudit/);
  await signIn(page, 'admin@company.com');
  await expect(page).toHaveURL(/\/audit$/);
  await expect(page.getByRole('heading', { name: 'Audit Log' })).toBeVisible();
  // The newest entries, rendered on the server: as many as fill the view, not the whole page.
  const rendered = await page.locator('table.entry-table tbody tr[data-seq]').count();
  expect(rendered).toBeGreaterThan(10);
  expect(rendered).toBeLessThanOrEqual(60);
  await expect(page.getByTestId('nav-user').locator('.user-name')).toHaveText('Avery Admin');
  await page.screenshot({ path: 'test-results/audit-page.png', fullPage: false });
});

test('the page hydrates: Refresh fetches an entry ingested after load', async ({ page, request }) => {
  // The page watches a resource of this test's own: the row it expects can only be its entry.
  const marker = `e2e_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  await page.goto(`/audit?resource=config:${marker}`);
  await signIn(page, 'admin@company.com');
  await expect(page).toHaveURL(new RegExp(`resource=config(:|%3A)${marker}`));
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('result-count')).toHaveText('0 entries');
  const response = await request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${ingestKey}` },
    data: {
      action: 'config.deployed',
      actor: { id: 'e2e-bot', name: marker, type: 'system' },
      resource: { type: 'config', id: marker },
      ip: '2001:db8::7',
      status: 'success',
    },
  });
  expect(response.status()).toBe(201);
  // The marker is on the page already (the filter's chip names it): the table holds no row yet.
  const rows = page.locator('table.entry-table tbody tr[data-seq]');
  await expect(rows).toHaveCount(0);
  await page.getByTestId('refresh').click();
  await expect(rows).toHaveCount(1);
  const first = rows.first();
  await expect(first).toContainText(marker);
  await expect(first).toContainText('config.deployed');
  await expect(first).toContainText('2001:db8::7');
});

test('a wrong password shows an error and is recorded as user.login_failed', async ({ page }) => {
  await page.goto('/login');
  await signIn(page, 'compliance@company.com', 'not-the-password');
  await expect(page.getByRole('alert')).toContainText('Wrong email or password');
  // The email stays as typed and the password to type again has the focus.
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByLabel('Email')).toHaveValue('compliance@company.com');
  await expect(page.getByLabel('Password')).toBeFocused();
  await signIn(page, 'compliance@company.com');
  await expect(page).toHaveURL(/\/audit$/);
  // Only this account's sign-ins (no other test signs in as compliance@), newest first.
  await page.goto('/audit?user=compliance@company.com&action=user.login&action=user.login_failed');
  const rows = page.locator('table.entry-table tbody tr[data-seq]');
  // Newest first: this sign-in, then the failed attempt before it.
  await expect(rows.nth(0).locator('code')).toHaveText('user.login');
  await expect(rows.nth(1).locator('code')).toHaveText('user.login_failed');
  await expect(rows.nth(1)).toContainText('Failed');
});

// The last attempts before a lockout say how long it lasts (the server adds the site's lockout
// minutes beside the refusal code: server/tests/accounts.rs); only a number is taken from the URL.
test('the warning before a lockout says how long the lock lasts', async ({ page }) => {
  await page.goto('/login?error=credentials-1&lock=15');
  await expect(page.getByRole('alert')).toHaveText(
    'Wrong email or password. 1 attempt left before this account is locked for 15 minutes.',
  );
  await accessible(page, 'the warning before a lockout');
  await page.goto('/login?error=credentials-0&lock=90');
  await expect(page.getByRole('alert')).toContainText('That was the last attempt: this account is locked for 1 hour 30 minutes.');
  await page.goto('/login?error=credentials-1&lock=%3Cb%3E15%3C%2Fb%3E');
  await expect(page.getByRole('alert')).toContainText('locked for a while.');
});

test('a member gets a clear no-access page', async ({ page }) => {
  await page.goto('/login');
  await signIn(page, 'member@company.com');
  await expect(page.getByRole('heading', { name: 'No access' })).toBeVisible();
  await expect(page.locator('table.entry-table')).toHaveCount(0);
});

test('signing out ends the session', async ({ page }) => {
  await page.goto('/login');
  await signIn(page, 'admin@company.com');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto('/audit');
  await expect(page).toHaveURL(/\/login\?next=/);
});
