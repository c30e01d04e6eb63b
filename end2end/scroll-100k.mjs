// Scrolls the audit log until ROWS entries are loaded, then measures frame times while scrolling
// through them (run against a server whose log holds at least ROWS entries).
import { chromium } from '@playwright/test';

const base = process.env.TRAILKEEP_E2E_URL;
const target = Number(process.env.ROWS ?? 100000);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
await page.goto(`${base}/login`);
await page.fill('#email', 'admin@company.com');
await page.fill('#password', process.env.TRAILKEEP_DEMO_PASSWORD ?? 'trailkeep-demo');
await Promise.all([page.waitForURL(/\/audit/), page.click('button[type=submit]')]);
await page.waitForSelector('body[data-hydrated="true"]');

const started = Date.now();
const loaded = await page.evaluate(async (target) => {
  const el = document.querySelector('[data-testid=entry-scroll]');
  const rows = () => Math.round(el.scrollHeight / 36);
  while (rows() < target) {
    el.scrollTop = el.scrollHeight;
    await new Promise((r) => setTimeout(r, 5));
  }
  return rows();
}, target);
const loadSecs = (Date.now() - started) / 1000;

// 600 frames of scrolling: 400 px per frame, then jumps across the whole list.
const frames = await page.evaluate(async () => {
  const el = document.querySelector('[data-testid=entry-scroll]');
  el.scrollTop = 0;
  const deltas = [];
  let maxRows = 0;
  let last = performance.now();
  for (let i = 0; i < 600; i++) {
    el.scrollTop = i < 300 ? i * 400 : Math.random() * el.scrollHeight;
    await new Promise((r) => requestAnimationFrame(r));
    const now = performance.now();
    deltas.push(now - last);
    last = now;
    maxRows = Math.max(maxRows, document.querySelectorAll('table.entry-table tr').length);
  }
  deltas.sort((a, b) => a - b);
  return { p50: deltas[300], p95: deltas[570], max: deltas[599], maxRows };
});
console.log(`| rows loaded | load time (s) | frame p50 (ms) | frame p95 (ms) | frame max (ms) | max <tr> in DOM |`);
console.log(`| --- | --- | --- | --- | --- | --- |`);
console.log(`| ${loaded} | ${loadSecs.toFixed(1)} | ${frames.p50.toFixed(1)} | ${frames.p95.toFixed(1)} | ${frames.max.toFixed(1)} | ${frames.maxRows} |`);
await browser.close();
