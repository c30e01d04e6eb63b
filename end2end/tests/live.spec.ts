import { expect, test, type APIRequestContext, type Page, type WebSocketRoute } from '@playwright/test';
import { ingestKey, ready, rows, unique } from './session';

// Live mode in the console: entries ingested through the API stream into the table. Each test
// ingests under a resource of its own (`config:<marker>`) and watches only that resource, so
// the rows it looks at are its own, whatever else the log holds.

async function ingest(request: APIRequestContext, action: string, name: string, marker: string) {
  const response = await request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${ingestKey}` },
    data: { action, actor: { id: `live-${name}`, name, type: 'system' }, resource: { type: 'config', id: marker } },
  });
  expect(response.status()).toBe(201);
}

async function goLive(page: Page) {
  await page.getByTestId('live-toggle').click();
  await expect(page).toHaveURL(/live=1/);
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'live');
}

/** The number the count above the table says. */
async function counted(page: Page): Promise<number> {
  await expect(page.getByTestId('result-count')).toHaveText(/^[\d,]+ entr/);
  return Number((await page.getByTestId('result-count').innerText()).replace(/[^\d]/g, ''));
}

// How fast an entry reaches the page is a benchmark (`make bench-live`: commit → websocket
// latency against PostgreSQL's own LISTEN/NOTIFY round trip), not a budget here.
test('a matching entry appears at the top; others do not', async ({ page, request }) => {
  const marker = unique('live');
  await ingest(request, 'config.deployed', `${marker}_seed`, marker);
  await ready(page, `/audit?action=config.*&resource=config:${marker}`);
  await goLive(page);
  const before = await counted(page);
  expect(before).toBe(1);
  await ingest(request, 'user.login', `${marker}_other`, marker);
  await ingest(request, 'config.deployed', `${marker}_new`, marker);
  await expect(rows(page).first()).toContainText(`${marker}_new`);
  await expect(rows(page).first()).toHaveClass(/fresh/);
  await expect(page.getByTestId('live-rate')).toHaveText(/\d+\.\d events\/s/);
  // The non-matching entry never shows: it was committed before the matching one, and the
  // stream delivers in commit order, so by now it has been passed over (no pause needed).
  await expect(page.locator('table.entry-table')).not.toContainText(`${marker}_other`);
  // The count grew by the one matching entry, and only by it.
  await expect.poll(() => counted(page)).toBe(before + 1);
  await page.screenshot({ path: 'test-results/live-mode.png' });
});

// Exclusions hold in Live as they do in the table: an entry an exclusion chip (≠) leaves out
// never streams in, whatever else it matches; the chip turned around streams the opposite.
test('live mode honours exclusions, and a chip turned around while live', async ({ page, request }) => {
  const marker = unique('livex');
  await ingest(request, 'config.deployed', `${marker}_seed`, marker);
  await ready(page, `/audit?resource=config:${marker}&not_action=user.login`);
  await goLive(page);
  expect(await counted(page)).toBe(1);
  await ingest(request, 'user.login', `${marker}_left_out`, marker);
  await ingest(request, 'config.deployed', `${marker}_kept`, marker);
  await expect(rows(page).first()).toContainText(`${marker}_kept`);
  await expect(page.locator('table.entry-table')).not.toContainText(`${marker}_left_out`);
  await expect.poll(() => counted(page)).toBe(2);
  // ≠ on the chip: "Not action" becomes "Action", and Live follows the new filter.
  await page.getByRole('button', { name: /^Show only instead: Not action: user\.login/ }).click();
  await expect(page).toHaveURL(/[?&]action=user\.login/);
  await expect(page).not.toHaveURL(/not_action=/);
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'live');
  await expect(rows(page)).toHaveCount(1);
  await expect(rows(page).first()).toContainText(`${marker}_left_out`);
  await ingest(request, 'config.deployed', `${marker}_now_out`, marker);
  await ingest(request, 'user.login', `${marker}_now_in`, marker);
  await expect(rows(page).first()).toContainText(`${marker}_now_in`);
  await expect(page.locator('table.entry-table')).not.toContainText(`${marker}_now_out`);
});

test('the indicator follows the socket: reconnecting when it drops, then live without a gap', async ({ page, request }) => {
  let socket: WebSocketRoute | undefined;
  let closedByPage = 0;
  await page.routeWebSocket(/\/api\/v1\/live/, (ws) => {
    socket = ws;
    ws.connectToServer();
    ws.onClose(() => { closedByPage += 1; });
  });
  const marker = unique('gap');
  await ready(page, `/audit?resource=config:${marker}`);
  await goLive(page);
  // The connection drops; an entry committed while it is down must still arrive.
  await socket!.close({ code: 1006, reason: 'network blip' });
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'reconnecting');
  await expect(page.getByTestId('live-status')).toHaveText(/Reconnecting/);
  // Named apart from the resource (which every row of this test shows).
  const name = `${marker}_gap`;
  await ingest(request, 'config.updated', name, marker);
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'live', { timeout: 10_000 });
  await expect(rows(page).first()).toContainText(name);
  await expect(page.locator('table.entry-table')).toContainText(name);
  expect(await page.locator('table.entry-table tr', { hasText: name }).count()).toBe(1);
  // Live off closes the socket.
  const before = closedByPage;
  await page.getByTestId('live-toggle').click();
  await expect(page).not.toHaveURL(/live=1/);
  await expect(page.getByTestId('live-status')).toHaveCount(0);
  await expect.poll(() => closedByPage).toBeGreaterThan(before);
});

test('scrolled down, new entries wait behind a pill instead of moving the view', async ({ page, request }) => {
  // Its own 300 entries to scroll through.
  const marker = unique('pill');
  const data = Array.from({ length: 300 }, (_, i) => ({
    action: 'config.updated', actor: { id: `live-${marker}-${i}`, type: 'system' }, resource: { type: 'config', id: marker },
  }));
  const seeded = await request.post('/api/v1/events', { headers: { Authorization: `Bearer ${ingestKey}` }, data });
  expect(seeded.status()).toBe(201);
  await ready(page, `/audit?resource=config:${marker}`);
  await goLive(page);
  const scroller = page.getByTestId('entry-scroll');
  const top = await rows(page).first().getAttribute('data-seq');
  await scroller.evaluate((el) => { el.scrollTop = 3000; });
  // The virtual window follows the scroll.
  await expect.poll(() => rows(page).first().getAttribute('data-seq')).not.toBe(top);
  const firstInView = await rows(page).first().getAttribute('data-seq');
  await ingest(request, 'config.updated', `${marker}_a`, marker);
  await ingest(request, 'config.updated', `${marker}_b`, marker);
  await expect(page.getByTestId('new-entries')).toHaveText('↑ 2 new entries');
  expect(await rows(page).first().getAttribute('data-seq')).toBe(firstInView);
  await page.getByTestId('new-entries').click();
  await expect(rows(page).first()).toContainText(`${marker}_b`);
  await expect(rows(page).nth(1)).toContainText(`${marker}_a`);
  await expect(page.getByTestId('new-entries')).toHaveCount(0);
});

test('Pause holds new entries with a counter; Resume shows them', async ({ page, request }) => {
  const marker = unique('pause');
  await ready(page, `/audit?resource=config:${marker}`);
  await goLive(page);
  await page.getByTestId('live-pause').click();
  const name = `${marker}_held`;
  await ingest(request, 'config.updated', name, marker);
  await expect(page.getByTestId('live-pause')).toHaveText('Resume (1 held)');
  await expect(page.locator('table.entry-table')).not.toContainText(name);
  await page.getByTestId('live-pause').click();
  await expect(rows(page).first()).toContainText(name);
});

test('past 5,000 held entries the stream stops, says why, and Resume reloads the list', async ({ page, request }) => {
  const marker = unique('flood');
  await ready(page, `/audit?user=live-${marker}`);
  await goLive(page);
  await page.getByTestId('live-pause').click();
  // 5,001 matching entries in six batches while paused.
  for (let b = 0; b < 6; b++) {
    const n = b < 5 ? 1000 : 1;
    const data = Array.from({ length: n }, () => ({ action: 'config.deployed', actor: { id: `live-${marker}`, type: 'system' } }));
    const r = await request.post('/api/v1/events', { headers: { Authorization: `Bearer ${ingestKey}` }, data });
    expect(r.status()).toBe(201);
  }
  await expect(page.getByTestId('live-stopped')).toContainText('More than 5000 new entries were held unseen', { timeout: 15000 });
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'stopped');
  await expect(page.getByTestId('live-pause')).toHaveText('Resume (reload the list)');
  await page.getByTestId('live-pause').click();
  // The list is reloaded with everything, and the stream is live again.
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'live', { timeout: 10000 });
  await expect(page.getByTestId('live-stopped')).toHaveCount(0);
  expect(await counted(page)).toBe(5001);
  await ingest(request, 'config.deployed', marker, marker);
  await expect(rows(page).first()).toContainText(marker);
});

test('live mode is newest first', async ({ page }) => {
  await ready(page, '/audit?order=asc');
  await page.getByTestId('live-toggle').click();
  await expect(page).toHaveURL(/live=1/);
  await expect(page).not.toHaveURL(/order=asc/);
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-state', 'live');
  // Choosing oldest first leaves live mode.
  await page.getByTestId('oldest-first').click();
  await expect(page).toHaveURL(/order=asc/);
  await expect(page).not.toHaveURL(/live=1/);
  await expect(page.getByTestId('live-status')).toHaveCount(0);
});
