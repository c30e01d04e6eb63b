import { expect, test, type Page } from '@playwright/test';
import { ready } from './session';

// The console's on-demand parts (picker panels, export dialog, entry detail, live socket) are
// WASM chunks of their own: the page loads and hydrates without them, each arrives on first
// use, and a chunk that cannot be fetched leaves a notice instead of breaking the page. The
// integrity badge's verifier is one too, fetched once the page is interactive.

/** The bundle files the page fetched, by file name. */
function bundleFiles(page: Page): string[] {
  const files: string[] = [];
  page.on('request', (r) => {
    const m = new URL(r.url()).pathname.match(/^\/assets\/[0-9a-f]{16}\/pkg\/(.+)$/);
    if (m) files.push(m[1]);
  });
  return files;
}

test('the page hydrates without the on-demand chunks; each is fetched on first use, under its build path, cached for good', async ({ page }) => {
  const files = bundleFiles(page);
  await ready(page);
  expect(files).toContain('trailkeep.wasm');
  // Hydrated before any part's chunk; the badge's verifier follows, off the main path.
  const parts = () => files.filter((f) => f.startsWith('split_') && f !== 'split_integrity.wasm');
  expect(parts()).toEqual([]);
  await expect(page.getByTestId('integrity-badge')).toHaveAttribute('data-state', 'verified', { timeout: 15_000 });
  expect(files).toContain('split_integrity.wasm');

  const wasm = await page.request.get(
    new URL(page.url()).origin + '/assets/' + (await buildOf(page)) + '/pkg/trailkeep.wasm',
  );
  expect(wasm.status()).toBe(200);
  expect(wasm.headers()['content-type']).toBe('application/wasm');
  expect(wasm.headers()['cache-control']).toContain('immutable');

  await page.getByTestId('export').click();
  await expect(page.getByTestId('export-dialog')).toBeVisible();
  expect(parts().map((f) => f.replace(/\.wasm$/, ''))).toEqual(['split_export_dialog']);
  await page.keyboard.press('Escape');

  await page.getByTestId('action-picker').click();
  await expect(page.getByTestId('category-config')).toBeVisible();
  expect(files).toContain('split_action_panel.wasm');
  expect(files).not.toContain('split_user_panel.wasm');
});

/** The build name in the page's bundle path. */
async function buildOf(page: Page): Promise<string> {
  const href = await page.locator('link[rel=modulepreload]').first().getAttribute('href');
  const m = href?.match(/^\/assets\/([0-9a-f]{16})\/pkg\//);
  expect(m, `bundle path ${href}`).not.toBeNull();
  return m![1];
}

test('a chunk that cannot be fetched shows a notice; the rest of the page keeps working', async ({ page }) => {
  await ready(page);
  // As after a server update: this build's chunk is gone.
  await page.route('**/split_user_panel*', (route) => route.fulfill({ status: 404, body: 'gone' }));
  await page.getByTestId('user-picker').click();
  const notice = page.getByTestId('chunk-unavailable');
  await expect(notice).toBeVisible();
  await expect(notice).toContainText('could not be loaded');
  await expect(notice.getByRole('button', { name: 'Reload the page' })).toBeVisible();
  await page.screenshot({ path: 'test-results/chunk-unavailable.png' });

  // Still alive: another picker loads and filters.
  await page.getByTestId('status-picker').selectOption('failure');
  await expect(page).toHaveURL(/status=failure/);
  await page.getByTestId('action-picker').click();
  await expect(page.getByTestId('category-config')).toBeVisible();

  // Reloading, as the notice offers, brings the part back (the URL keeps the filter).
  await page.unroute('**/split_user_panel*');
  await page.getByTestId('user-picker').click();
  await notice.getByRole('button', { name: 'Reload the page' }).click();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page).toHaveURL(/status=failure/);
  await page.getByTestId('user-picker').click();
  await expect(page.getByLabel('Search users by name, email or id')).toBeVisible();
});

test('a page from an earlier build gets 404 for that build path, not another build\'s files', async ({ page }) => {
  await ready(page);
  const origin = new URL(page.url()).origin;
  const stale = await page.request.get(origin + '/assets/0000000000000000/pkg/trailkeep.wasm');
  expect(stale.status()).toBe(404);
  const current = await page.request.get(origin + '/assets/' + (await buildOf(page)) + '/pkg/__wasm_split_manifest.json');
  expect(current.status()).toBe(200);
});
