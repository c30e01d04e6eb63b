import { expect, test } from '@playwright/test';
import { ingestKey, ready } from './session';

// The user picker (issue 24, D6 and D8): every actor is reachable ("Showing 20 of N — type to
// search", then more), grouped (people, API keys, system, unknown sign-in names), and its
// counts honour the other filters on screen, equal to the API's counts.

test('every actor is reachable in the user picker, grouped', async ({ page }) => {
  await ready(page);
  await page.getByTestId('user-picker').click();
  const options = page.locator('details[open] .picker-options input[type=checkbox]');
  await expect(options.first()).toBeVisible();
  const more = page.getByTestId('user-picker-more');
  await expect(more).toContainText(/Showing 20 of \d+ — type to search/);
  const total = Number((await more.innerText()).match(/of ([\d,]+)/)![1].replace(/,/g, ''));
  expect(total).toBeGreaterThan(20);
  // Each "Show more" waits for its page before the next (a second click meanwhile is ignored).
  while (await more.count()) {
    const before = await options.count();
    await more.getByRole('button').click();
    await expect.poll(async () => (await more.count()) === 0 || (await options.count()) > before).toBe(true);
    if ((await options.count()) >= total) break;
  }
  await expect(options).toHaveCount(total);
  const groups = await page.locator('.picker-group-name').allTextContents();
  expect(groups[0]).toBe('People');
  expect(groups).toContain('API keys');
});

test('picker counts follow the other filters and equal the API counts', async ({ page, request }) => {
  await ready(page, '/audit?status=failure');
  await page.getByTestId('user-picker').click();
  await expect(page.getByTestId('user-counts-note')).toBeVisible();
  const first = page.locator('.picker-groups .picker-options li').first();
  await expect(first).toBeVisible();
  const who = (await first.locator('.option-sub').innerText()).replace(/^API key · /, '');
  const shown = Number((await first.locator('.option-count').innerText()).replace(/,/g, ''));
  const api = await request.get(`/api/v1/events/count?status=failure&user=${encodeURIComponent(who)}`, {
    headers: { Authorization: `Bearer ${ingestKey}` },
  });
  expect(api.status()).toBe(200);
  expect((await api.json()).count).toBe(shown);
  // Without the filter the note goes, and the same actor's count is every entry of it.
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: /Remove filter Status/ }).click();
  await page.getByTestId('user-picker').click();
  await expect(page.getByTestId('user-counts-note')).toHaveCount(0);
  await page.getByLabel('Search users by name, email or id').pressSequentially(who, { delay: 40 });
  const again = page.locator('.picker-groups .picker-options li', { hasText: who }).first();
  await expect(again).toBeVisible();
  const everything = await request.get(`/api/v1/events/count?user=${encodeURIComponent(who)}`, {
    headers: { Authorization: `Bearer ${ingestKey}` },
  });
  const all = (await everything.json()).count;
  expect(all).toBeGreaterThanOrEqual(shown);
  await expect(again.locator('.option-count')).toHaveText(all.toLocaleString('en-US'));
});

// D8's own example: with User = Grace, the Action picker counts Grace's entries, not the log's.
test('the action picker counts under the other filters, equal to the API counts', async ({ page, request }) => {
  test.setTimeout(90_000);
  await ready(page);
  const count = async (query: string) => {
    const r = await request.get(`/api/v1/events/count?${query}`, { headers: { Authorization: `Bearer ${ingestKey}` } });
    expect(r.status()).toBe(200);
    return (await r.json()).count as number;
  };
  // The user chosen through the user picker, typed with pauses.
  await page.getByTestId('user-picker').click();
  await page.getByLabel('Search users by name, email or id').pressSequentially('grace', { delay: 90 });
  await page.locator('.picker-options label', { hasText: 'Grace Hopper' }).locator('input').click();
  await expect(page).toHaveURL(/user=grace%40company\.com|user=grace@company\.com/);
  await page.keyboard.press('Escape');

  await page.getByTestId('action-picker').click();
  await expect(page.getByTestId('action-counts-note')).toBeVisible();
  const listed = page.locator('details[open] .action-group .picker-options li');
  await expect(listed.first()).toBeVisible();
  const shownCounts = async (): Promise<Record<string, number>> =>
    Object.fromEntries(
      await listed.evaluateAll((ls) =>
        ls.map((l) => [l.querySelector('code')!.textContent!, Number(l.querySelector('.option-count')!.textContent!.replace(/,/g, ''))]),
      ),
    );
  // Every action listed, against the API's count for Grace and it; some have none of hers.
  const hers = await shownCounts();
  expect(Object.keys(hers).length).toBeGreaterThan(5);
  for (const [action, shown] of Object.entries(hers)) {
    expect(shown, action).toBe(await count(`user=grace%40company.com&action=${encodeURIComponent(action)}`));
  }
  expect(Object.values(hers).filter((n) => n === 0).length).toBeGreaterThan(0);
  expect(hers['user.login']).toBeLessThan(await count('action=user.login'));

  // Without the user, the note goes and each count is every entry of the action.
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: /Remove filter User/ }).click();
  await expect(page).not.toHaveURL(/user=/);
  await page.getByTestId('action-picker').click();
  await expect(page.getByTestId('action-counts-note')).toHaveCount(0);
  const everyone = await count('action=config.deployed');
  await expect.poll(async () => (await shownCounts())['config.deployed']).toBe(everyone);
});

test('the action picker narrows as you type and takes a typed pattern', async ({ page }) => {
  await ready(page);
  await page.getByTestId('action-picker').click();
  const search = page.getByTestId('action-search');
  await expect(search).toBeVisible();
  const visibleActions = page.locator('details[open] .action-group:not(.hidden) .picker-options li:not(.hidden) code');
  await expect(visibleActions.first()).toBeVisible();
  const before = await visibleActions.count();
  await search.pressSequentially('login', { delay: 80 });
  await expect.poll(() => visibleActions.count()).toBeLessThan(before);
  for (const a of await visibleActions.allTextContents()) expect(a).toContain('login');
  // A pattern typed and Enter: the filter holds it.
  await search.fill('');
  await search.pressSequentially('config.*', { delay: 80 });
  await expect(page.getByTestId('add-action-pattern')).toHaveText('Add action filter: config.*');
  await search.press('Enter');
  await expect(page).toHaveURL(/action=config\.\*/);
  // An action the log has not seen yet is taken too; the empty result names it.
  await search.pressSequentially('billing.never_seen', { delay: 60 });
  await search.press('Enter');
  await expect(page).toHaveURL(/action=billing\.never_seen/);
});

test('calendar periods set whole days in the zone shown', async ({ page }) => {
  await ready(page, '/audit');
  await page.getByTestId('time-picker').click();
  await page.getByTestId('preset-last-month').click();
  const now = new Date();
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  const last = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 0));
  const day = (d: Date) => d.toISOString().slice(0, 10);
  await expect(page).toHaveURL(new RegExp(`from=${day(first)}&.*to=${day(last)}`));
  await expect(page.getByTestId('time-picker')).toContainText(`${day(first)} → ${day(last)}`);
  // The calendar beside a custom bound fills it.
  await page.getByTestId('time-picker').click();
  await page.getByTestId('calendar-start').fill('2026-01-05');
  await expect(page.getByTestId('range-start')).toHaveValue('2026-01-05');
});
