import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { password, ready, rows, unique } from './session';

/** Opens `path` (not the audit log), signs in as the admin, and waits for it to hydrate. */
async function readyAt(page: Page, path: string) {
  await page.goto(path);
  await page.getByLabel('Email').fill('admin@company.com');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(new RegExp(`${path.replace('?', '\\?')}$`));
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

// The navigation and the API keys page (issue 25, items 1, 3 and 7): an admin creates a key,
// rotates it and revokes it through the page, each secret shown once and working (or refused)
// against the API, and finds each change in the audit log through the action picker. Other
// roles see no item and are refused the page.

async function signInAs(browser: Browser, email: string, path = '/audit'): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(path);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  return page;
}

/** axe-core on the page as it is: no violations; nothing scrolls sideways. */
async function accessible(page: Page, what: string) {
  const result = await new AxeBuilder({ page }).analyze();
  const found = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(' | ')}`,
  );
  expect(found, what).toEqual([]);
  const sideways = await page.evaluate(() => document.scrollingElement!.scrollWidth - document.scrollingElement!.clientWidth);
  expect(sideways, `${what}: sideways scroll`).toBe(0);
}

test('the sidebar shows each role its pages, marks the current one, and folds at 768 px', async ({ page, browser }) => {
  await ready(page, '/audit');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link')).toHaveText(['Audit Log', 'Exports', 'Alerts', 'Users', 'API keys', 'Settings', 'Account']);
  await expect(nav.getByRole('link', { name: 'Audit Log' })).toHaveAttribute('aria-current', 'page');
  await expect(page.getByTestId('nav-user')).toContainText('Avery Admin');
  await nav.getByRole('link', { name: 'API keys' }).click();
  await expect(page).toHaveURL(/\/keys$/);
  await expect(page.getByRole('heading', { name: 'API keys', level: 1 })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'API keys' })).toHaveAttribute('aria-current', 'page');
  await expect(nav.getByRole('link', { name: 'Audit Log' })).not.toHaveAttribute('aria-current', 'page');

  // Collapsed by the menu button, and back.
  const menu = page.getByTestId('menu-button');
  await expect(menu).toHaveAttribute('aria-expanded', 'true');
  await menu.click();
  await expect(nav).toBeHidden();
  await expect(menu).toHaveAttribute('aria-expanded', 'false');
  await menu.click();
  await expect(nav).toBeVisible();

  // At 768 px it is folded away; the menu button opens it, by keyboard too.
  await page.setViewportSize({ width: 768, height: 900 });
  await page.goto('/audit');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(nav).toBeHidden();
  await expect(menu).toHaveAttribute('aria-expanded', 'false');
  await menu.focus();
  await page.keyboard.press('Enter');
  await expect(nav).toBeVisible();
  await expect(menu).toHaveAttribute('aria-expanded', 'true');
  await page.keyboard.press('Tab'); // the site's name
  await page.keyboard.press('Tab');
  await expect(nav.getByRole('link', { name: 'Audit Log' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(nav.getByRole('link', { name: 'Exports' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(nav.getByRole('link', { name: 'Alerts' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(nav.getByRole('link', { name: 'Users' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(nav.getByRole('link', { name: 'API keys' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/keys$/);
  await page.screenshot({ path: 'test-results/keys-768-nav.png' });

  // A compliance officer has no API keys item, and the page refuses them (the server too).
  const auditor = await signInAs(browser, 'auditor@company.com');
  const theirs = auditor.getByRole('navigation', { name: 'Main' });
  await expect(theirs.getByRole('link')).toHaveText(['Audit Log', 'Exports', 'Alerts', 'Users', 'Account']);
  await auditor.goto('/keys');
  await expect(auditor.getByText('Only admins can see and change this')).toBeVisible();
  await expect(auditor.getByTestId('key-table')).toHaveCount(0);
  await auditor.context().close();
});

test('an admin creates, rotates and revokes a key; each secret works once shown, and the log has each change', async ({ page, request }) => {
  test.setTimeout(120_000);
  const name = unique('Billing');
  await ready(page, '/audit');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
  await expect(page.getByRole('heading', { name: 'API keys', level: 1 })).toBeVisible();

  // New key: a name typed as people type, read only, expiring in 30 days.
  await page.getByTestId('new-key').click();
  const form = page.getByTestId('new-key-form');
  await expect(page.getByTestId('key-name')).toBeFocused();
  // Nothing to do: refused in words, nothing made.
  await page.getByTestId('scope-ingest').uncheck();
  await page.getByTestId('create-key').click();
  await expect(page.getByTestId('key-error')).toContainText('Give the key a name');
  await page.getByTestId('key-name').pressSequentially(name, { delay: 40 });
  await page.getByTestId('create-key').click();
  await expect(page.getByTestId('key-error')).toContainText('Choose what the key may do');
  await page.getByTestId('scope-read').check();
  await page.getByTestId('key-expiry').selectOption({ label: 'In 30 days' });
  await page.getByTestId('create-key').click();
  await expect(form).toHaveCount(0);
  const shown = page.getByTestId('secret-once');
  await expect(shown).toContainText(name);
  const first = (await page.getByTestId('secret').innerText()).trim();
  expect(first).toMatch(/^tk_[0-9a-f]{64}$/);
  const reads = async (secret: string) =>
    (await request.get('/api/v1/events?limit=1', { headers: { Authorization: `Bearer ${secret}` } })).status();
  expect(await reads(first)).toBe(200);
  const row = page.getByTestId('key-row').filter({ hasText: name });
  await expect(row).toHaveAttribute('data-status', 'Active');
  await expect(row).toContainText('read');
  await expect(row).toContainText('admin@company.com');
  await expect(row).toContainText(first.slice(0, 11));
  await page.screenshot({ path: 'test-results/keys-created.png' });
  await page.getByTestId('secret-done').click();
  await expect(shown).toHaveCount(0);
  await expect(page.getByText(first)).toHaveCount(0);

  // Rotate with a grace of one hour: both secrets are accepted meanwhile.
  await row.getByTestId('rotate-key').click();
  await page.getByTestId('rotate-grace').selectOption({ label: '1 hour' });
  await page.getByTestId('confirm-rotate').click();
  await expect(shown).toBeVisible();
  const second = (await page.getByTestId('secret').innerText()).trim();
  expect(second).not.toBe(first);
  expect(await reads(second)).toBe(200);
  expect(await reads(first)).toBe(200);
  await expect(row).toHaveAttribute('data-status', 'Rotating');
  await expect(row.getByTestId('key-previous')).toContainText(first.slice(0, 11));
  await page.getByTestId('secret-done').click();

  // Revoke: both refused at once; the row leaves the default list and stays under "all".
  await row.getByTestId('revoke-key').click();
  await expect(page.getByTestId('revoke-ask')).toContainText('refused at once');
  await page.getByTestId('confirm-revoke').click();
  await expect(row).toHaveCount(0);
  await expect(page.getByTestId('keys-hidden')).toContainText(/revoked or expired keys? (is|are) not shown/);
  expect(await reads(second)).toBe(401);
  expect(await reads(first)).toBe(401);
  await page.getByTestId('keys-show').click();
  await expect(page).toHaveURL(/\/keys\?show=all$/);
  await expect(row).toHaveAttribute('data-status', 'Revoked');
  await expect(row.getByTestId('revoke-key')).toHaveCount(0);

  // Each change is in the log, found through the action picker and a search for the name.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit Log' }).click();
  await expect(page.getByRole('heading', { name: 'Audit Log' })).toBeVisible();
  await page.getByTestId('action-picker').click();
  await page.getByTestId('action-search').pressSequentially('key', { delay: 60 });
  await page.getByTestId('category-key').click();
  await expect(page).toHaveURL(/action=key\.\*/);
  await page.keyboard.press('Escape');
  await page.getByRole('searchbox', { name: 'Search the audit log' }).pressSequentially(name, { delay: 40 });
  await expect(rows(page)).toHaveCount(3);
  await expect(rows(page).nth(0)).toContainText('key.revoked');
  await expect(rows(page).nth(1)).toContainText('key.rotated');
  await expect(rows(page).nth(2)).toContainText('key.created');
  // The rotation's entry shows the before and after of the prefix, never a secret.
  await rows(page).nth(1).click();
  const detail = page.getByTestId('entry-detail');
  await expect(detail).toContainText(first.slice(0, 11));
  await expect(detail).toContainText(second.slice(0, 11));
  await expect(detail).not.toContainText(first);
  await expect(detail).not.toContainText(second);
  await page.screenshot({ path: 'test-results/keys-in-the-log.png' });
});

for (const scheme of ['light', 'dark'] as const) {
  test(`the API keys page passes axe-core at 1280 and 768 px (${scheme})`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    await readyAt(page, '/keys');
    await expect(page.getByTestId('key-table')).toBeVisible();
    for (const width of [1280, 768]) {
      await page.setViewportSize({ width, height: 900 });
      await accessible(page, `keys at ${width} px, ${scheme}`);
      await page.screenshot({ path: `test-results/keys-${width}-${scheme}.png` });
      await page.getByTestId('new-key').click();
      await expect(page.getByTestId('new-key-form')).toBeVisible();
      await accessible(page, `the new-key form at ${width} px, ${scheme}`);
      await page.getByTestId('key-row').first().getByTestId('revoke-key').click();
      await expect(page.getByTestId('revoke-ask')).toBeVisible();
      await accessible(page, `the revoke question at ${width} px, ${scheme}`);
      await page.screenshot({ path: `test-results/keys-asking-${width}-${scheme}.png` });
      await page.getByRole('button', { name: 'Cancel' }).first().click();
      await page.getByRole('button', { name: 'Cancel' }).first().click();
      await expect(page.getByTestId('new-key-form')).toHaveCount(0);
      await expect(page.getByTestId('revoke-ask')).toHaveCount(0);
    }
  });
}
