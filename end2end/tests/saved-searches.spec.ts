import { expect, test, type Browser, type Page } from '@playwright/test';
import { ingest, password, ready, rows, unique } from './session';

// Saved searches (issue 24, item 9): a reader saves the filter on screen under a name, privately
// or shared with every reader; `?view=<id>` opens it; another reader sees the shared one and not
// the private one, and cannot delete it.

async function signInAs(browser: Browser, email: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto('/audit');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Audit Log' })).toBeVisible();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  return page;
}

async function save(page: Page, name: string, shared: boolean) {
  await page.getByTestId('saved-searches').click();
  const input = page.getByTestId('saved-search-name');
  await input.pressSequentially(name, { delay: 40 });
  if (shared) await page.getByLabel('Share with every reader').check();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page).toHaveURL(/view=[0-9a-f-]{36}/);
  await expect(page.getByTestId('saved-searches')).toHaveText(`Saved search: ${name}`);
}

test('saved searches: private and shared, opened by link, deleted only by their owner', async ({ page, browser, request }) => {
  test.setTimeout(120_000);
  const marker = unique('saved');
  await ingest(request, [
    { action: 'saved.one', actor: { id: `${marker}-a`, type: 'user' }, status: 'failure' },
    { action: 'saved.two', actor: { id: `${marker}-a`, type: 'user' }, status: 'success' },
  ]);
  await ready(page, `/audit?q=${marker}&status=failure`);
  await expect(rows(page)).toHaveCount(1);
  await save(page, `${marker} failures (shared)`, true);
  const sharedUrl = new URL(page.url());
  const sharedId = sharedUrl.searchParams.get('view')!;

  await page.goto(`/audit?q=${marker}`);
  await save(page, `${marker} everything (private)`, false);
  const privateId = new URL(page.url()).searchParams.get('view')!;
  // A name taken says so and changes nothing.
  await page.getByTestId('saved-searches').click();
  await page.getByTestId('saved-search-name').fill(`${marker} everything (private)`);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('You already have a saved search with this name');

  // The link alone opens the search: its filter replaces the URL's.
  await page.goto(`/audit?view=${sharedId}`);
  await expect(page).toHaveURL(new RegExp(`status=failure`));
  await expect(page).toHaveURL(new RegExp(`view=${sharedId}`));
  await expect(rows(page)).toHaveCount(1);
  // Changing the filter leaves the saved search.
  await page.getByRole('button', { name: 'Remove filter Status: Failure' }).click();
  await expect(page).not.toHaveURL(/view=/);
  await expect(rows(page)).toHaveCount(2);

  // Another reader: the shared one, not the private one; no Delete on it.
  const other = await signInAs(browser, 'auditor@company.com');
  await other.getByTestId('saved-searches').click();
  const panel = other.locator('.saved-panel');
  await expect(panel.getByRole('link', { name: `${marker} failures (shared)` })).toBeVisible();
  await expect(panel.getByText('shared by Avery Admin')).toBeVisible();
  await expect(panel.getByRole('link', { name: `${marker} everything (private)` })).toHaveCount(0);
  await expect(panel.getByRole('button', { name: `Delete saved search ${marker} failures (shared)` })).toHaveCount(0);
  await panel.getByRole('link', { name: `${marker} failures (shared)` }).click();
  await expect(other).toHaveURL(/status=failure/);
  await expect(rows(other)).toHaveCount(1);
  // The private one, asked by its id, is refused.
  await other.goto(`/audit?view=${privateId}`);
  await expect(other.getByTestId('saved-search-problem')).toContainText('not shared with you');

  // The owner deletes the shared one: gone for the other reader too.
  await page.getByTestId('saved-searches').click();
  await page.getByRole('button', { name: `Delete saved search ${marker} failures (shared)` }).click();
  await expect(page.locator('.saved-panel').getByRole('link', { name: `${marker} failures (shared)` })).toHaveCount(0);
  await other.goto(`/audit?view=${sharedId}`);
  await expect(other.getByTestId('saved-search-problem')).toContainText('This saved search no longer exists');
  await other.context().close();
});
