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
  while (await more.count()) {
    await more.getByRole('button').click();
    await expect.poll(async () => (await more.count()) === 0 || (await options.count()) > 20).toBe(true);
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
  // Without the filter the same actor counts more (or as many).
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: /Remove filter Status/ }).click();
  await page.getByTestId('user-picker').click();
  await expect(page.getByTestId('user-counts-note')).toHaveCount(0);
});
