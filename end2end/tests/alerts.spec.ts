import { expect, test } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { accessible, ingest, ready, rows, signInAs, unique } from './session';

// The Alerts page: a rule made from the audit log's filters (typed into the search box as a
// person types), its preview over the last 7 days, a webhook channel (its secret shown once),
// the rule fired by ingested events, its delivery signed and logged; from the alert to its
// entries, and from an entry back to its alert and its deliveries.

type Received = { id: string; timestamp: string; signature: string; body: string };

/** A webhook receiver on 127.0.0.2 (the one loopback address the e2e server allows) that keeps what it gets and answers 200. */
async function receiver() {
  const got: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({
        id: String(req.headers['webhook-id'] ?? ''),
        timestamp: String(req.headers['webhook-timestamp'] ?? ''),
        signature: String(req.headers['webhook-signature'] ?? ''),
        body,
      });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.2', done));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.2:${port}/hook`, got, close: () => server.close() };
}

/** The Standard Webhooks signature of `r` under `secret` (whsec_ + base64). */
function signed(r: Received, secret: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key).update(`${r.id}.${r.timestamp}.${r.body}`).digest('base64');
  return r.signature.split(' ').includes(`v1,${mac}`);
}

test('a rule from the audit log filters previews, fires on new entries and its delivery is logged', async ({ page, request }) => {
  test.setTimeout(180_000);
  const hook = await receiver();
  const marker = unique('alrt');
  const failure = (i: number, ip = '203.0.113.7') => ({
    action: 'user.login_failed',
    actor: { id: `${marker}-${i}`, type: 'user' },
    status: 'failure',
    ip,
  });
  // Three earlier failures from another address: the preview finds them.
  const earlier = '198.51.100.1';
  await ingest(request, [failure(1, earlier), failure(2, earlier), failure(3, earlier)]);

  await ready(page, '/audit');
  const box = page.getByRole('searchbox', { name: 'Search the audit log' });
  await box.pressSequentially(marker, { delay: 60 });
  await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe(marker);
  await expect(rows(page)).toHaveCount(3);
  await page.getByTestId('new-alert-rule').click();

  await expect(page.getByRole('heading', { name: 'Alerts', level: 1 })).toBeVisible();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  // A channel first: the receiver, its secret shown once. (Its name does not carry the
  // marker: its own entry would match the rule's search.)
  const receiverName = unique('Receiver');
  await page.getByTestId('new-channel').click();
  const channelForm = page.getByTestId('channel-form');
  await channelForm.getByTestId('channel-name').pressSequentially(receiverName, { delay: 20 });
  await channelForm.getByTestId('channel-url').fill('http://10.0.0.1/hook');
  await channelForm.getByTestId('channel-save').click();
  await expect(channelForm.getByTestId('channel-error')).toContainText('TRAILKEEP_OUTBOUND_ALLOW');
  await channelForm.getByTestId('channel-url').fill(hook.url);
  await channelForm.getByTestId('channel-save').click();
  const secret = (await page.getByTestId('channel-secret-text').textContent()) ?? '';
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
  await expect(page.getByTestId('channel-row').filter({ hasText: receiverName })).toContainText('http://127.0.0.2');

  const form = page.getByTestId('rule-form');
  await expect(form).toBeVisible();
  // The audit log's filter came along, in the same search box, pickers and chips.
  await expect(form.getByRole('searchbox', { name: 'Search the audit log' })).toHaveValue(marker);
  await form.getByText('The filter as text').click();
  await expect(form.getByTestId('rule-filter')).toHaveValue(`q=${marker}`);
  // Narrowed with the form's own status picker; the chip says so, removing it undoes it.
  await form.getByTestId('status-picker').selectOption('failure');
  await expect(form.getByRole('button', { name: 'Remove filter Status: Failure' })).toBeVisible();
  await expect(form.getByTestId('rule-filter')).toHaveValue(new RegExp(`^(q=${marker}&status=failure|status=failure&q=${marker})$`));
  await form.getByRole('button', { name: 'Remove filter Status: Failure' }).click();
  await expect(form.getByTestId('rule-filter')).toHaveValue(`q=${marker}`);
  await form.getByTestId('status-picker').selectOption('failure');
  // The page's address never carried any of it.
  await expect(page).not.toHaveURL(/status=failure/);
  await accessible(page, 'the rule form with its filter');
  await page.screenshot({ path: 'test-results/alerts-rule-form.png', fullPage: true });
  await form.getByTestId('rule-name').pressSequentially(`Spike ${marker}`, { delay: 30 });
  await form.getByTestId('rule-severity').selectOption('critical');
  await form.getByTestId('rule-at-least').fill('3');
  await form.getByTestId('rule-window').fill('10');
  await form.getByTestId('rule-group-by').selectOption('ip');
  await form.getByTestId('rule-pending').fill('0');
  await form.getByTestId('rule-cooldown').fill('5');
  await form.getByTestId('rule-preview-button').click();
  await expect(form.getByTestId('rule-preview-words')).toHaveText(
    'Would have fired once in the last 7 days (3 matching entries).',
  );
  // The channel made while the form was open is offered: chosen.
  const box2 = form.getByRole('checkbox', { name: new RegExp(receiverName) });
  await box2.check();
  await expect(box2).toBeChecked();
  await form.getByTestId('rule-save').click();
  await expect(form).toHaveCount(0);
  const rule = page.getByTestId('rule-row').filter({ hasText: `Spike ${marker}` });
  await expect(rule.getByTestId('rule-state')).toHaveText('ok');
  await accessible(page, 'the alerts page with a rule and a channel');

  // Three new failures: the rule fires; the receiver gets one signed notification.
  await ingest(request, [failure(4), failure(5), failure(6)]);
  await expect.poll(() => hook.got.length, { timeout: 30_000 }).toBe(1);
  const note = hook.got[0];
  expect(signed(note, secret)).toBe(true);
  const body = JSON.parse(note.body);
  expect(body.type).toBe('alert.fired');
  expect(body.data.alert.group).toBe('203.0.113.7');
  expect(body.data.entries).toHaveLength(3);
  await expect(async () => {
    await page.goto('/alerts');
    await expect(page.getByTestId('rule-row').filter({ hasText: `Spike ${marker}` }).getByTestId('rule-state'))
      .toHaveText('firing', { timeout: 1000 });
    await expect(page.getByTestId('delivery-row').first().getByTestId('delivery-state'))
      .toHaveText('delivered', { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('delivery-row').first()).toContainText(`Spike ${marker}`);
  await expect(page.getByTestId('delivery-row').first()).toContainText('200 in');
  await accessible(page, 'the alerts page with an alert and its delivery');
  for (const [width, scheme] of [[1280, 'light'], [1280, 'dark'], [1024, 'light'], [768, 'light'], [768, 'dark']] as const) {
    await page.setViewportSize({ width, height: 900 });
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: `test-results/alerts-${width}-${scheme}.png`, fullPage: true });
    // How far the page scrolls sideways, and the innermost elements reaching past its right edge.
    const [sideways, past] = await page.evaluate(() => {
      const root = document.scrollingElement!;
      const edge = root.clientWidth;
      const past = [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > edge + 1)
        .filter((el) => ![...el.children].some((c) => c.getBoundingClientRect().right > edge + 1))
        .slice(0, 5)
        .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} "${(el.textContent ?? '').slice(0, 40)}"`);
      return [root.scrollWidth - edge, past] as const;
    });
    expect(sideways, `the alerts page at ${width} px: sideways scroll, past the edge: ${past.join(' | ')}`).toBe(0);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'light' });

  // From the alert to the entries that triggered it.
  const alert = page.getByTestId('alert-row').filter({ hasText: `Spike ${marker}` }).first();
  await expect(alert).toContainText('203.0.113.7');
  await alert.getByTestId('alert-entries').click();
  await expect(page.getByRole('heading', { name: 'Audit Log' })).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`q=${marker}`));
  await expect(page).toHaveURL(/ip=203\.0\.113\.7/);
  await expect(rows(page)).toHaveCount(3);
  // From an entry back to its alert, and on to its deliveries.
  await rows(page).first().click();
  const panel = page.getByTestId('entry-detail');
  await expect(panel).toBeVisible();
  const alerts = panel.getByTestId('entry-alerts');
  await expect(alerts).toContainText(`Spike ${marker}`);
  await alerts.getByTestId('entry-alert-deliveries').click();
  await expect(page.getByRole('heading', { name: 'Alerts', level: 1 })).toBeVisible();
  await expect(page.getByTestId('delivery-alert-filter')).toBeVisible();
  await expect(page.getByTestId('delivery-row')).toHaveCount(1);
  await expect(page.getByTestId('delivery-row').getByTestId('delivery-state')).toHaveText('delivered');
  hook.close();
});

test('a compliance officer sees alerting but changes nothing', async ({ browser }) => {
  const officer = await signInAs(browser, 'auditor@company.com', '/alerts');
  await expect(officer.getByRole('heading', { name: 'Alerts', level: 1 })).toBeVisible();
  await expect(officer.getByTestId('new-rule')).toHaveCount(0);
  await expect(officer.getByTestId('new-channel')).toHaveCount(0);
  await expect(officer.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await accessible(officer, 'the alerts page for a compliance officer');
});
