// Screenshots of the console as a user sees it (not part of make test): the detail panel's
// "Recorded by", the source chip, and live mode stopped after too many held entries.
import { chromium } from '@playwright/test';

const base = process.env.TRAILKEEP_E2E_URL;
const out = process.env.OUT ?? '/tmp/look';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
for (const [scheme, width] of [['light', 1280], ['dark', 1280], ['light', 768], ['dark', 768]]) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(`${base}/login`);
  await page.fill('#email', 'admin@company.com');
  await page.fill('#password', 'trailkeep-demo');
  await Promise.all([page.waitForURL(/\/audit/), page.click('button[type=submit]')]);
  await page.waitForSelector('body[data-hydrated="true"]');
  await page.locator('tbody tr[data-seq]').first().click();
  await page.getByTestId('detail-source').waitFor();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.waitForTimeout(300);
  await page.getByTestId('detail-source').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${out}-detail-${scheme}-${width}.png` });
  await page.getByRole('button', { name: 'Only this source' }).click();
  await page.waitForTimeout(800);
  await page.screenshot({ path: `${out}-source-${scheme}-${width}.png` });
  console.log(scheme, width, 'console errors:', errors.length, errors.slice(0, 3));
  await context.close();
}
await browser.close();
