// Time to first render of the audit log on loopback, in Debian's Chromium: signs in once, then
// loads /audit RUNS times with a cold and with a warm cache and prints the medians (run by
// `make bench-console`).
import { chromium } from '@playwright/test';

const base = process.env.TRAILKEEP_E2E_URL;
const runs = Number(process.env.RUNS ?? 30);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
await page.goto(`${base}/login`);
await page.fill('#email', 'admin@company.com');
await page.fill('#password', process.env.TRAILKEEP_DEMO_PASSWORD ?? 'trailkeep-demo');
await Promise.all([page.waitForURL(/\/audit/), page.click('button[type=submit]')]);

// Cold: the browser cache disabled, so every load fetches and compiles the bundle (what a
// first visit costs); warm: the bundle from the cache (it is served as immutable).
const cdp = await context.newCDPSession(page);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`| cache | runs | HTML received (ms) | first contentful paint (ms) | interactive, hydrated (ms) | bundle as sent (KB, brotli) |`);
console.log(`| --- | --- | --- | --- | --- | --- |`);
for (const cold of [true, false]) {
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: cold });
  const samples = { html: [], fcp: [], hydrated: [], bundle: [] };
  for (let i = 0; i < runs; i++) {
    await page.goto(`${base}/audit`, { waitUntil: 'commit' });
    await page.waitForSelector('body[data-hydrated="true"]');
    const t = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const bundle = performance
        .getEntriesByType('resource')
        .filter((r) => r.name.includes('/pkg/'))
        .reduce((sum, r) => sum + r.encodedBodySize, 0);
      return { html: nav.responseEnd - nav.startTime, fcp: fcp ? fcp.startTime : NaN, hydrated: performance.now(), bundle: bundle / 1000 };
    });
    for (const k of Object.keys(samples)) samples[k].push(t[k]);
  }
  console.log(`| ${cold ? 'cold' : 'warm'} | ${runs} | ${median(samples.html).toFixed(1)} | ${median(samples.fcp).toFixed(1)} | ${median(samples.hydrated).toFixed(1)} | ${median(samples.bundle).toFixed(0)} |`);
}
await browser.close();
