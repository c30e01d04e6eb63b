import AxeBuilder from '@axe-core/playwright';
import { expect, type APIRequestContext, type Browser, type Page } from '@playwright/test';

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

/** A name no other test (or run) uses: a spec's own data carries it, and its filters name it. */
export function unique(prefix: string): string {
  return `${prefix}_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Ingests `events` with the run's key; the entries as recorded. */
export async function ingest(request: APIRequestContext, events: object | object[]) {
  const response = await request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${ingestKey}` },
    data: events,
  });
  expect(response.status()).toBe(201);
  return (await response.json()).entries as { id: string; seq: number }[];
}

/** The rows' count once at least one is shown: a check of every row proves nothing on none. */
export async function someRows(page: Page): Promise<number> {
  await expect(rows(page).first()).toBeVisible();
  return rows(page).count();
}

/** Signs `who` in (the demo password) in a browser context of their own, from `path`. */
export async function signInAs(browser: Browser, who: string, path: string, userAgent?: string): Promise<Page> {
  const page = await (await browser.newContext(userAgent ? { userAgent } : {})).newPage();
  await page.goto(path);
  await page.getByLabel('Email').fill(who);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return page;
}

/** axe-core in light and dark: no violations; nothing scrolls sideways. */
export async function accessible(page: Page, what: string) {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const result = await new AxeBuilder({ page }).analyze();
    const found = result.violations.map(
      (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(' | ')}`,
    );
    expect(found, `${what}, ${scheme}`).toEqual([]);
    const sideways = await page.evaluate(
      () => document.scrollingElement!.scrollWidth - document.scrollingElement!.clientWidth,
    );
    expect(sideways, `${what}, ${scheme}: sideways scroll`).toBe(0);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}
