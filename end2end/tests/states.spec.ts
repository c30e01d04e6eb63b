import { expect, test, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { ready, rows } from './session';

// Every state an analyst opens (issue 24): the volume chart, Top values (and while they are
// counted again), each picker (the action picker's counts under the other filters), the
// calendar, saved searches, the badge's explanation, an exclusion chip, a value no entry ever
// had, the shortcuts. At 768, 1024, 1280 and 1440 px, light and dark: axe-core finds no
// violation, nothing scrolls sideways, and a screenshot of each is kept in test-results/ to be
// looked at.

/** axe-core on the page as it is: no violations, any impact. */
async function accessible(page: Page, what: string) {
  const result = await new AxeBuilder({ page }).analyze();
  const found = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(' | ')}`,
  );
  expect(found, what).toEqual([]);
  const sideways = await page.evaluate(() => document.scrollingElement!.scrollWidth - document.scrollingElement!.clientWidth);
  expect(sideways, `${what}: sideways scroll`).toBe(0);
}

/** Opens `path` already signed in, and waits until the console is hydrated. */
async function visit(page: Page, path: string) {
  await page.goto(path);
  await expect(page.getByRole('heading', { name: 'Audit Log' })).toBeVisible();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/** Closes whatever picker or menu is open, as a person does. */
async function close(page: Page) {
  await page.keyboard.press('Escape');
  await expect(page.locator('details[open]')).toHaveCount(0);
}

for (const scheme of ['light', 'dark'] as const) {
  test(`every investigation state passes axe-core at 768 to 1440 px (${scheme})`, async ({ page }) => {
    test.setTimeout(240_000);
    await page.emulateMedia({ colorScheme: scheme });
    await ready(page);
    for (const width of [768, 1024, 1280, 1440]) {
      await page.setViewportSize({ width, height: 900 });
      const shot = async (name: string) =>
        page.screenshot({ path: `test-results/state-${name}-${width}-${scheme}.png` });
      const check = async (name: string) => {
        await accessible(page, `${name} at ${width} px, ${scheme}`);
        await shot(name);
      };

      await visit(page, '/audit?range=90d&not_action=user.login');
      await expect(rows(page).first()).toBeVisible();
      await expect(page.getByTestId('volume-chart')).toBeVisible();
      // The chart with a bar read out under the pointer, and the exclusion chip (≠).
      await expect(page.locator('[data-testid="volume-chart"] g.bar').first()).toBeAttached();
      const area = page.locator('.volume-area');
      const box = (await area.boundingBox())!;
      // Moved across the middle, as a pointer does, until the bar under it is read out.
      await expect(async () => {
        await page.mouse.move(box.x + box.width / 2 - 8, box.y + box.height / 2);
        await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 4 });
        await expect(page.getByTestId('volume-readout')).toContainText(/succeeded/, { timeout: 1000 });
      }).toPass();
      await check('chart-exclusion');

      await page.getByTestId('top-values-toggle').click();
      await expect(page.getByTestId('top-values').locator('[data-testid=top-count]').first()).toBeVisible();
      await check('top-values');
      // Counted again (Refresh), the answer held on its way: the earlier lists hidden, a line says so.
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      await page.route(/\/api\/top_values_under/, async (route) => {
        await released;
        await route.continue();
      });
      await page.getByTestId('refresh').click();
      await expect(page.getByTestId('top-values-pending')).toBeVisible();
      await check('top-values-counting');
      release();
      await expect(page.getByTestId('top-values-pending')).toHaveCount(0);
      await page.unroute(/\/api\/top_values_under/);
      await page.getByTestId('top-values-toggle').click();

      await page.getByTestId('user-picker').click();
      await expect(page.getByTestId('user-picker-more')).toBeVisible();
      await check('user-picker');
      await close(page);

      await page.getByTestId('action-picker').click();
      await expect(page.getByTestId('action-search')).toBeVisible();
      await check('action-picker');
      await close(page);

      await page.getByTestId('time-picker').click();
      await expect(page.getByTestId('calendar-start')).toBeVisible();
      await check('calendar');
      await close(page);

      await page.getByTestId('saved-searches').click();
      await expect(page.getByTestId('saved-search-name')).toBeVisible();
      await check('saved-searches');
      await close(page);

      await page.getByText('What does this mean?').click();
      await expect(page.getByTestId('integrity-explained')).toBeVisible();
      await check('integrity-explained');
      await page.getByText('What does this mean?').click();

      await page.locator('h1').click();
      await page.keyboard.press('?');
      await expect(page.getByTestId('shortcuts')).toBeVisible();
      await check('shortcuts');
      await page.keyboard.press('Escape');

      await visit(page, '/audit?action=nope.nope');
      await expect(page.getByTestId('never-recorded')).toBeVisible();
      await check('never-recorded');
    }
  });
}
