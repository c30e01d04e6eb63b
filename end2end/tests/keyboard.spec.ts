import { expect, test, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { ready, rows, someRows } from './session';

// The console by keyboard alone (issue 24, D11): pickers open, move and tick with the keys and
// give the focus back to their button; the Export dialog takes the focus, keeps Tab inside and
// gives it back; the table moves by row, page and end; `?` lists the shortcuts.

async function focusedTestId(page: Page): Promise<string | null> {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);
}

test('the user picker by keyboard: open, search, ↓, Enter, Escape back to its button', async ({ page }) => {
  await ready(page);
  await page.getByTestId('user-picker').focus();
  await page.keyboard.press('Enter');
  const search = page.getByRole('searchbox', { name: 'Search users by name, email or id' });
  await expect(search).toBeFocused();
  await search.pressSequentially('grace', { delay: 70 });
  // The list has answered this search, not the one before it: every option matches it.
  const options = page.locator('.picker-groups .picker-options li');
  await expect
    .poll(async () => {
      const texts = await options.allTextContents();
      return texts.length > 0 && texts.every((t) => t.toLowerCase().includes('grace'));
    })
    .toBe(true);
  await page.keyboard.press('ArrowDown');
  await expect(page.locator('.picker-groups .picker-options input[type=checkbox]').first()).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/user=grace%40company\.com|user=grace@company\.com/);
  await page.keyboard.press('Escape');
  await expect(page.locator('details.picker[open]')).toHaveCount(0);
  await expect(page.getByTestId('user-picker')).toBeFocused();
});

// Reached with Tab from the search box, as a person without a mouse gets there.
test('the action picker by keyboard: Tab to it, open, search, ↓ to an action, Enter, Escape back', async ({ page }) => {
  await ready(page);
  await page.getByLabel('Search the audit log').click();
  for (let i = 0; i < 12 && (await focusedTestId(page)) !== 'action-picker'; i++) await page.keyboard.press('Tab');
  expect(await focusedTestId(page)).toBe('action-picker');
  await page.keyboard.press('Enter');
  const search = page.getByTestId('action-search');
  await expect(search).toBeVisible();
  await page.keyboard.press('ArrowDown');
  await expect(search).toBeFocused();
  await search.pressSequentially('login', { delay: 80 });
  // ↓ past the category's box to the first action left shown.
  const focusedAction = () =>
    page.evaluate(() => document.activeElement?.closest('li')?.querySelector('code')?.textContent ?? null);
  for (let i = 0; i < 6 && !(await focusedAction())?.includes('login'); i++) await page.keyboard.press('ArrowDown');
  const action = await focusedAction();
  expect(action).toContain('login');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`action=${action!.replace(/\./g, '\\.')}`));
  await page.keyboard.press('Escape');
  await expect(page.locator('details.picker[open]')).toHaveCount(0);
  await expect(page.getByTestId('action-picker')).toBeFocused();
  // The chip it made is removed by keyboard too: Tab reaches its ×, Enter removes it.
  const remove = page.getByRole('button', { name: new RegExp(`Remove filter Action: ${action!.replace(/\./g, '\\.')}`) });
  for (let i = 0; i < 25 && !(await remove.evaluate((b) => b === document.activeElement)); i++) await page.keyboard.press('Tab');
  await expect(remove).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page).not.toHaveURL(/action=/);
});

test('a date preset chosen by keyboard leaves the focus on the date button', async ({ page }) => {
  await ready(page);
  await page.getByTestId('time-picker').focus();
  await page.keyboard.press('Enter');
  // The panel's code arrives on first use: its presets are there before the keys move.
  await expect(page.getByRole('button', { name: 'Last 15 minutes' })).toBeVisible();
  await page.keyboard.press('ArrowDown');
  await expect(page.getByRole('button', { name: 'Last 15 minutes' })).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/range=1h/);
  await expect(page.getByTestId('time-picker')).toBeFocused();
});

test('the Export dialog takes the focus, keeps Tab inside, and gives it back', async ({ page }) => {
  await ready(page);
  await page.getByTestId('export').focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByTestId('export-dialog');
  await expect(dialog).toBeVisible();
  await expect(page.getByTestId('export-download')).toBeVisible();
  expect(await page.evaluate(() => !!document.activeElement?.closest('[data-testid=export-dialog]'))).toBe(true);
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => !!document.activeElement?.closest('[data-testid=export-dialog]'))).toBe(true);
  }
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate(() => !!document.activeElement?.closest('[data-testid=export-dialog]'))).toBe(true);
  }
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId('export')).toBeFocused();
});

test('the table by keyboard: Home, End, Page Down, Enter, Escape back to the table', async ({ page }) => {
  await ready(page);
  const loaded = await someRows(page);
  expect(loaded).toBeGreaterThan(20);
  await page.getByTestId('entry-scroll').focus();
  const selected = page.locator('table.entry-table tbody tr.selected');
  await page.keyboard.press('Home');
  await expect(selected).toHaveAttribute('aria-rowindex', '2');
  await page.keyboard.press('PageDown');
  const afterPage = Number(await selected.getAttribute('aria-rowindex'));
  expect(afterPage).toBeGreaterThan(4);
  await page.keyboard.press('PageUp');
  await expect(selected).toHaveAttribute('aria-rowindex', '2');
  await page.keyboard.press('End');
  await expect(selected).toBeVisible();
  expect(Number(await selected.getAttribute('aria-rowindex'))).toBeGreaterThan(afterPage);
  await page.keyboard.press('Home');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('entry-detail')).toBeVisible();
  await expect(page).toHaveURL(/entry=/);
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('entry-detail')).toHaveCount(0);
  expect(await focusedTestId(page)).toBe('entry-scroll');
  await expect(rows(page).first()).toBeVisible();
});

test('? lists the shortcuts; Escape closes the list', async ({ page }) => {
  await ready(page);
  await page.locator('h1').click();
  await page.keyboard.press('?');
  const help = page.getByTestId('shortcuts');
  await expect(help).toBeVisible();
  await expect(help).toContainText('Page Down / Page Up');
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations).toEqual([]);
  await page.keyboard.press('Escape');
  await expect(help).toHaveCount(0);
});
