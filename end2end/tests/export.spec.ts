import { expect, test } from '@playwright/test';
import { ready } from './session';
import { readFileSync } from 'node:fs';

// Export from the console: exactly the filtered entries, downloaded by the browser.

test('the export dialog downloads exactly the filtered entries', async ({ page, request }) => {
  await ready(page, '/audit?action=config.*&status=failure');
  await page.getByTestId('export').click();
  const dialog = page.getByTestId('export-dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('Action: config.*');
  await expect(dialog).toContainText('For a complete export, clear all filters.');
  const countText = await dialog.getByTestId('export-count').textContent({ timeout: 5000 });
  await expect(dialog.getByTestId('export-count')).toHaveText(/Exactly [\d,]+ entr/);
  const expected = Number((await dialog.getByTestId('export-count').textContent())!.replace(/\D/g, ''));
  expect(expected, `count text ${countText}`).toBeGreaterThan(0);
  await dialog.getByLabel(/NDJSON/).check();
  await page.screenshot({ path: 'test-results/export-dialog.png' });

  const download = page.waitForEvent('download');
  await dialog.getByTestId('export-download').click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(new RegExp(`^trailkeep-audit-all-time_\\d{4}-\\d{2}-\\d{2}-${expected}\\.ndjson$`));
  const lines = readFileSync((await file.path())!, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  // Every line is an entry (the checkpoint travels beside the file).
  expect(lines).toHaveLength(expected);
  for (const entry of lines) {
    expect(entry.action).toMatch(/^config\./);
    expect(entry.status).toBe('failure');
  }
  await expect(dialog.getByTestId('export-progress')).toHaveText(/^Done: trailkeep-audit-.*\.ndjson/);

  // The same entries, in the same order, as the query API returns.
  const api = await request.get('/api/v1/events?action=config.*&status=failure&limit=1000', {
    headers: { Authorization: `Bearer ${process.env.TRAILKEEP_E2E_KEY}` },
  });
  const page1 = await api.json();
  expect(lines.map((e) => e.id)).toEqual(page1.entries.map((e: { id: string }) => e.id).slice(0, lines.length));

  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
});
