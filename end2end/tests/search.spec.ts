import { expect, test, type Page } from '@playwright/test';
import { ingest, ready, rows, unique } from './session';

// Search across fields (issue 24, D3): the words of a search are ANDed across the whole entry,
// each may match a different field, "quoted phrases" match as written, and details are searched
// by their values, not their key names. Typed with human pauses, checked against a reference
// computed here from the entries this spec ingested.

type Event = {
  action: string;
  actor: { id: string; type: string; name?: string };
  status: string;
  details: Record<string, unknown>;
};

/** The terms of a search as `app::filter::search::terms` reads them. */
function terms(q: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"?|([^\s"]+)/g;
  for (const m of q.matchAll(re)) {
    const t = (m[1] ?? m[2] ?? '').trim();
    if (t) out.push(t.toLowerCase());
  }
  return out;
}

function values(v: unknown, out: string[]) {
  if (v === null || v === undefined) return;
  if (typeof v === 'object') {
    for (const x of Array.isArray(v) ? v : Object.values(v as object)) values(x, out);
  } else out.push(String(v));
}

/** The reference: every term inside one field (details: values only). */
function matches(e: Event, q: string): boolean {
  const fields = [e.actor.id, e.actor.name ?? '', e.action];
  values(e.details, fields);
  return terms(q).every((t) => fields.some((f) => f.toLowerCase().includes(t)));
}

/** Types `q` as a person does, then waits until the table shows that search. */
async function search(page: Page, q: string) {
  const box = page.getByRole('searchbox', { name: 'Search the audit log' });
  await box.fill('');
  await box.pressSequentially(q, { delay: 90 });
  await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe(q);
  await expect
    .poll(async () => {
      const shown = (await page.locator('[data-shown-filter]').first().getAttribute('data-shown-filter')) ?? '';
      return new URLSearchParams(shown).get('q');
    })
    .toBe(q);
}

test('words match across fields, phrases as written, detail values but not key names', async ({ page, request }) => {
  // Six searches typed at a person's pace.
  test.setTimeout(120_000);
  const marker = unique('srch');
  const events: Event[] = [
    { action: 'user.totp_enabled', actor: { id: `${marker}-1`, type: 'user', name: 'Grace Hopper' }, status: 'success', details: { note: 'changed region to eu-west' } },
    { action: 'user.login', actor: { id: `${marker}-2`, type: 'user', name: 'Grace Hopper' }, status: 'success', details: { note: 'region changed' } },
    { action: 'user.totp_enabled', actor: { id: `${marker}-3`, type: 'user', name: 'Alan Turing' }, status: 'success', details: { request_id: 'r-9', nested: { deep: 'Changed Region' } } },
    { action: 'config.updated', actor: { id: `${marker}-4`, type: 'user', name: 'Alan Turing' }, status: 'failure', details: { request_id: 'r-10' } },
  ];
  const recorded = await ingest(request, events);
  const seqOf = new Map(recorded.map((r, i) => [events[i].actor.id, r.seq]));
  await ready(page, '/audit');
  for (const q of [
    `${marker} grace totp`,
    `${marker} changed region`,
    `${marker} "changed region"`,
    `"region changed" ${marker}`,
    `${marker} request`,
    `${marker} alan "config.updated"`,
  ]) {
    await search(page, q);
    const expected = events.filter((e) => matches(e, q)).map((e) => String(seqOf.get(e.actor.id))).sort();
    if (expected.length === 0) {
      await expect(page.getByTestId('empty-state')).toBeVisible();
      await expect(rows(page)).toHaveCount(0);
    } else {
      await expect(rows(page)).toHaveCount(expected.length);
      const shown = (await rows(page).evaluateAll((rs) => rs.map((r) => r.getAttribute('data-seq') ?? ''))).sort();
      expect(shown, q).toEqual(expected);
    }
  }
  // The reference itself was exercised: one word each in a different field, a phrase, key names.
  expect(events.filter((e) => matches(e, `${marker} grace totp`))).toHaveLength(1);
  expect(events.filter((e) => matches(e, `${marker} request`))).toHaveLength(0);
});

test('Esc in the search box keeps the search', async ({ page }) => {
  await ready(page, '/audit');
  const box = page.getByRole('searchbox', { name: 'Search the audit log' });
  await box.pressSequentially('login', { delay: 80 });
  await expect(page).toHaveURL(/q=login/);
  await box.press('Escape');
  await expect(box).toHaveValue('login');
  await expect(page).toHaveURL(/q=login/);
});
