import { expect, test, type Page } from '@playwright/test';
import { accessible, ingest, ready, rows, unique } from './session';

// Exclusions and click-to-filter (issue 24, item 9): a value clicked in the detail panel becomes
// a filter (=) or an exclusion (≠) with the entry kept open; any chip can be turned around; the
// chips come off in any order. Every state is checked against a reference computed here from
// the entries this spec ingested.

type Event = {
  action: string;
  actor: { id: string; type: string };
  ip: string;
  status: string;
};

/** The seqs the table shows, once it shows the filter now in the URL. */
async function shownSeqs(page: Page): Promise<string[]> {
  await expect
    .poll(async () => {
      const shown =
        (await page.locator('[data-shown-filter]').first().getAttribute('data-shown-filter')) ?? '';
      const want = new URL(page.url()).searchParams;
      want.delete('entry');
      want.delete('live');
      want.sort();
      const got = new URLSearchParams(shown);
      got.sort();
      return got.toString() === want.toString();
    })
    .toBe(true);
  if (await page.getByTestId('empty-state').count()) return [];
  return (await rows(page).evaluateAll((rs) => rs.map((r) => r.getAttribute('data-seq') ?? ''))).sort();
}

/** Opens the Top values panel; `countOf(field, value)` is the count it shows for a value. */
async function openTopValues(page: Page) {
  const panel = page.getByTestId('top-values');
  // The badge above changes height when the next checkpoint takes new entries (every second
  // here): a click computed before that shift can land beside the button, so click until open.
  const toggle = page.getByTestId('top-values-toggle');
  await expect(async () => {
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
    await expect(panel).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  const countOf = (field: string, value: string) =>
    panel.locator(`.top-list[data-field="${field}"] li[data-value="${value}"] [data-testid="top-count"]`);
  return { panel, countOf };
}

test('values clicked in the panel filter or leave out; chips turn around and come off in any order', async ({ page, request }) => {
  test.setTimeout(120_000);
  const marker = unique('excl');
  const events: Event[] = [];
  for (const [i, action] of ['excl.alpha', 'excl.beta', 'excl.gamma'].entries()) {
    for (const who of ['a', 'b']) {
      events.push({
        action,
        actor: { id: `${marker}-${who}`, type: 'user' },
        ip: who === 'a' ? '198.51.100.7' : `203.0.113.${i + 1}`,
        status: i === 1 ? 'failure' : 'success',
      });
    }
  }
  const recorded = await ingest(request, events);
  const seqs = recorded.map((r) => String(r.seq));
  const expectSeqs = (keep: (e: Event) => boolean) =>
    events.flatMap((e, i) => (keep(e) ? [seqs[i]] : [])).sort();

  await ready(page, `/audit?q=${marker}`);
  expect(await shownSeqs(page)).toEqual(expectSeqs(() => true));

  // Open an excl.beta entry and leave its action out from the panel: the entry stays open.
  await rows(page).filter({ hasText: 'excl.beta' }).first().click();
  const panel = page.getByTestId('entry-detail');
  await expect(panel).toBeVisible();
  await panel.getByRole('button', { name: 'Leave out action excl.beta' }).click();
  await expect(page).toHaveURL(/not_action=excl\.beta/);
  await expect(page).toHaveURL(/entry=/);
  await expect(panel).toBeVisible();
  expect(await shownSeqs(page)).toEqual(expectSeqs((e) => e.action !== 'excl.beta'));
  await expect(page.getByText('Not action: excl.beta')).toBeVisible();

  // Its IP, shown only: 198.51.100.7 is actor a's (the open entry is actor a's or b's).
  await rows(page).filter({ hasText: `${marker}-a` }).first().click();
  await panel.getByRole('button', { name: 'Show only IP 198.51.100.7' }).click();
  await expect(page).toHaveURL(/ip=198\.51\.100\.7/);
  expect(await shownSeqs(page)).toEqual(
    expectSeqs((e) => e.action !== 'excl.beta' && e.ip === '198.51.100.7'),
  );

  // The IP chip turned around: everything but that address (and still not excl.beta).
  await page.getByRole('button', { name: 'Leave out instead: IP: 198.51.100.7' }).click();
  await expect(page).toHaveURL(/not_ip=198\.51\.100\.7/);
  await expect(page).not.toHaveURL(/[?&]ip=/);
  expect(await shownSeqs(page)).toEqual(
    expectSeqs((e) => e.action !== 'excl.beta' && e.ip !== '198.51.100.7'),
  );
  await expect(page.locator('.chip.excluded')).toHaveCount(2);

  // The action exclusion turned around: only excl.beta, still without that address.
  await page.getByRole('button', { name: 'Show only instead: Not action: excl.beta' }).click();
  await expect(page).toHaveURL(/action=excl\.beta/);
  await expect(page).not.toHaveURL(/not_action=/);
  expect(await shownSeqs(page)).toEqual(
    expectSeqs((e) => e.action === 'excl.beta' && e.ip !== '198.51.100.7'),
  );

  // The status chip turned around is the other status.
  await page.goto(`/audit?q=${marker}&status=failure&not_user=${marker}-b`);
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  expect(await shownSeqs(page)).toEqual(
    expectSeqs((e) => e.status === 'failure' && e.actor.id !== `${marker}-b`),
  );
  await page.getByRole('button', { name: 'Leave out instead: Status: Failure' }).click();
  await expect(page).toHaveURL(/status=success/);
  expect(await shownSeqs(page)).toEqual(
    expectSeqs((e) => e.status === 'success' && e.actor.id !== `${marker}-b`),
  );
});

test('exclusion chips come off in every order, each leaving exactly the others', async ({ page, request }) => {
  test.setTimeout(180_000);
  const marker = unique('exord');
  const events: Event[] = ['exord.one', 'exord.two', 'exord.three'].flatMap((action, i) =>
    ['a', 'b'].map((who) => ({
      action,
      actor: { id: `${marker}-${who}`, type: 'user' },
      ip: `192.0.2.${i + (who === 'a' ? 10 : 20)}`,
      status: 'success',
    })),
  );
  const recorded = await ingest(request, events);
  const seqs = recorded.map((r) => String(r.seq));
  type Part = { param: string; value: string; chip: string; drops: (e: Event) => boolean };
  const parts: Part[] = [
    { param: 'not_action', value: 'exord.one', chip: 'Not action: exord.one', drops: (e) => e.action === 'exord.one' },
    { param: 'not_user', value: `${marker}-b`, chip: `Not user: ${marker}-b`, drops: (e) => e.actor.id === `${marker}-b` },
    { param: 'not_ip', value: '192.0.2.12', chip: 'Not IP: 192.0.2.12', drops: (e) => e.ip === '192.0.2.12' },
  ];
  const orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
  await ready(page, `/audit?q=${marker}`);
  for (const order of orders) {
    const query = new URLSearchParams({ q: marker });
    for (const p of parts) query.append(p.param, p.value);
    await page.goto(`/audit?${query}`);
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    const left = new Set([0, 1, 2]);
    for (const i of order) {
      await page.getByRole('button', { name: `Remove filter ${parts[i].chip}` }).click();
      left.delete(i);
      const want = events
        .flatMap((e, k) => ([...left].some((j) => parts[j].drops(e)) ? [] : [seqs[k]]))
        .sort();
      expect(await shownSeqs(page), `order ${order}, removed ${parts[i].param}`).toEqual(want);
      for (const j of [0, 1, 2]) {
        await expect(page.getByRole('button', { name: `Remove filter ${parts[j].chip}` })).toHaveCount(
          left.has(j) ? 1 : 0,
        );
      }
    }
    expect(await shownSeqs(page)).toEqual([...seqs].sort());
  }
});

test('top values count exactly under the filter, and each is a click from a filter or an exclusion', async ({ page, request }) => {
  test.setTimeout(120_000);
  const marker = unique('topv');
  // Actions 3, 2 and 1 times; two addresses.
  const events: Event[] = [
    ...Array.from({ length: 3 }, (_, i) => ({ action: 'topv.often', actor: { id: `${marker}-a`, type: 'user' }, ip: '192.0.2.50', status: i === 0 ? 'failure' : 'success' })),
    ...Array.from({ length: 2 }, () => ({ action: 'topv.sometimes', actor: { id: `${marker}-b`, type: 'user' }, ip: '192.0.2.51', status: 'success' })),
    { action: 'topv.once', actor: { id: `${marker}-b`, type: 'user' }, ip: '192.0.2.50', status: 'success' },
  ];
  await ingest(request, events);
  await ready(page, `/audit?q=${marker}`);
  const { panel, countOf } = await openTopValues(page);
  await expect(countOf('action', 'topv.often')).toHaveText('3');
  await expect(countOf('action', 'topv.sometimes')).toHaveText('2');
  await expect(countOf('action', 'topv.once')).toHaveText('1');
  await expect(countOf('ip', '192.0.2.50')).toHaveText('4');
  await expect(countOf('ip', '192.0.2.51')).toHaveText('2');
  await expect(countOf('user', `${marker}-b`)).toHaveText('3');
  // Most first.
  const order = await panel.locator('.top-list[data-field="action"] li').evaluateAll((ls) => ls.map((l) => l.getAttribute('data-value')));
  expect(order).toEqual(['topv.often', 'topv.sometimes', 'topv.once']);

  // ≠ on an address: the counts follow the new filter.
  await panel.getByRole('button', { name: 'Leave out IP 192.0.2.51' }).click();
  await expect(page).toHaveURL(/not_ip=192\.0\.2\.51/);
  await expect(countOf('action', 'topv.sometimes')).toHaveCount(0);
  await expect(countOf('user', `${marker}-b`)).toHaveText('1');
  expect(await shownSeqs(page)).toHaveLength(4);

  // = on an action: only it.
  await panel.getByRole('button', { name: 'Show only action topv.often' }).click();
  await expect(page).toHaveURL(/action=topv\.often/);
  expect(await shownSeqs(page)).toHaveLength(3);
  await expect(countOf('ip', '192.0.2.50')).toHaveText('3');
  await page.screenshot({ path: 'test-results/top-values-1280.png' });
});

// At scale a broad search's Top values take seconds. Until the answer under the new filter
// arrives, the earlier filter's lists are hidden (not read as this filter's) and a line says so.
// The server answers here within milliseconds, so its answer is held on the way to the page.
test('while Top values count under a new filter, the earlier lists are hidden and say so', async ({ page, request }) => {
  test.setTimeout(120_000);
  const marker = unique('topw');
  const events: Event[] = [
    ...Array.from({ length: 2 }, () => ({ action: 'topw.kept', actor: { id: `${marker}-a`, type: 'user' }, ip: '192.0.2.60', status: 'success' })),
    { action: 'topw.left', actor: { id: `${marker}-b`, type: 'user' }, ip: '192.0.2.61', status: 'success' },
  ];
  await ingest(request, events);
  await ready(page, `/audit?q=${marker}`);
  const { panel, countOf } = await openTopValues(page);
  await expect(countOf('action', 'topw.left')).toHaveText('1');
  await expect(panel.getByTestId('top-values-pending')).toHaveCount(0);

  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let held = 0;
  await page.route(/\/api\/top_values_under/, async (route) => {
    held += 1;
    await released;
    await route.continue();
  });
  await panel.getByRole('button', { name: 'Leave out action topw.left' }).click();
  await expect(page).toHaveURL(/not_action=topw\.left/);
  await expect.poll(() => held).toBeGreaterThan(0);
  const pending = panel.getByTestId('top-values-pending');
  await expect(pending).toBeVisible();
  await expect(pending).toContainText('Counting under the filters now on screen');
  await expect(panel).toHaveAttribute('aria-busy', 'true');
  // The earlier lists keep their space but cannot be read or clicked.
  await expect(countOf('action', 'topw.left')).toBeHidden();
  await expect(panel.getByRole('button', { name: 'Show only action topw.kept' })).toBeHidden();
  await page.screenshot({ path: 'test-results/top-values-counting-1280.png' });
  await accessible(page, 'Top values while counted again');

  release();
  await expect(pending).toHaveCount(0);
  await expect(panel).toHaveAttribute('aria-busy', 'false');
  await expect(countOf('action', 'topw.kept')).toHaveText('2');
  await expect(countOf('action', 'topw.left')).toHaveCount(0);
  await expect(countOf('ip', '192.0.2.60')).toBeVisible();
  await page.unroute(/\/api\/top_values_under/);
});

test('without Live, entries that arrive after the list was read are announced, and shown on request', async ({ page, request }) => {
  const marker = unique('cue');
  const event = { action: 'cue.arrived', actor: { id: `${marker}-a`, type: 'user' }, ip: '192.0.2.9', status: 'success' };
  await ingest(request, [event]);
  await ready(page, `/audit?q=${marker}`);
  expect(await shownSeqs(page)).toHaveLength(1);
  await expect(page.getByTestId('new-entries-cue')).toHaveCount(0);
  await ingest(request, [event, event]);
  // The log asks every 10 s.
  await expect(page.getByTestId('new-entries-cue')).toBeVisible({ timeout: 25_000 });
  await accessible(page, 'the new-entries cue');
  expect(await shownSeqs(page)).toHaveLength(1);
  await page.getByTestId('new-entries-cue').click();
  await expect(rows(page)).toHaveCount(3);
  await expect(page.getByTestId('new-entries-cue')).toHaveCount(0);
});

test('a value no entry has ever had is named in the empty result', async ({ page }) => {
  const marker = unique('never');
  await ready(page, `/audit?action=nope.nope&user=${marker}&status=failure`);
  const said = page.getByTestId('never-recorded');
  await expect(said).toContainText('No entry has ever had action nope.nope.');
  await expect(said).toContainText(`No entry has ever had user ${marker}.`);
  // A combination that matches nothing names no value: each was recorded.
  await page.goto('/audit?action=user.login&status=failure&user=admin@company.com&q=zzz-nothing');
  await expect(page.getByTestId('empty-state')).toBeVisible();
  await expect(page.getByTestId('never-recorded')).toHaveCount(0);
});

test('= and ≠ on a row cell filter by its value without opening the entry', async ({ page, request }) => {
  const marker = unique('rowv');
  const events: Event[] = ['rowv.keep', 'rowv.drop', 'rowv.drop'].map((action, i) => ({
    action,
    actor: { id: `${marker}-${i}`, type: 'user' },
    ip: `192.0.2.${70 + i}`,
    status: 'success',
  }));
  const recorded = await ingest(request, events);
  const seqs = recorded.map((r) => String(r.seq));
  await ready(page, `/audit?q=${marker}`);
  expect(await shownSeqs(page)).toEqual([...seqs].sort());

  // The buttons appear on the cell under the pointer.
  const row = rows(page).filter({ hasText: 'rowv.drop' }).first();
  const cell = row.locator('td.has-values', { hasText: 'rowv.drop' });
  const leaveOut = cell.getByRole('button', { name: 'Leave out action rowv.drop' });
  await expect(leaveOut).toBeHidden();
  await cell.hover();
  await expect(leaveOut).toBeVisible();
  await leaveOut.click();
  await expect(page).toHaveURL(/not_action=rowv\.drop/);
  await expect(page).not.toHaveURL(/entry=/);
  await expect(page.getByTestId('entry-detail')).toHaveCount(0);
  expect(await shownSeqs(page)).toEqual([seqs[0]]);

  // = on the remaining row's IP.
  const ipCell = rows(page).first().locator('td.has-values', { hasText: '192.0.2.70' });
  await ipCell.hover();
  await ipCell.getByRole('button', { name: 'Show only IP 192.0.2.70' }).click();
  await expect(page).toHaveURL(/[?&]ip=192\.0\.2\.70/);
  expect(await shownSeqs(page)).toEqual([seqs[0]]);
});

test('the context pivot shows everything around the entry with it kept open; pivots chain and Back returns', async ({ page, request }) => {
  const marker = unique('ctx');
  const events: Event[] = ['ctx.one', 'ctx.two'].map((action, i) => ({
    action,
    actor: { id: `${marker}-${i}`, type: 'user' },
    ip: '192.0.2.80',
    status: 'success',
  }));
  const recorded = await ingest(request, events);
  const start = `/audit?q=${marker}&action=ctx.one`;
  await ready(page, start);
  await rows(page).first().click();
  const panel = page.getByTestId('entry-detail');
  await expect(panel).toBeVisible();
  const opened = page.url();
  expect(opened).toMatch(/entry=/);

  await panel.getByRole('button', { name: 'Everything ±15 minutes around it' }).click();
  await expect(page).toHaveURL(/from=.*to=/);
  await expect(page).not.toHaveURL(/[?&]q=/);
  await expect(page).not.toHaveURL(/[?&]action=/);
  await expect(page).toHaveURL(/entry=/);
  await expect(panel).toBeVisible();
  // Both entries are within the window; the open one is highlighted.
  const open = page.locator(`tbody tr.open[data-seq="${recorded[0].seq}"]`);
  await expect(open).toHaveCount(1);
  await expect(page.locator(`tbody tr[data-seq="${recorded[1].seq}"]`)).toHaveCount(1);
  await accessible(page, 'the context view around an entry, the entry highlighted');
  const around = page.url();

  // Chained: only this user, within the same window.
  await panel.getByRole('button', { name: 'Only this user', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`user=${marker}-0`));
  await expect(page).toHaveURL(/from=.*to=/);
  await expect(page.locator(`tbody tr[data-seq="${recorded[1].seq}"]`)).toHaveCount(0);
  await expect(panel).toBeVisible();

  // Back, and Back again: each view as it was.
  await page.goBack();
  await expect(page).toHaveURL(around);
  await page.goBack();
  await expect(page).toHaveURL(opened);
  await expect(page.getByText(`Action: ctx.one`)).toBeVisible();
});
