import { expect, test, type Browser, type Page } from '@playwright/test';
import { accessible, ready, rows, signIn, someRows } from './session';

// The audit log console: filters, chips, search, shareable URLs, detail panel, keyboard,
// virtualization and time zones, against the seeded demo log (3,000 entries + the suite's own).

/** A filter as sorted `key=value` pairs, for comparing canonical and hand-written forms. */
function pairs(search: string): string {
  const q = new URLSearchParams(search);
  q.delete('entry');
  q.delete('live');
  return [...q.entries()].map(([k, v]) => `${k}=${v}`).sort().join('&');
}

/** Waits until the table shows the URL's filter (the previous rows stay while the next load). */
async function settled(page: Page) {
  const want = pairs(new URL(page.url()).search);
  await expect
    .poll(async () => pairs((await page.locator('[data-shown-filter]').first().getAttribute('data-shown-filter')) ?? ''))
    .toBe(want);
}

/** The text of one column for the rows in the DOM: at least one row, since the callers check
 * every row and a check of every row passes on none. */
async function column(page: Page, index: number): Promise<string[]> {
  await someRows(page);
  return rows(page).locator(`td:nth-child(${index})`).allInnerTexts();
}

function query(page: Page): URLSearchParams {
  return new URL(page.url()).searchParams;
}

test('the action picker filters by a whole category and by single actions, as chips', async ({ page }) => {
  await ready(page);
  await page.getByTestId('action-picker').click();
  await page.getByTestId('category-config').check();
  await expect(page).toHaveURL(/action=config\.\*/);
  await expect(page.getByText('Action: config.*')).toBeVisible();
  await settled(page);
  for (const action of await column(page, 3)) expect(action).toMatch(/^config\./);
  // Unticking one action keeps its siblings one by one.
  await page.locator('.action-panel label', { hasText: 'config.deployed' }).locator('input').uncheck();
  await expect(page).not.toHaveURL(/config\.\*/);
  await expect(page).toHaveURL(/action=config\.created/);
  await settled(page);
  for (const action of await column(page, 3)) expect(['config.created', 'config.updated', 'config.deleted']).toContain(action);
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: 'Clear all' }).click();
  await expect(page).toHaveURL(/\/audit$/);
});

test('the user picker searches as you type and allows several users', async ({ page }) => {
  await ready(page);
  await page.getByTestId('user-picker').click();
  await page.getByLabel('Search users by name, email or id').fill('grace');
  const grace = page.locator('.picker-options label', { hasText: 'Grace Hopper' });
  await expect(grace).toBeVisible();
  await grace.locator('input').click();
  await expect(page).toHaveURL(/user=grace@company\.com/);
  await page.getByLabel('Search users by name, email or id').fill('ada');
  await page.locator('.picker-options label', { hasText: 'Ada Lovelace' }).locator('input').click();
  await expect(page).toHaveURL(/user=ada@company\.com.*user=grace@company\.com/);
  // Chips name the person and their email.
  await expect(page.locator('.chip', { hasText: 'User: Ada Lovelace <ada@company.com>' })).toBeVisible();
  await settled(page);
  // Failed sign-ins name the actor by email only.
  const chosen = ['Ada Lovelace', 'Grace Hopper', 'ada@company.com', 'grace@company.com'];
  for (const user of await column(page, 2)) expect(chosen).toContain(user.trim());
  // Escape closes the picker; removing a chip updates the results at once.
  await page.keyboard.press('Escape');
  await expect(page.getByLabel('Search users by name, email or id')).toBeHidden();
  await page.getByRole('button', { name: 'Remove filter User: Ada Lovelace <ada@company.com>' }).click();
  await expect(page).not.toHaveURL(/ada@/);
  await settled(page);
  for (const user of await column(page, 2)) expect(['Grace Hopper', 'grace@company.com']).toContain(user.trim());
});

test('date presets, a custom range, status and resource filters', async ({ page }) => {
  await ready(page);
  await page.getByTestId('time-picker').click();
  await page.getByRole('button', { name: 'Last 24 hours' }).click();
  await expect(page).toHaveURL(/range=24h/);
  await expect(page.locator('.chip', { hasText: 'Last 24 hours' })).toBeVisible();
  // A preset closes the dropdown; the button says the range.
  await expect(page.getByTestId('range-start')).toBeHidden();
  await expect(page.getByTestId('time-picker')).toHaveText(/Last 24 hours/);

  await page.getByTestId('time-picker').click();
  await page.getByTestId('range-start').fill('2026-01-01T00:00');
  await page.getByTestId('range-end').fill('2099-01-01T00:00');
  await page.getByTestId('range-apply').click();
  // The end minute is included: the range ends before the next one.
  await expect(page).toHaveURL(/from=2026-01-01T00:00:00Z&to=2099-01-01T00:01:00Z/);
  await expect(page.locator('.chip', { hasText: '2026-01-01 00:00 UTC → 2099-01-01 00:00 UTC' })).toBeVisible();
  // The button says the range chosen; the dropdown closed when it was applied.
  await expect(page.getByTestId('time-picker')).toContainText('2026-01-01 00:00 UTC → 2099-01-01 00:00 UTC');

  await page.getByTestId('status-picker').selectOption('failure');
  await expect(page).toHaveURL(/status=failure/);
  await settled(page);
  const shown = await someRows(page);
  expect(await rows(page).locator('.status-success').count()).toBe(0);
  expect(await rows(page).locator('.status-failure').count()).toBe(shown);

  await page.getByTestId('resource-filter').fill('config:*');
  await page.getByTestId('resource-filter').press('Enter');
  await expect(page).toHaveURL(/resource=config:\*/);
  await settled(page);
  for (const resource of await column(page, 4)) expect(resource).toMatch(/^config /);
  await page.getByTestId('resource-filter').fill('bad:');
  await page.getByTestId('resource-filter').press('Enter');
  await expect(page.locator('.resource-filter .field-error')).toBeVisible();
});

test('search runs on Enter and while typing; no match shows the empty state', async ({ page }) => {
  await ready(page);
  await page.keyboard.press('/');
  await expect(page.getByLabel('Search the audit log')).toBeFocused();
  await page.keyboard.type('production');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/q=production/);
  await expect(page.getByTestId('result-count')).toHaveText(/^[\d,]+\+? entr/);
  await settled(page);
  // Typing alone also searches, after a pause.
  await page.getByLabel('Search the audit log').fill('zzz-no-such-text');
  await expect(page).toHaveURL(/q=zzz-no-such-text/);
  await expect(page.getByTestId('empty-state')).toContainText('No entries match these filters');
  await expect(page.getByTestId('result-count')).toHaveText('0 entries');
  await page.getByRole('button', { name: 'Clear all filters' }).click();
  await expect(page).toHaveURL(/\/audit$/);
  await settled(page);
});

async function seqs(page: Page): Promise<string[]> {
  await settled(page);
  await expect(rows(page).first()).toBeVisible();
  return rows(page).evaluateAll((trs) => trs.slice(0, 15).map((tr) => tr.getAttribute('data-seq') ?? ''));
}

test('a copied URL opens the same filters and rows in a fresh browser, rendered by the server', async ({ page, browser }) => {
  await ready(page, '/audit?action=config.*&status=success&order=asc');
  await expect(page.getByTestId('oldest-first')).toHaveAttribute('aria-pressed', 'true');
  await page.getByTestId('user-picker').click();
  await page.getByLabel('Search users by name, email or id').fill('linus');
  await page.locator('.picker-options label', { hasText: 'Linus Berg' }).locator('input').click();
  await expect(page).toHaveURL(/user=linus@company\.com/);
  const shared = page.url();
  const expected = await seqs(page);
  expect(expected.length).toBeGreaterThan(0);

  // A fresh context: sign in is required, then the link itself opens (next=).
  const fresh = await browser.newContext();
  const other = await fresh.newPage();
  await signIn(other, shared);
  expect(other.url()).toBe(shared);
  expect(await seqs(other)).toEqual(expected);
  await expect(other.locator('.chip', { hasText: 'linus@company.com' })).toBeVisible();
  await fresh.close();

  // Without JavaScript at all: the server renders the same rows.
  const noScript = await browser.newContext({ javaScriptEnabled: false });
  const plain = await noScript.newPage();
  await signIn(plain, shared);
  expect(await seqs(plain)).toEqual(expected);
  await noScript.close();
});

test('back and forward move through filter changes', async ({ page }) => {
  await ready(page);
  await page.getByTestId('status-picker').selectOption('failure');
  await expect(page).toHaveURL(/status=failure/);
  await page.getByTestId('oldest-first').click();
  await expect(page).toHaveURL(/order=asc&status=failure/);
  await page.goBack();
  await expect(page).toHaveURL(/\?status=failure$/);
  await expect(page.getByTestId('status-picker')).toHaveValue('failure');
  await page.goBack();
  await expect(page).toHaveURL(/\/audit$/);
  await page.goForward();
  await expect(page).toHaveURL(/\?status=failure$/);
  await settled(page);
  await someRows(page);
  expect(await rows(page).locator('.status-success').count()).toBe(0);
});

test('oldest first orders the table chronologically', async ({ page }) => {
  await ready(page);
  await page.getByTestId('oldest-first').click();
  await expect(page).toHaveURL(/order=asc/);
  // A sort, not a filter: the toggle shows it, no chip does, and Clear all keeps it.
  await expect(page.getByTestId('oldest-first')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('.chip', { hasText: 'Oldest first' })).toHaveCount(0);
  await settled(page);
  expect(await someRows(page)).toBeGreaterThan(1);
  const times = await rows(page).locator('time').evaluateAll((ts) => ts.slice(0, 20).map((t) => t.getAttribute('datetime') ?? ''));
  const sorted = [...times].sort((a, b) => Date.parse(a) - Date.parse(b));
  expect(times).toEqual(sorted);
  await page.getByTestId('status-picker').selectOption('failure');
  await expect(page).toHaveURL(/status=failure/);
  await page.getByRole('button', { name: 'Clear all' }).click();
  await expect(page).toHaveURL(/\/audit\?order=asc$/);
});

test('the detail panel shows every field and the diff; keyboard opens and closes it', async ({ page }) => {
  await ready(page, '/audit?action=config.updated');
  await settled(page);
  await page.getByTestId('entry-scroll').focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  const third = rows(page).nth(2);
  await expect(third).toHaveClass(/selected/);
  const seq = await third.getAttribute('data-seq');
  await page.keyboard.press('Enter');
  const panel = page.getByTestId('entry-detail');
  await expect(panel).toBeVisible();
  await expect(page).toHaveURL(/action=config\.updated&entry=[0-9a-f-]{36}/);
  await expect(panel.getByTestId('detail-seq')).toHaveText(seq ?? '');
  await expect(panel.getByText('Leaf hash')).toBeVisible();
  await expect(panel.locator('dd', { hasText: /^[0-9a-f]{64}$/ })).toHaveCount(1);
  const diff = panel.getByTestId('changes-diff');
  await expect(diff).toBeVisible();
  await expect(diff.locator('tbody tr')).toHaveCount(1);
  await expect(diff.locator('.diff-before')).not.toBeEmpty();
  await expect(diff.locator('.diff-after')).not.toBeEmpty();
  await expect(panel.locator('pre.raw-json')).toContainText('"leaf_hash"');
  await expect(panel.getByText('User agent')).toBeVisible();
  await page.screenshot({ path: 'test-results/detail-view.png' });

  // The link to the open entry is shareable.
  const shared = page.url();
  await page.keyboard.press('Escape');
  await expect(panel).toHaveCount(0);
  await expect(page).not.toHaveURL(/entry=/);
  await page.goto(shared);
  await expect(page.getByTestId('entry-detail').getByTestId('detail-seq')).toHaveText(seq ?? '');
  await page.getByTestId('close-detail').click();
  await expect(page.getByTestId('entry-detail')).toHaveCount(0);
});

test('the table is virtualized: scrolling loads every page while the DOM stays small', async ({ page }) => {
  await ready(page);
  // The count arrives after the first page (the browser asks for it).
  await expect(page.getByTestId('result-count')).toHaveText(/^[\d,]+ entr/);
  const count = await page.getByTestId('result-count').innerText();
  const total = Number(count.replace(/[^\d]/g, ''));
  expect(total).toBeGreaterThan(3000);
  const scroller = page.getByTestId('entry-scroll');
  let maxRows = 0;
  const status = page.locator('.table-status');
  const end = async () => (await status.innerText()).startsWith('End of results');
  for (let i = 0; i < 400 && !(await end()); i++) {
    const height = await scroller.evaluate((el) => el.scrollHeight);
    await scroller.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    // The next page has loaded (the table grew) or there is none: no fixed pause.
    await expect
      .poll(async () => (await end()) || (await scroller.evaluate((el) => el.scrollHeight)) > height)
      .toBe(true);
    maxRows = Math.max(maxRows, await page.locator('table.entry-table tr').count());
  }
  await expect(page.locator('.table-status')).toHaveText(/End of results · [\d,]+ loaded/);
  const loaded = Number((await page.locator('.table-status').innerText()).replace(/[^\d]/g, ''));
  expect(loaded).toBeGreaterThanOrEqual(total);
  expect(maxRows).toBeLessThanOrEqual(200);
  // The oldest entry (seq 0 is the genesis of the demo log) is at the very end.
  await expect(rows(page).last()).toBeVisible();
  // Back to the top: the newest rows are there again.
  await scroller.evaluate((el) => el.scrollTo(0, 0));
  await expect(rows(page).first()).toHaveAttribute('aria-rowindex', '2');
  expect(await page.locator('table.entry-table tr').count()).toBeLessThanOrEqual(200);
});

test('UTC and local time: the toggle writes tz= and the times follow it', async ({ browser }) => {
  const context = await browser.newContext({ timezoneId: 'Asia/Tokyo' });
  const page = await context.newPage();
  await ready(page);
  // The header names the zone; the cells do not repeat it.
  await expect(page.locator('thead')).toContainText('Timestamp (UTC)');
  const utc = await rows(page).first().locator('time').innerText();
  expect(utc).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  await page.getByTestId('tz-local').click();
  await expect(page).toHaveURL(/tz=Asia\/Tokyo/);
  await expect(page.locator('thead')).toContainText('Timestamp (Asia/Tokyo)');
  const iso = await rows(page).first().locator('time').getAttribute('datetime');
  const local = await rows(page).first().locator('time').innerText();
  expect(local).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  // Same instant, 9 h later on the wall clock.
  const wall = Date.parse(local.replace(' ', 'T') + 'Z');
  const second = Math.floor(Date.parse(iso ?? '') / 1000) * 1000;
  expect(wall - second).toBe(9 * 3600 * 1000);
  // The custom range reads its inputs in the same zone.
  await page.getByTestId('time-picker').click();
  await page.getByTestId('range-start').fill('2026-03-01T09:00');
  await page.getByTestId('range-apply').click();
  await expect(page).toHaveURL(/from=2026-03-01T00:00:00Z/);
  await page.getByTestId('tz-utc').click();
  await expect(page).not.toHaveURL(/tz=/);
  await expect(page.locator('thead')).toContainText('Timestamp (UTC)');
  await expect(rows(page).first().locator('time')).toHaveText(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  await context.close();
});

test('a custom range takes plain dates (whole days) and an end includes its last minute', async ({ page }) => {
  await ready(page);
  await page.getByTestId('time-picker').click();
  await page.getByTestId('range-start').pressSequentially('2026-01-01', { delay: 60 });
  await page.getByTestId('range-end').pressSequentially('2026-01-31', { delay: 60 });
  await page.getByTestId('range-apply').click();
  await expect(page).toHaveURL(/from=2026-01-01&to=2026-01-31/);
  await expect(page.locator('.chip', { hasText: '2026-01-01 → 2026-01-31' })).toBeVisible();
  // Opened again, the inputs show what was typed, not a shifted end.
  await page.getByTestId('time-picker').click();
  await expect(page.getByTestId('range-end')).toHaveValue('2026-01-31');
  await page.getByTestId('range-end').fill('2026-01-31 23:59');
  await page.getByTestId('range-apply').click();
  await expect(page).toHaveURL(/to=2026-02-01T00:00:00Z/);
  await expect(page.locator('.chip', { hasText: '2026-01-01 → 2026-01-31 23:59 UTC' })).toBeVisible();
});

test('a refused filter in the URL is explained, not a blank page', async ({ page }) => {
  await ready(page, '/audit?range=2w');
  await expect(page.getByTestId('filter-error')).toContainText('range');
  await page.getByRole('link', { name: 'Show all entries' }).click();
  await settled(page);
});

test('a link with one bad parameter keeps its valid ones, and the count never sticks', async ({ page }) => {
  await ready(page, '/audit?user=grace@company.com&range=2w&status=failure');
  const refused = page.getByTestId('filter-error');
  await expect(refused).toContainText('“range” cannot be used');
  await expect(refused).toContainText('must be one of 15m');
  await expect(page.getByTestId('result-count')).toHaveText('');
  await accessible(page, 'a link with a bad parameter');
  await page.getByTestId('filter-recovery').click();
  await expect(page).toHaveURL(/\/audit\?status=failure&user=grace@company\.com$/);
  await settled(page);
  await expect(page.locator('.chip', { hasText: 'Status: Failure' })).toBeVisible();
  await expect(page.getByTestId('result-count')).toHaveText(/^[\d,]+ entr(y|ies)$/);
});

test('screenshot of the console at 1280 and 768 pixels', async ({ page }) => {
  await ready(page, '/audit?range=90d');
  await settled(page);
  await page.screenshot({ path: 'test-results/console-1280.png' });
  await page.setViewportSize({ width: 768, height: 900 });
  await page.screenshot({ path: 'test-results/console-768.png' });
});
