import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { spawn } from 'node:child_process';
import { ingest, ready, rows, unique } from './session';

// The volume chart (issue 24, item 9): its bars equal the API's counts for the same buckets,
// and a drag across bars sets the range to them.

test('the chart counts exactly what the API counts, and a drag sets the range', async ({ page, request }) => {
  test.setTimeout(120_000);
  const marker = unique('vol');
  const now = Date.now();
  const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
  const event = (minutesAgo: number, status: string) => ({
    action: 'vol.tick',
    actor: { id: `${marker}-a`, type: 'user' },
    status,
    occurred_at: at(minutesAgo),
  });
  await ingest(request, [event(50, 'success'), event(30, 'success'), event(30, 'failure'), event(29.5, 'success'), event(5, 'failure')]);
  await ready(page, `/audit?q=${marker}&range=1h`);
  const bars = page.locator('[data-testid="volume-chart"] g.bar');
  // One hour in one-minute bars.
  // (61 when the hour does not start on a whole minute.)
  await expect.poll(() => bars.count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(60);
  expect(await bars.count()).toBeLessThanOrEqual(61);
  const buckets = await bars.evaluateAll((gs) =>
    gs.map((g) => ({
      start: g.getAttribute('data-start')!,
      success: Number(g.getAttribute('data-success')),
      failure: Number(g.getAttribute('data-failure')),
    })),
  );
  expect(buckets.reduce((n, b) => n + b.success + b.failure, 0)).toBe(5);
  // Each bar with entries against the API's count for its minute (inside the hour).
  const withEntries = buckets.filter((b) => b.success + b.failure > 0);
  expect(withEntries.length).toBeGreaterThanOrEqual(3);
  for (const b of withEntries) {
    const from = new Date(b.start).toISOString();
    const to = new Date(new Date(b.start).getTime() + 60_000).toISOString();
    for (const [status, want] of [['success', b.success], ['failure', b.failure]] as const) {
      const r = await page.request.get(
        `/api/v1/events/count?q=${marker}&status=${status}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
      );
      expect(r.status()).toBe(200);
      expect((await r.json()).count, `${status} at ${b.start}`).toBe(want);
    }
  }

  // Drag from the bar of 50 minutes ago to the bar of 29.5 minutes ago: four entries.
  const area = page.locator('.volume-area');
  const box = (await area.boundingBox())!;
  const index = (minutesAgo: number) =>
    buckets.findIndex((b, i) => {
      const t = now - minutesAgo * 60_000;
      const start = new Date(b.start).getTime();
      return t >= start && t < start + 60_000 && i >= 0;
    });
  const x = (i: number) => box.x + ((i + 0.5) / buckets.length) * box.width;
  const y = box.y + box.height / 2;
  await page.mouse.move(x(index(50)), y);
  await expect(page.getByTestId('volume-readout')).toContainText('1 succeeded, 0 failed');
  await page.mouse.down();
  await page.mouse.move(x(index(40)), y, { steps: 5 });
  await page.mouse.move(x(index(29.5)), y, { steps: 5 });
  await page.mouse.up();
  await expect(page).toHaveURL(/from=.*to=/);
  await expect(page).not.toHaveURL(/range=/);
  await expect(rows(page)).toHaveCount(4);
  await page.screenshot({ path: 'test-results/volume-chart-1280.png' });
});

// A chart the server stops at its statement timeout (text matched by millions of entries, at
// scale) says so in its place, and never keeps the bars of the filter before. Here the log's
// owner holds the resources' rollup, which the chart of a resource reads, while the table
// (read from the log) answers as usual; Refresh then draws it.
test('a chart the server stops says so, and keeps no other filter\'s bars', async ({ page }) => {
  test.setTimeout(120_000);
  await ready(page, '/audit?range=90d');
  const chart = page.getByTestId('volume-chart');
  await expect(chart.locator('g.bar').first()).toBeAttached({ timeout: 15_000 });
  // The lock is held while psql waits for its next command; ROLLBACK ends it at once.
  const lock = spawn('psql', [process.env.DATABASE_URL!, '-qXtA', '-v', 'ON_ERROR_STOP=1'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  lock.stdin.on('error', () => {});
  const exited = new Promise((resolve) => lock.on('exit', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      lock.stdout.on('data', (d) => String(d).includes('locked') && resolve());
      lock.on('exit', (code) => reject(new Error(`psql exited with ${code}`)));
      lock.stdin.write(
        "SET lock_timeout = '5s'; BEGIN; LOCK TABLE volume_resources IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n",
      );
    });
    await page.getByTestId('resource-filter').pressSequentially('cfg_7', { delay: 120 });
    await expect(page).toHaveURL(/resource=cfg_7/);
    await expect(rows(page).first()).toBeVisible();
    await expect(rows(page).first()).toContainText('cfg_7');
    // The server's read statements stop after 30 s.
    const stopped = chart.getByTestId('volume-stopped');
    await expect(stopped).toBeVisible({ timeout: 45_000 });
    await expect(stopped).toContainText('ran longer than the server allows');
    await expect(stopped).toContainText('Narrow the time range');
    await expect(chart.locator('g.bar')).toHaveCount(0);
    // Looked at, and checked by axe-core, light and dark, wide and narrow.
    for (const scheme of ['light', 'dark'] as const) {
      for (const width of [1024, 768]) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.setViewportSize({ width, height: 900 });
        await expect(stopped).toBeVisible();
        const result = await new AxeBuilder({ page }).analyze();
        const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
        expect(found, `the stopped chart at ${width} px, ${scheme}`).toEqual([]);
        await page.screenshot({ path: `test-results/volume-stopped-${width}-${scheme}.png` });
      }
    }
  } finally {
    lock.stdin.end('ROLLBACK;\n');
    const gone = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5_000))]);
    if (!gone) lock.kill();
  }
  await page.getByTestId('refresh').click();
  await expect(chart.locator('g.bar').first()).toBeAttached({ timeout: 15_000 });
  await expect(chart.getByTestId('volume-stopped')).toHaveCount(0);
});
