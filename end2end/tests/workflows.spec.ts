import { expect, test, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ingest, ingestKey, ready, rows, signIn, someRows, unique } from './session';

// The console as a compliance officer works it: filters built through the pickers and removed
// chip by chip in every order, search typed with human pauses, every export format opened,
// the detail panel beside the table and on a narrow screen, and no accessibility violations.

/** The filter parameters of the URL, sorted (console-only parameters left out). */
function filterOf(page: Page): string {
  const q = new URL(page.url()).searchParams;
  q.delete('entry');
  q.delete('live');
  return [...q.entries()].map(([k, v]) => `${k}=${v}`).sort().join('&');
}

/** Waits until the table shows the URL's filter. */
async function settled(page: Page) {
  const want = filterOf(page);
  await expect
    .poll(async () => {
      const shown = (await page.locator('[data-shown-filter]').first().getAttribute('data-shown-filter')) ?? '';
      return [...new URLSearchParams(shown).entries()].map(([k, v]) => `${k}=${v}`).sort().join('&');
    })
    .toBe(want);
}

/** One column of the rows in the DOM, at least one row (a check of every row passes on none). */
async function column(page: Page, index: number): Promise<string[]> {
  await someRows(page);
  return (await rows(page).locator(`td:nth-child(${index})`).allInnerTexts()).map((t) => t.trim());
}

async function chipLabels(page: Page): Promise<string[]> {
  return (await page.locator('.filter-chips .chip > span').allInnerTexts()).map((t) => t.trim());
}

const PICKED = {
  time: { label: 'Last 7 days', param: 'range=7d' },
  status: { label: 'Status: Failure', param: 'status=failure' },
  action: { label: 'Action: user.login_failed', param: 'action=user.login_failed' },
} as const;
type Picked = keyof typeof PICKED;

/** Date range → Last 7 days, Status → Failure, Action → tick user.login_failed: all by hand. */
async function pickThree(page: Page) {
  await page.getByTestId('time-picker').click();
  await page.getByRole('button', { name: 'Last 7 days' }).click();
  await expect(page).toHaveURL(/range=7d/);
  await page.getByTestId('status-picker').selectOption('failure');
  await expect(page).toHaveURL(/status=failure/);
  await page.getByTestId('action-picker').click();
  await page.locator('.action-panel label', { hasText: 'user.login_failed' }).locator('input').check();
  await expect(page).toHaveURL(/action=user\.login_failed/);
  await page.keyboard.press('Escape');
  expect(filterOf(page)).toBe('action=user.login_failed&range=7d&status=failure');
}

/** The rows satisfy what is left of the three filters. */
async function rowsMatch(page: Page, left: Picked[]) {
  await settled(page);
  if (left.includes('status')) {
    for (const s of await column(page, 6)) expect(s).toMatch(/Failed$/);
  }
  if (left.includes('action')) {
    for (const a of await column(page, 3)) expect(a).toBe('user.login_failed');
  }
  await expect(page.getByTestId('result-count')).toHaveText(/^[\d,]+ entr/);
}

const ORDERS: Picked[][] = [
  ['time', 'status', 'action'],
  ['time', 'action', 'status'],
  ['status', 'time', 'action'],
  ['status', 'action', 'time'],
  ['action', 'time', 'status'],
  ['action', 'status', 'time'],
];

test('filters built through the pickers come off chip by chip, in every order', async ({ page, request }) => {
  test.setTimeout(120_000);
  // Rows of its own for all three filters, so no check below runs over an empty table.
  const marker = unique('picked');
  await ingest(request, [1, 2, 3].map((i) => ({
    action: 'user.login_failed', status: 'failure', actor: { id: `${marker}-${i}`, type: 'user' },
  })));
  await ready(page);
  for (const order of ORDERS) {
    await page.goto('/audit');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await pickThree(page);
    await rowsMatch(page, ['time', 'status', 'action']);
    const left: Picked[] = ['time', 'status', 'action'];
    for (const which of order) {
      await page.getByRole('button', { name: `Remove filter ${PICKED[which].label}` }).click();
      left.splice(left.indexOf(which), 1);
      const want = left.map((k) => PICKED[k].param).sort().join('&');
      await expect.poll(() => filterOf(page), { message: `order ${order} after removing ${which}` }).toBe(want);
      await expect.poll(() => chipLabels(page)).toEqual(
        (['action', 'time', 'status'] as Picked[]).filter((k) => left.includes(k)).map((k) => PICKED[k].label),
      );
      await rowsMatch(page, left);
    }
    expect(page.url()).toMatch(/\/audit$/);
  }
});

test('a whole category is one chip, and Clear all keeps nothing', async ({ page }) => {
  await ready(page);
  await page.getByTestId('action-picker').click();
  await page.getByTestId('category-auth').check();
  await page.keyboard.press('Escape');
  await expect(page.locator('.chip', { hasText: 'Action: Authentication' })).toHaveCount(1);
  await expect(page.locator('.chip')).toHaveCount(1);
  await page.getByRole('button', { name: 'Remove filter Action: Authentication' }).click();
  await expect(page).toHaveURL(/\/audit$/);
});

test('the IP filter takes an address or a CIDR block and says why it refuses one', async ({ page, request }) => {
  // An entry of its own in the block, so the rows checked below are never none.
  await ingest(request, { action: 'config.updated', actor: { id: unique('ip'), type: 'system' }, ip: '203.0.113.77' });
  await ready(page);
  await page.getByTestId('ip-filter').fill('203.0.113.0/24');
  await page.getByTestId('ip-filter').press('Enter');
  await expect(page).toHaveURL(/ip=203\.0\.113\.0\/24/);
  await expect(page.locator('.chip', { hasText: 'IP: 203.0.113.0/24' })).toBeVisible();
  await settled(page);
  await page.setViewportSize({ width: 1600, height: 900 });
  for (const ip of await column(page, 5)) expect(ip).toMatch(/^203\.0\.113\./);
  await page.getByTestId('ip-filter').fill('10.0.0.0/33');
  await page.getByTestId('ip-filter').press('Enter');
  await expect(page.locator('.ip-filter .field-error')).toContainText('not an IP address');
  await expect(page).toHaveURL(/ip=203\.0\.113\.0\/24/);
});

test('IP and Resource apply as you type, and a refused value says it is not applied', async ({ page, request }) => {
  const actor = unique('ipt');
  await ingest(request, { action: 'config.updated', actor: { id: actor, type: 'system' }, ip: '198.51.100.201', resource: { type: 'config', id: actor } });
  await ready(page);
  await page.setViewportSize({ width: 1600, height: 900 });
  // Typed with pauses, no Enter: applied once the typing stops.
  await page.getByTestId('ip-filter').pressSequentially('198.51.100.201', { delay: 80 });
  await expect(page).toHaveURL(/ip=198\.51\.100\.201/);
  await settled(page);
  expect(await column(page, 5)).toContain('198.51.100.201');
  await page.getByTestId('resource-filter').pressSequentially(`config:${actor}`, { delay: 60 });
  await expect(page).toHaveURL(new RegExp(`resource=config:${actor}`));
  await settled(page);
  await expect(rows(page)).toHaveCount(1);
  // Half an address is refused beside the field; the table keeps what it showed.
  await page.getByTestId('ip-filter').fill('');
  await page.getByTestId('ip-filter').pressSequentially('198.51.', { delay: 80 });
  await expect(page.getByTestId('ip-filter-problem')).toContainText('Not applied');
  await expect(page.getByTestId('ip-filter')).toHaveClass(/pending/);
  await expect(page).toHaveURL(/ip=198\.51\.100\.201/);
  await accessible(page, 'an IP typed but not applied');
});

/** Types `text` key by key, a human pause between keys: the pace of a person typing (what the
 * test is about), not a wait for something to happen. */
async function typeSlowly(page: Page, text: string, pauses: () => number) {
  for (const ch of text) {
    await page.keyboard.type(ch);
    await page.waitForTimeout(pauses());
  }
}

test('search typed with human pauses keeps every key and the focus', async ({ page }) => {
  await ready(page);
  const box = page.getByLabel('Search the audit log');
  await box.click();
  await box.pressSequentially('203.0.113', { delay: 450 });
  await expect(box).toBeFocused();
  await expect(box).toHaveValue('203.0.113');
  await expect(page).toHaveURL(/q=203\.0\.113$/);
  await settled(page);
  await expect(box).toBeFocused();

  // Again while every answer is slow: older answers arrive after newer keys.
  await box.fill('');
  await box.press('Enter');
  await expect(page).not.toHaveURL(/q=/);
  await page.route(/\/api\/search_entries/, async (route) => {
    await new Promise((r) => setTimeout(r, 1200));
    await route.continue();
  });
  let i = 0;
  const pauses = [300, 600, 450, 520, 310, 580, 470, 330, 600, 400];
  await typeSlowly(page, 'grace@company', () => pauses[i++ % pauses.length]);
  await expect(box).toBeFocused();
  await expect(box).toHaveValue('grace@company');
  await expect(page).toHaveURL(/q=grace@company$/);
  await settled(page);
  await expect(box).toHaveValue('grace@company');
  await expect(box).toBeFocused();
  // The page stayed whole while it loaded: filters, header and table never left.
  await expect(page.getByTestId('loading')).toHaveCount(0);
  await page.unroute(/\/api\/search_entries/);
});

test('while a new page loads the table stays, dimmed; a lost server reads in plain words and recovers', async ({ page }) => {
  await ready(page);
  await settled(page);
  await page.route(/\/api\/search_entries/, (route) => route.abort('connectionrefused'));
  await page.getByTestId('status-picker').selectOption('success');
  const problem = page.locator('.results [role=alert]');
  await expect(problem).toContainText('Cannot reach the server — retrying');
  await expect(problem).not.toContainText('TypeError');
  await page.screenshot({ path: 'test-results/unreachable.png' });
  await page.unroute(/\/api\/search_entries/);
  // It asks again by itself.
  await settled(page);
  await expect(rows(page).first()).toBeVisible({ timeout: 10_000 });

  await page.route(/\/api\/search_entries/, async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    await route.continue();
  });
  await page.getByTestId('status-picker').selectOption('failure');
  await expect(page.locator('.results.updating')).toHaveCount(1);
  await expect(page.getByTestId('updating')).toHaveText('Updating…');
  await expect(rows(page).first()).toBeVisible();
  await expect(page.getByLabel('Search the audit log')).toBeVisible();
  await page.screenshot({ path: 'test-results/updating.png' });
  await settled(page);
  await expect(page.locator('.results.updating')).toHaveCount(0);
  await page.unroute(/\/api\/search_entries/);
});

test('the user picker: focused on open, one row per person, chips read Name <email>', async ({ page }) => {
  await ready(page);
  await page.getByTestId('user-picker').click();
  const search = page.getByLabel('Search users by name, email or id');
  await expect(search).toBeFocused();
  await search.pressSequentially('avery', { delay: 120 });
  const avery = page.locator('.picker-options li', { hasText: 'Avery Admin' });
  await expect(avery).toHaveCount(1);
  await expect(avery).toContainText('admin@company.com');
  // Checking moves the person to the chosen rows at the top (the row clicked is replaced).
  await avery.locator('input').click();
  await expect(page).toHaveURL(/user=admin@company\.com/);
  await expect(page.locator('.picker-options li', { hasText: 'admin@company.com' }).locator('input')).toBeChecked();
  await page.keyboard.press('Escape');
  await expect(page.locator('.chip', { hasText: 'User: Avery Admin <admin@company.com>' })).toBeVisible();
});

test('every export format downloads and opens: CSV, JSON, NDJSON and the PDF report', async ({ page }) => {
  test.setTimeout(90_000);
  await ready(page, '/audit?action=config.updated');
  // Exports are recorded in the log: this test's are the ones after the newest entry now.
  const head = async () => {
    const api = await page.request.get('/api/v1/events?limit=1', { headers: { Authorization: `Bearer ${ingestKey}` } });
    return (await api.json()).entries[0].seq as number;
  };
  const since = await head();
  await page.getByTestId('export').click();
  const dialog = page.getByTestId('export-dialog');
  await expect(dialog.getByTestId('export-count')).toHaveText(/Exactly [\d,]+ entr/);
  const expected = Number((await dialog.getByTestId('export-count').textContent())!.replace(/\D/g, ''));
  expect(expected).toBeGreaterThan(0);
  for (const name of ['CSV', 'JSON', 'NDJSON', 'PDF']) await expect(dialog.getByLabel(new RegExp(`^${name}`))).toBeVisible();

  const fetch = async (format: string) => {
    await dialog.getByLabel(new RegExp(`^${format} `)).check();
    const download = page.waitForEvent('download');
    await dialog.getByTestId('export-download').click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(new RegExp(`-${expected}\\.${format.toLowerCase()}$`));
    await expect(dialog.getByTestId('export-progress')).toHaveText(
      new RegExp(`^Done: .*\\.${format.toLowerCase()} \\(([\\d.]+ (KB|MB)|\\d+ bytes)\\) saved\\.$`),
    );
    return (await file.path())!;
  };

  const key = await (await page.request.get('/api/v1/integrity/key', { headers: { Authorization: `Bearer ${ingestKey}` } })).text();
  /** The checkpoint the dialog offers beside a CSV or NDJSON export, downloaded. */
  const checkpoint = async () => {
    const link = dialog.getByTestId('export-checkpoint').getByRole('link');
    await expect(link).toHaveText(/\.checkpoint$/);
    const download = page.waitForEvent('download');
    await link.click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^trailkeep-audit-.*\.checkpoint$/);
    return (await file.path())!;
  };
  /** `trailkeep verify-export` on a file with the checkpoint beside it, the filter and count. */
  const verify = (path: string, note: string) =>
    execFileSync(process.env.TRAILKEEP_BIN!, [
      'verify-export', path, '--key', key.trim(), '--checkpoint', note,
      '--filter', 'action=config.updated', '--count', String(expected), '--allow-unproven',
    ], { encoding: 'utf8' });

  const csvPath = await fetch('CSV');
  const csvNote = await checkpoint();
  // A CSV parser (Python's csv module) reads every record as an entry: no footer, 21 cells each.
  const shape = JSON.parse(execFileSync('python3', ['-c',
    'import csv, json, sys; r = list(csv.reader(open(sys.argv[1], newline=""))); ' +
    'print(json.dumps([r[0][:2], len(r) - 1, sorted({len(x) for x in r}), sum(x[0].startswith("#") for x in r)]))',
    csvPath], { encoding: 'utf8' }));
  expect(shape).toEqual([['timestamp', 'actor_type'], expected, [21], 0]);
  const csv = readFileSync(csvPath, 'utf8').trim().split('\n');
  // Every timestamp has the same shape: six fractional digits.
  for (const line of csv.slice(1)) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z,/);
  expect(verify(csvPath, csvNote)).toMatch(new RegExp(`^ok ${expected} entries`));

  const json = JSON.parse(readFileSync(await fetch('JSON'), 'utf8'));
  expect(json.count).toBe(expected);
  expect(json.entries).toHaveLength(expected);

  const ndjsonPath = await fetch('NDJSON');
  const ndjsonNote = await checkpoint();
  // Every line is an entry (no trailer), carrying its proof and its checkpoint's size.
  const ndjson = readFileSync(ndjsonPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(ndjson).toHaveLength(expected);
  for (const entry of ndjson) {
    expect(entry.trailer).toBeUndefined();
    expect(typeof entry.leaf_hash).toBe('string');
    expect('checkpoint_size' in entry).toBe(true);
  }
  expect(ndjson.map((e) => e.id)).toEqual(json.entries.map((e: { id: string }) => e.id));
  expect(verify(ndjsonPath, ndjsonNote)).toMatch(new RegExp(`^ok ${expected} entries`));

  const pdf = execFileSync('pdftotext', ['-layout', await fetch('PDF'), '-'], { encoding: 'utf8' });
  expect(pdf).toContain('Audit log report');
  expect(pdf).toContain('Action: config.updated');
  expect(pdf).toMatch(/Sequence: +seq \d+ to \d+/);
  expect(pdf).toContain(`page 1 of`);
  // Each entry's change, before → after, under its row.
  const first = json.entries.find((e: { details: { changes?: unknown } }) => e.details.changes);
  const [field, change] = Object.entries(first.details.changes as Record<string, { before: unknown; after: unknown }>)[0];
  const plain = (v: unknown) => (typeof v === 'string' ? v : v === null ? '—' : JSON.stringify(v));
  expect(pdf).toContain(`${field}: ${plain(change.before)} → ${plain(change.after)}`);
  expect(pdf).toContain('Summary');
  expect(pdf).toMatch(/Trailkeep audit log · checkpoint of \d+ entries; root /);

  // The recorded export names the resolved period (recorded once the download ended): the PDF
  // export of this test, after `since`.
  const lastExport = async () => {
    const api = await page.request.get('/api/v1/events?action=export.downloaded&limit=20', {
      headers: { Authorization: `Bearer ${ingestKey}` },
    });
    const mine = (await api.json()).entries.filter((e: { seq: number; details: { format?: string } }) => e.seq > since && e.details.format === 'pdf');
    return mine[0]?.details;
  };
  await expect.poll(async () => (await lastExport())?.format).toBe('pdf');
  const recorded = await lastExport();
  expect(recorded.to).toMatch(/^\d{4}-\d\d-\d\dT/);
  expect(recorded).toHaveProperty('from');
});

test('a PDF over its limit is explained and CSV offered', async ({ page }) => {
  // The suite's log is far below 100,000 entries: the dialog's rule is checked on its count.
  await ready(page);
  await page.route(/\/api\/exact_count/, (route) =>
    route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ count: 250000, at_least: false }) }),
  );
  await page.getByTestId('export').click();
  const dialog = page.getByTestId('export-dialog');
  await expect(dialog.getByTestId('export-count')).toHaveText('Exactly 250,000 entries will be exported.');
  await dialog.getByLabel(/^PDF /).check();
  await expect(dialog.getByTestId('pdf-limit')).toContainText('at most 100,000 entries');
  await expect(dialog.getByTestId('export-download')).toBeDisabled();
  await page.screenshot({ path: 'test-results/export-pdf-limit.png' });
  await dialog.getByRole('button', { name: 'Export CSV instead' }).click();
  await expect(dialog.getByLabel(/^CSV /)).toBeChecked();
  await expect(dialog.getByTestId('pdf-limit')).toHaveCount(0);
  await expect(dialog.getByTestId('export-download')).toBeEnabled();
});

test('the detail panel sits beside the table at 1280 px; arrows move it; pivots narrow the log', async ({ page }) => {
  await ready(page, '/audit?action=config.updated');
  await settled(page);
  await rows(page).nth(1).click();
  const panel = page.getByTestId('entry-detail');
  await expect(panel).toBeVisible();
  const seq1 = await panel.getByTestId('detail-seq').innerText();
  expect(seq1).toBe(await rows(page).nth(1).getAttribute('data-seq'));
  // Export, Copy link and Live are not covered.
  for (const id of ['export', 'copy-link', 'live-toggle']) {
    const covered = await page.getByTestId(id).evaluate((el) => {
      const r = el.getBoundingClientRect();
      const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
      return !(top === el || el.contains(top));
    });
    expect(covered, id).toBe(false);
  }
  const table = await page.getByTestId('entry-scroll').boundingBox();
  const side = await panel.boundingBox();
  expect(table!.x + table!.width).toBeLessThanOrEqual(side!.x);
  await page.screenshot({ path: 'test-results/detail-beside-1280.png' });

  // ↓ and ↑ move the open entry, with the focus in the panel.
  await panel.getByRole('heading', { name: 'Entry detail' }).click();
  await page.keyboard.press('ArrowDown');
  await expect(panel.getByTestId('detail-seq')).toHaveText((await rows(page).nth(2).getAttribute('data-seq'))!);
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('ArrowUp');
  await expect(panel.getByTestId('detail-seq')).toHaveText((await rows(page).nth(0).getAttribute('data-seq'))!);
  await expect(panel.getByText('Request id').or(panel.getByText('User agent')).first()).toBeVisible();

  // Pivots keep the other filters and narrow one.
  await panel.getByRole('button', { name: 'Only this user', exact: true }).click();
  await expect(page).toHaveURL(/action=config\.updated/);
  await expect(page).toHaveURL(/user=/);
  await settled(page);
  await rows(page).first().click();
  await page.getByTestId('entry-detail').getByRole('button', { name: '±15 minutes around it' }).click();
  await expect(page).toHaveURL(/from=.*to=/);
  await settled(page);
  await rows(page).first().click();
  await expect(page.getByTestId('entry-detail').getByTestId('detail-seq')).toBeVisible();
  const byIp = page.getByTestId('entry-detail').getByRole('button', { name: 'Only this IP', exact: true });
  if (await byIp.count()) {
    await byIp.click();
    await expect(page).toHaveURL(/ip=/);
  }
});

test('at 768 px the detail panel leaves the toolbar uncovered and closes clearly; the table keeps its key columns', async ({ page }) => {
  await page.setViewportSize({ width: 768, height: 900 });
  await ready(page);
  await settled(page);
  const scroller = page.getByTestId('entry-scroll');
  expect(await scroller.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
  for (const name of ['Timestamp (UTC)', 'User', 'Action', 'Status']) {
    await expect(page.locator('thead th', { hasText: name })).toBeVisible();
  }
  await expect(rows(page).first().locator('.status')).toBeVisible();
  await page.screenshot({ path: 'test-results/table-768.png' });
  await rows(page).first().click();
  const panel = page.getByTestId('entry-detail');
  await expect(panel).toBeVisible();
  // Over the table only: Export, Refresh and the badge above it stay within reach.
  const panelBox = (await panel.boundingBox())!;
  const exportBox = (await page.getByTestId('export').boundingBox())!;
  expect(panelBox.y).toBeGreaterThanOrEqual(exportBox.y + exportBox.height);
  await page.screenshot({ path: 'test-results/detail-768.png' });
  await panel.getByRole('button', { name: 'Close detail (Escape)' }).click();
  await expect(panel).toHaveCount(0);
});

// The demo's history arrives through a key with the `import` scope ("Demo platform"): its
// entries say "Imported history" plainly, so a first look at the demo is not warnings everywhere.
test('the demo history reads as imported history, not as late records', async ({ page }) => {
  const before = new Date(Date.now() - 2 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  await ready(page, `/audit?to=${before}`);
  await rows(page).first().click();
  const note = page.getByTestId('late-note');
  await expect(note).toHaveAttribute('data-imported', 'true');
  await expect(note).toContainText(/^Imported history: recorded \d+ days? \d+ h after it occurred, sent by “Demo platform”/);
  await expect(note).not.toContainText('Note:');
  await accessible(page, 'an imported entry in the detail panel');
});

test('an entry recorded long after it occurred is marked in the detail panel', async ({ page, request }) => {
  const late = new Date(Date.now() - 2 * 3600 * 1000).toISOString();
  const r = await request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${ingestKey}` },
    data: [
      { action: 'config.synced', actor: { id: 'late-batch', type: 'system' }, occurred_at: late },
      { action: 'config.synced', actor: { id: 'on-time', type: 'system' } },
    ],
  });
  expect(r.status()).toBe(201);
  const [lateEntry, onTime] = (await r.json()).entries;
  await ready(page, `/audit?entry=${lateEntry.id}`);
  await expect(page.getByTestId('late-note')).toContainText('Recorded 2 h 0 min after it occurred');
  await expect(page.getByTestId('late-note')).toContainText('a clock that is off, or an event sent late');
  await expect(page.getByTestId('late-note')).not.toHaveAttribute('data-imported', 'true');
  await page.goto(`/audit?entry=${onTime.id}`);
  await expect(page.getByTestId('entry-detail').getByTestId('detail-seq')).toHaveText(String(onTime.seq));
  await expect(page.getByTestId('late-note')).toHaveCount(0);
});

test('the detail panel says who recorded an entry; Only this source narrows to it and its chip comes off', async ({ page, request }) => {
  // An ingest key sends an event named like one of Trailkeep's own.
  const r = await request.post('/api/v1/events', {
    headers: { Authorization: `Bearer ${ingestKey}` },
    data: { action: 'user.role_changed', actor: { id: 'system', type: 'system', name: 'Trailkeep' } },
  });
  expect(r.status()).toBe(201);
  const [forged] = (await r.json()).entries;
  await ready(page, `/audit?action=user.role_changed&entry=${forged.id}`);
  await settled(page);
  const panel = page.getByTestId('entry-detail');
  await expect(panel.getByTestId('detail-source')).toContainText('API key “e2e”');
  await panel.getByRole('button', { name: 'Only this source', exact: true }).click();
  await expect(page).toHaveURL(/source=[0-9a-f-]{36}/);
  await settled(page);
  const chip = page.getByRole('button', { name: /Remove filter Source: API key/ });
  await expect(chip).toBeVisible();
  // Trailkeep's own sign-ins are recorded by Trailkeep: narrowing to them drops the forged one.
  await page.goto('/audit?action=user.login&source=trailkeep');
  await settled(page);
  await rows(page).first().click();
  await expect(page.getByTestId('entry-detail').getByTestId('detail-source')).toHaveText('Trailkeep (the server itself)');
  await page.getByRole('button', { name: /Remove filter Source: Trailkeep/ }).click();
  await expect(page).not.toHaveURL(/source=/);
  await expect(page).toHaveURL(/action=user\.login/);
  await settled(page);
});

/** axe-core on the page as it is: no violations, any impact. */
async function accessible(page: Page, what: string) {
  const result = await new AxeBuilder({ page }).analyze();
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(' | ')}`);
  expect(found, what).toEqual([]);
}

for (const scheme of ['light', 'dark'] as const) {
  test(`axe-core finds no violations (${scheme}): login, audit log, detail panel, export dialog`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto('/login');
    await accessible(page, `login, ${scheme}`);
    await signIn(page);
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await settled(page);
    await accessible(page, `audit log, ${scheme}`);
    await page.screenshot({ path: `test-results/console-${scheme}-1280.png` });
    // A selected row (the status colour on it) and the open panel with its raw JSON.
    await page.getByTestId('entry-scroll').focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('entry-detail').getByTestId('detail-seq')).toBeVisible();
    await accessible(page, `detail panel, ${scheme}`);
    await page.screenshot({ path: `test-results/detail-${scheme}-1280.png` });
    await page.keyboard.press('Escape');
    await page.getByTestId('export').click();
    await expect(page.getByTestId('export-count')).toHaveText(/Exactly/);
    await accessible(page, `export dialog, ${scheme}`);
    await page.screenshot({ path: `test-results/export-${scheme}-1280.png` });
    await page.keyboard.press('Escape');
    await page.setViewportSize({ width: 768, height: 900 });
    await page.screenshot({ path: `test-results/console-${scheme}-768.png` });
  });
}
