import { expect, test } from '@playwright/test';
import { ingest, ready, rows, unique } from './session';

// The integrity badge: the browser checks the latest signed checkpoint against the key it
// pinned and the entries in view against the checkpoint's root, by itself.

test('the integrity badge turns green on the demo data, and the detail panel shows the proof', async ({ page }) => {
  await ready(page, '/audit');
  const badge = page.getByTestId('integrity-badge');
  // The server signs a checkpoint within a second or two of starting (TRAILKEEP_CHECKPOINT_SECONDS=1).
  await expect(badge).toHaveAttribute('data-state', 'verified', { timeout: 15_000 });
  await expect(badge).toContainText('Verified in your browser');
  await expect(badge).toContainText(/Every entry on this page is in the log's signed record/);
  await expect(badge).toContainText(/\(checkpoint of [\d,]+ entries, signed \d+ (s|min) ago\)/);
  // The age ticks by itself.
  const age = async () => Number((await page.getByTestId('integrity-detail').innerText()).match(/signed (\d+) s ago/)?.[1] ?? -1);
  const first = await age();
  await expect.poll(age, { timeout: 5_000 }).not.toBe(first);
  // "What does this mean?" explains, and offers the checkpoint and the key.
  await page.getByText('What does this mean?').click();
  const explained = page.getByTestId('integrity-explained');
  await expect(explained).toContainText('A checkpoint');
  await expect(explained).toContainText('A proof');
  await expect(explained.getByRole('link', { name: 'Download the checkpoint' })).toHaveAttribute('href', /\/api\/v1\/integrity\/checkpoint\?size=\d+/);
  await expect(explained.getByTestId('copy-verifier-key')).toBeVisible();
  // The key it pinned is the server's, and the badge names it as `trailkeep key-info` does.
  const pinned = await page.evaluate(() => localStorage.getItem('trailkeep.verifier_key'));
  expect(pinned).toMatch(/^trailkeep\.localhost\/log\+[0-9a-f]{8}\+/);
  await expect(badge).toContainText(`Checked against key ${pinned!.split('+').slice(0, 2).join('+')}`);
  await expect(page.getByTestId('integrity-key')).toContainText('trailkeep key-info');
  await page.screenshot({ path: 'test-results/integrity-badge.png' });

  // One entry, opened: its own proof, checked in the browser.
  await rows(page).nth(3).click();
  await expect(page.getByTestId('detail-proof')).toContainText(/In the signed checkpoint of [\d,]+ entries|Newer than the latest checkpoint/);
});

test('with another pinned key, the badge turns red and says why', async ({ page }) => {
  await ready(page, '/audit');
  // The example key of the C2SP signed-note specification: a real key, not this log's.
  await page.evaluate(() =>
    localStorage.setItem('trailkeep.verifier_key', 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
  );
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const badge = page.getByTestId('integrity-badge');
  await expect(badge).toHaveAttribute('data-state', 'failed', { timeout: 15_000 });
  await expect(badge).toContainText('Integrity not verified');
  await expect(page.getByTestId('integrity-why')).toContainText('not signed by the pinned key');
  await page.screenshot({ path: 'test-results/integrity-badge-red.png' });
  await page.evaluate(() => localStorage.removeItem('trailkeep.verifier_key'));
});

test('the badge keeps one size whatever it says, so nothing under it moves', async ({ page, request }) => {
  test.setTimeout(180_000);
  const marker = unique('steady');
  const event = (n: number) => ({
    action: 'config.deployed',
    actor: { id: `${marker}_${n}`, name: `${marker} ${n}`, type: 'system' },
    resource: { type: 'config', id: marker },
  });
  await ingest(request, event(0));
  // Every top of the filter bar and every height of the badge the page ever showed, frame by
  // frame from the first paint: server-rendered "Checking", verified, entries newer than the
  // checkpoint, a checkpoint arriving, the age ticking.
  await page.addInitScript(() => {
    const seen = { tops: new Set<number>(), heights: new Set<number>(), states: new Set<string>() };
    (window as unknown as { seen: typeof seen }).seen = seen;
    const look = () => {
      const bar = document.querySelector('.filter-bar');
      const badge = document.querySelector('[data-testid="integrity-badge"]');
      if (bar && badge) {
        seen.tops.add(Math.round(bar.getBoundingClientRect().top));
        seen.heights.add(Math.round(badge.getBoundingClientRect().height));
        seen.states.add(badge.getAttribute('data-state') ?? '');
      }
      requestAnimationFrame(look);
    };
    requestAnimationFrame(look);
  });
  const seen = () =>
    page.evaluate(() => {
      const s = (window as unknown as { seen: { tops: Set<number>; heights: Set<number>; states: Set<string> } }).seen;
      return { tops: [...s.tops], heights: [...s.heights], states: [...s.states] };
    });
  await ready(page, `/audit?resource=config:${marker}`);
  let shown = 1;
  for (const width of [1280, 1024, 768]) {
    await page.setViewportSize({ width, height: 900 });
    await page.goto(`/audit?resource=config:${marker}`);
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    const badge = page.getByTestId('integrity-badge');
    await expect(badge).toHaveAttribute('data-state', 'verified', { timeout: 15_000 });
    // New entries, shown by Refresh before a checkpoint takes them, then taken by one.
    await ingest(request, [event(1), event(2), event(3)]);
    await page.getByTestId('refresh').click();
    shown += 3;
    await expect(rows(page)).toHaveCount(shown);
    await expect(page.getByTestId('integrity-detail')).toContainText(/Every entry on this page is in the log's signed record \(/, { timeout: 45_000 });
    await page.waitForTimeout(2_500); // the age ticks
    const { tops, heights, states } = await seen();
    expect(states, `at ${width} px`).toEqual(expect.arrayContaining(['checking', 'verified']));
    expect(tops, `the filter bar's top at ${width} px`).toHaveLength(1);
    expect(heights, `the badge's height at ${width} px`).toHaveLength(1);
  }
});

// With Live on, the badge and an open entry's proof follow new entries without Refresh: an
// entry streamed in is "newer than the checkpoint" until the next checkpoint (every second
// here) covers it, then proven in place; the badge asks again by itself every 10 s.
test('with Live on, the badge and the open entry\'s proof follow new entries', async ({ page, request }) => {
  test.setTimeout(120_000);
  const marker = unique('livebadge');
  const event = (n: number) => ({
    action: 'config.deployed',
    actor: { id: `${marker}_${n}`, name: `${marker} ${n}`, type: 'system' },
    resource: { type: 'config', id: marker },
  });
  await ingest(request, event(0));
  await ready(page, `/audit?resource=config:${marker}`);
  const badge = page.getByTestId('integrity-badge');
  await expect(badge).toHaveAttribute('data-state', 'verified', { timeout: 15_000 });
  await expect(page.getByTestId('integrity-detail')).toContainText(/Every entry on this page is in the log's signed record \(/, { timeout: 30_000 });
  await page.getByTestId('live-toggle').click();
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'live');

  // Streamed in: two rows, no Refresh.
  await ingest(request, event(1));
  await expect(rows(page)).toHaveCount(2, { timeout: 15_000 });
  await expect(rows(page).first()).toContainText(`${marker} 1`);
  // Opened at once, its proof is checked in place as soon as a checkpoint covers it.
  await rows(page).first().click();
  const proof = page.getByTestId('detail-proof');
  await expect(proof).toContainText(/Newer than the latest checkpoint|In the signed checkpoint of/);
  await expect(proof).toContainText(/✓ In the signed checkpoint of [\d,]+ entries/, { timeout: 30_000 });
  // The badge covers both rows by itself (no Refresh, no reload).
  await expect(badge).toHaveAttribute('data-state', 'verified');
  await expect(page.getByTestId('integrity-detail')).toContainText(/Every entry on this page is in the log's signed record \(/, { timeout: 30_000 });
  await expect(page.getByTestId('integrity-detail')).not.toContainText(/newer than/i);
  await expect(page).toHaveURL(/live=1/);
});

// A network failure is not a failed check: the badge says so in grey ("Couldn't check right
// now"), red being kept for a check that failed, and it turns green again by itself.
test('a badge that cannot reach the server is grey, not red, and recovers by itself', async ({ page }) => {
  test.setTimeout(90_000);
  await ready(page, '/audit');
  const badge = page.getByTestId('integrity-badge');
  await expect(badge).toHaveAttribute('data-state', 'verified', { timeout: 15_000 });
  await page.route(/\/api\/integrity_check/, (route) => route.abort('connectionrefused'));
  // The badge asks again every 10 s.
  await expect(badge).toHaveAttribute('data-state', 'unavailable', { timeout: 25_000 });
  await expect(badge).toContainText("Couldn't check right now");
  await expect(badge).not.toContainText('Integrity not verified');
  await page.screenshot({ path: 'test-results/integrity-badge-grey.png' });
  await page.unroute(/\/api\/integrity_check/);
  await expect(badge).toHaveAttribute('data-state', 'verified', { timeout: 25_000 });
});
