import { expect, test } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { ready, rows } from './session';

// The console from 768 to 1440 px (issue 24, D5): nothing scrolls sideways, with or without the
// detail panel, and the panel never covers the toolbar (badge, Copy link, Refresh, Export).
// Screenshots of each width, light and dark, are kept in test-results/ to be looked at.

for (const width of [768, 1024, 1280, 1440]) {
  test(`no sideways scroll at ${width} px, with and without the detail panel`, async ({ page }) => {
    await page.setViewportSize({ width, height: 900 });
    await ready(page, '/audit?range=90d');
    await expect(rows(page).first()).toBeVisible();
    const sideways = () =>
      page.evaluate(() => {
        const doc = document.scrollingElement!;
        const table = document.querySelector('[data-testid=entry-scroll]') as HTMLElement;
        return {
          page: doc.scrollWidth - doc.clientWidth,
          table: table ? table.scrollWidth - table.clientWidth : 0,
        };
      });
    expect(await sideways()).toEqual({ page: 0, table: 0 });
    // The status reads whole: its word is not clipped by its cell.
    const clipped = await rows(page).first().locator('td.status-cell').evaluate((td) => {
      const word = td.querySelector('.status')!.getBoundingClientRect();
      const cell = td.getBoundingClientRect();
      return word.right > cell.right + 0.5 || td.scrollWidth > td.clientWidth;
    });
    expect(clipped, `status clipped at ${width} px`).toBe(false);
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: `test-results/layout-${width}-${scheme}.png` });
    }
    await rows(page).nth(2).click();
    await expect(page.getByTestId('entry-detail')).toBeVisible();
    // Measured as laid out: no cell's whole text spilling under the pointer or the keyboard.
    await page.mouse.move(0, 0);
    await page.locator('h1').click();
    expect(await sideways()).toEqual({ page: 0, table: 0 });
    // And the table cannot be scrolled sideways even while one does.
    expect(await page.getByTestId('entry-scroll').evaluate((el) => getComputedStyle(el).overflowX)).toBe('hidden');
    // The toolbar stays reachable: nothing covers its controls' centres.
    for (const id of ['integrity-badge', 'copy-link', 'refresh', 'export']) {
      const covered = await page.getByTestId(id).evaluate((el) => {
        const r = el.getBoundingClientRect();
        const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return !(top && (el === top || el.contains(top)));
      });
      expect(covered, `${id} covered at ${width} px`).toBe(false);
    }
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: `test-results/layout-${width}-${scheme}-detail.png` });
    }
    const axe = await new AxeBuilder({ page }).analyze();
    expect(axe.violations).toEqual([]);
  });
}
