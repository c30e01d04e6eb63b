import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessible, ingestKey, ready, signInAs, unique } from './session';

// The Exports page: a schedule made from the audit log's filters (built with the pickers),
// run now, seen in the history, downloaded and verified offline; who may do what.

test('a schedule made from the audit log filters runs now, and its bundle downloads and verifies', async ({ page }) => {
  test.setTimeout(180_000);
  await ready(page, '/audit');
  // The filter, through the pickers.
  await page.getByTestId('status-picker').selectOption('failure');
  await expect(page).toHaveURL(/status=failure/);
  await page.getByTestId('export').click();
  const dialog = page.getByTestId('export-dialog');
  await expect(dialog).toBeVisible();
  await dialog.getByTestId('schedule-export').click();

  await expect(page.getByRole('heading', { name: 'Exports', level: 1 })).toBeVisible();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const form = page.getByTestId('schedule-form');
  await expect(form).toBeVisible();
  await expect(form.getByTestId('schedule-filter')).toHaveValue('status=failure');
  // The dialog's format (CSV) comes along; this schedule writes archive bundles.
  await expect(form.getByTestId('schedule-format')).toHaveValue('csv');
  await form.getByTestId('schedule-format').selectOption('bundle');
  const name = unique('Daily failures');
  await form.getByTestId('schedule-name').pressSequentially(name, { delay: 40 });
  await form.getByTestId('schedule-cadence').selectOption('daily');
  await form.getByTestId('schedule-zone').fill('');
  await form.getByTestId('schedule-zone').pressSequentially('Mars/Base', { delay: 40 });
  await form.getByTestId('schedule-save').click();
  // Refused with how to fix it; nothing saved.
  await expect(form.getByTestId('schedule-error')).toContainText('is not an IANA zone name');
  await form.getByTestId('schedule-zone').fill('');
  await form.getByTestId('schedule-zone').pressSequentially('Europe/Berlin', { delay: 40 });
  await form.getByTestId('schedule-save').click();
  await expect(form).toHaveCount(0);

  const row = page.getByTestId('schedule-row').filter({ hasText: name });
  await expect(row).toContainText('Daily (Europe/Berlin)');
  await expect(row).toContainText('status=failure');
  await accessible(page, 'the exports page with a schedule');
  await page.screenshot({ path: 'test-results/exports.png', fullPage: true });

  await row.getByTestId('run-now').click();
  await expect(page.getByTestId('schedule-message')).toContainText('Asked for the period');
  // The scheduler takes it within its tick; the history shows it done.
  const run = page.getByTestId('run-row').filter({ hasText: name }).first();
  const asked = Date.now();
  await expect(async () => {
    await page.goto('/exports');
    await expect(page.getByTestId('run-row').filter({ hasText: name }).first()).toHaveAttribute(
      'data-status',
      'succeeded',
      { timeout: 1000 },
    );
  }).toPass({ timeout: 60_000 });
  console.log(`run now to succeeded: ${Date.now() - asked} ms`);
  await expect(run).toContainText('(run now by admin@company.com)');
  await accessible(page, 'the exports page with its history');
  for (const [width, scheme] of [[1280, 'dark'], [768, 'light']] as const) {
    await page.setViewportSize({ width, height: 900 });
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: `test-results/exports-history-${width}-${scheme}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'light' });

  const download = page.waitForEvent('download');
  await run.getByTestId('download-run').click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^trailkeep-[0-9a-f]{8}-\d{8}T\d{6}Z_\d{8}T\d{6}Z\.tar\.gz$/);
  const path = (await file.path())!;
  expect(readFileSync(path).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  // Verified offline with the log's key, as an auditor would.
  const key = (await (await page.request.get('/api/v1/integrity/key', { headers: { Authorization: `Bearer ${ingestKey}` } })).text()).trim();
  const out = execFileSync(process.env.TRAILKEEP_BIN!, ['verify-export', path, '--key', key]).toString();
  expect(out).toMatch(/^ok bundle of \d+ entries/);
  expect(out).toContain('filter: status=failure');

  // Changed, then deleted: the history stays.
  await row.getByTestId('change-schedule').click();
  await page.getByTestId('schedule-cadence').selectOption('weekly');
  await page.getByTestId('schedule-save').click();
  await expect(row).toContainText('Weekly, Mondays (Europe/Berlin)');
  page.once('dialog', (d) => d.accept());
  await row.getByTestId('delete-schedule').click();
  await expect(page.getByTestId('schedule-row').filter({ hasText: name })).toHaveCount(0);
  await expect(page.getByTestId('run-row').filter({ hasText: name }).first()).toBeVisible();
});

test('a schedule that writes NDJSON is made from the export dialog, and its file and checkpoint download and verify', async ({ page }) => {
  test.setTimeout(180_000);
  await ready(page, '/audit');
  await page.getByTestId('status-picker').selectOption('success');
  await expect(page).toHaveURL(/status=success/);
  await page.getByTestId('export').click();
  const dialog = page.getByTestId('export-dialog');
  await expect(dialog).toBeVisible();
  // The format chosen in the dialog is the schedule's.
  await dialog.locator('input[name="export-format"][value="ndjson"]').check();
  await dialog.getByTestId('schedule-export').click();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const form = page.getByTestId('schedule-form');
  await expect(form.getByTestId('schedule-format')).toHaveValue('ndjson');
  await expect(form.getByTestId('schedule-filter')).toHaveValue('status=success');
  const name = unique('Daily NDJSON');
  await form.getByTestId('schedule-name').pressSequentially(name, { delay: 40 });
  await form.getByTestId('schedule-cadence').selectOption('daily');
  await form.getByTestId('schedule-zone').fill('');
  await form.getByTestId('schedule-zone').pressSequentially('UTC', { delay: 40 });
  await form.getByTestId('schedule-save').click();
  await expect(form).toHaveCount(0);
  const row = page.getByTestId('schedule-row').filter({ hasText: name });
  await expect(row).toContainText('NDJSON');
  await row.getByTestId('run-now').click();
  await expect(page.getByTestId('schedule-message')).toContainText('Asked for the period');
  const run = page.getByTestId('run-row').filter({ hasText: name }).first();
  await expect(async () => {
    await page.goto('/exports');
    await expect(run).toHaveAttribute('data-status', 'succeeded', { timeout: 1000 });
  }).toPass({ timeout: 60_000 });
  await accessible(page, 'the exports page with an NDJSON run');
  // At 1024 px both tables fit without scrolling sideways: the schedules' buttons and the
  // run's period wrap.
  await page.setViewportSize({ width: 1024, height: 800 });
  for (const table of ['schedule-table', 'run-table']) {
    const wrap = page.getByTestId(table).locator('xpath=..');
    await expect
      .poll(() => wrap.evaluate((w) => w.scrollWidth - w.clientWidth), { message: table })
      .toBeLessThanOrEqual(1);
  }

  const download = page.waitForEvent('download');
  await run.getByTestId('download-run').click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^trailkeep-[0-9a-f]{8}-\d{8}T\d{6}Z_\d{8}T\d{6}Z\.ndjson$/);
  const path = (await file.path())!;
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  for (const line of lines) expect(JSON.parse(line).status).toBe('success');
  const beside = page.waitForEvent('download');
  await run.getByTestId('download-run-head').click();
  const head = await beside;
  expect(head.suggestedFilename()).toBe(`${file.suggestedFilename()}.head.json`);
  expect(JSON.parse(readFileSync((await head.path())!, 'utf8')).count).toBe(lines.length);
  // Saved side by side under their names, as an auditor keeps them: verify-export reads the head.
  const dir = mkdtempSync(join(tmpdir(), 'trailkeep-e2e-'));
  copyFileSync(path, join(dir, file.suggestedFilename()));
  copyFileSync((await head.path())!, join(dir, head.suggestedFilename()));
  const key = (await (await page.request.get('/api/v1/integrity/key', { headers: { Authorization: `Bearer ${ingestKey}` } })).text()).trim();
  const out = execFileSync(process.env.TRAILKEEP_BIN!, [
    'verify-export', join(dir, file.suggestedFilename()), '--key', key,
  ]).toString();
  expect(out).toContain(`ok ${lines.length} entries`);
  expect(out).toContain('scheduled export: the entries recorded from');
  expect(out).not.toContain('not checked: the number of entries');
  page.once('dialog', (d) => d.accept());
  await row.getByTestId('delete-schedule').click();
  await expect(page.getByTestId('schedule-row').filter({ hasText: name })).toHaveCount(0);
});

test('a compliance officer sees schedules and history but cannot change them; a member is refused', async ({ browser }) => {
  const auditor = await signInAs(browser, 'auditor@company.com', '/exports');
  await expect(auditor.getByRole('heading', { name: 'Exports', level: 1 })).toBeVisible();
  await expect(auditor.getByTestId('new-schedule')).toHaveCount(0);
  await expect(auditor.getByTestId('run-now')).toHaveCount(0);
  await expect(auditor.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Exports' })).toBeVisible();
  await accessible(auditor, 'the exports page for a compliance officer');
  await auditor.context().close();
  // The demo member (account.spec changes Tess's password; a failed sign-in here would count
  // toward the address's failures that other specs read).
  const member = await signInAs(browser, 'member@company.com', '/exports');
  await expect(member.getByRole('alert')).toContainText('Only admins and compliance officers');
  await member.context().close();
});

test('an S3 destination is made through the form, its credentials never come back, and a private endpoint is refused by the outbound guard', async ({ page }) => {
  test.setTimeout(120_000);
  await ready(page);
  await page.goto('/exports');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.getByTestId('new-schedule').click();
  const form = page.getByTestId('schedule-form');
  const name = unique('Nightly to S3');
  await form.getByTestId('schedule-name').pressSequentially(name, { delay: 30 });
  await form.getByTestId('schedule-cadence').selectOption('daily');
  // A new schedule's folder follows its cadence until it is typed in.
  await expect(form.getByTestId('schedule-folder')).toHaveValue('daily');
  await form.getByTestId('schedule-destination').selectOption('s3');
  await expect(form.getByTestId('schedule-folder')).toHaveCount(0);
  const s3 = form.getByTestId('schedule-s3');
  await s3.getByTestId('s3-endpoint').pressSequentially('http://127.0.0.1:9', { delay: 20 });
  await s3.getByTestId('s3-bucket').pressSequentially('audit-archive', { delay: 20 });
  await s3.getByTestId('s3-prefix').pressSequentially('trailkeep/nightly', { delay: 20 });
  await s3.getByTestId('s3-path-style').check();
  await s3.getByTestId('s3-lock-days').fill('30');
  await s3.getByTestId('s3-access-key').pressSequentially('AKIAE2ETEST', { delay: 20 });
  // Only one of the two: refused, saying how to fix it.
  await form.getByTestId('schedule-save').click();
  await expect(form.getByTestId('schedule-error')).toContainText('give both the access key ID and the secret access key');
  await s3.getByTestId('s3-secret').pressSequentially('e2e-secret-value', { delay: 20 });
  await accessible(page, 'the schedule form with an S3 destination');
  await page.screenshot({ path: 'test-results/exports-s3-form.png', fullPage: true });
  await form.getByTestId('schedule-save').click();
  await expect(form).toHaveCount(0);
  const row = page.getByTestId('schedule-row').filter({ hasText: name });
  await expect(row).toContainText('s3://audit-archive/trailkeep/nightly (locked 30 days, compliance)');
  const listed = await page.content();
  expect(listed).not.toContain('e2e-secret-value');
  expect(listed).not.toContain('AKIAE2ETEST');

  // Changing it: the credentials are only "set"; another bucket asks for them again.
  await row.getByTestId('change-schedule').click();
  const change = page.getByTestId('schedule-form');
  await expect(change.getByTestId('s3-secret')).toHaveValue('');
  await expect(change.getByTestId('s3-secret')).toHaveAttribute('placeholder', 'set (type to replace)');
  await change.getByTestId('s3-bucket').fill('');
  await change.getByTestId('s3-bucket').pressSequentially('other-bucket', { delay: 20 });
  await change.getByTestId('schedule-save').click();
  await expect(change.getByTestId('schedule-error')).toContainText('stored ones are used only with the endpoint, bucket and addressing');
  await change.getByRole('button', { name: 'Cancel' }).click();

  // Run now: 127.0.0.1 is not public and this server allows no private network, so the
  // upload never leaves; the history says why and when it is tried again.
  await row.getByTestId('run-now').click();
  await expect(async () => {
    await page.goto('/exports');
    const run = page.getByTestId('run-row').filter({ hasText: name }).first();
    await expect(run.locator('.run-error')).toContainText('TRAILKEEP_OUTBOUND_ALLOW', { timeout: 1000 });
  }).toPass({ timeout: 60_000 });
  await expect(page.getByTestId('run-row').filter({ hasText: name }).first()).toContainText('Retrying at');
  page.once('dialog', (d) => d.accept());
  await page.getByTestId('schedule-row').filter({ hasText: name }).getByTestId('delete-schedule').click();
  await expect(page.getByTestId('schedule-row').filter({ hasText: name })).toHaveCount(0);
});

test('the month view shows each month of the log online, and which are archived', async ({ page }) => {
  await ready(page);
  await page.goto('/exports');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const months = page.getByTestId('month-table');
  await expect(months).toBeVisible();
  const rows = months.getByTestId('month-row');
  expect(await rows.count()).toBeGreaterThan(0);
  // The newest month holds the demo's entries: online, with its seq range.
  await expect(rows.first()).toContainText('✓ Online');
  await expect(rows.first()).toHaveAttribute('data-archived', /^(none|partly|whole)$/);
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await accessible(page, `the month view (${scheme})`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await months.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/exports-months.png', fullPage: true });
});

test('the retention policy is set through its form, only with a schedule that can archive whole months', async ({ page, browser }) => {
  await ready(page);
  await page.goto('/exports');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const policy = page.getByTestId('retention-policy');
  await expect(policy.getByTestId('retention-summary')).toContainText('Every month stays in the database');
  // A schedule that can archive for retention: monthly, UTC, bundle, no filter.
  await page.getByTestId('new-schedule').click();
  const form = page.getByTestId('schedule-form');
  const name = unique('Monthly archive');
  await form.getByTestId('schedule-name').pressSequentially(name, { delay: 30 });
  await form.getByTestId('schedule-cadence').selectOption('monthly');
  await form.getByTestId('schedule-zone').fill('');
  await form.getByTestId('schedule-zone').pressSequentially('UTC', { delay: 40 });
  await form.getByTestId('schedule-filter').fill('');
  await form.getByTestId('schedule-save').click();
  await expect(form).toHaveCount(0);

  const option = page.getByTestId('retention-schedule').locator('option', { hasText: name });
  await expect(option).toHaveCount(1);
  const id = await option.getAttribute('value');
  await page.getByTestId('retention-schedule').selectOption(id!);
  await page.getByTestId('retention-keep').fill('');
  await page.getByTestId('retention-keep').pressSequentially('13', { delay: 60 });
  await page.getByTestId('retention-save').click();
  await expect(policy.getByTestId('retention-summary')).toContainText(
    `The current month and the 13 before it stay in the database. Each older month is archived by “${name}”`,
  );
  await expect(policy).toContainText('by admin@company.com');
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await accessible(page, `the retention policy (${scheme})`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await policy.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/exports-retention.png', fullPage: true });

  // A compliance officer reads it, without the form.
  const auditor = await signInAs(browser, 'auditor@company.com', '/exports');
  await expect(auditor.getByTestId('retention-summary')).toContainText('the 13 before it');
  await expect(auditor.getByTestId('retention-form')).toHaveCount(0);
  await auditor.context().close();

  // The change is in the audit log; then every month stays again.
  const api = await page.request.get('/api/v1/events?action=retention.policy_updated&limit=1', {
    headers: { Authorization: `Bearer ${ingestKey}` },
  });
  const recorded = (await api.json()).entries[0];
  expect(recorded.details.after).toEqual({ keep_months: 13, schedule_id: id });
  expect(recorded.actor.email ?? recorded.actor.id).toContain('admin@company.com');
  await page.goto('/exports');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.getByTestId('retention-schedule').selectOption('');
  await page.getByTestId('retention-save').click();
  await expect(page.getByTestId('retention-summary')).toContainText('Every month stays in the database');
});
