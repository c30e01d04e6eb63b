import { expect, type Page } from '@playwright/test';

// Signing in as the demo admin, shared by the console specs.

export const password = process.env.TRAILKEEP_DEMO_PASSWORD ?? 'trailkeep-demo';
export const ingestKey = process.env.TRAILKEEP_E2E_KEY ?? '';

/** The table rows in the DOM. */
export const rows = (page: Page) => page.locator('table.entry-table tbody tr[data-seq]');

/** Opens `path`, signs in through the login form, and lands back on the audit log. */
export async function signIn(page: Page, path = '/audit') {
  await page.goto(path);
  await page.getByLabel('Email').fill('admin@company.com');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Audit Log' })).toBeVisible();
}

/** Signed in and hydrated: ready for clicks. */
export async function ready(page: Page, path = '/audit') {
  await signIn(page, path);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}
