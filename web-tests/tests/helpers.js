// Shared helpers of the browser tests: the browser, the API (bearer tokens for the changes
// the tests make "from outside"), axe-core, screenshots.
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const BASE = process.env.GAD_BASE_URL || 'http://127.0.0.1:8000';
const ROOT = process.env.GAD_ROOT || path.resolve(__dirname, '..', '..');
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1'
  ? path.join(ROOT, 'docs', 'img')
  : path.join(ROOT, 'web-tests', 'results');

const USERS = {
  admin: { email: 'admin@gad.local', password: 'GadAdmin2026!' },
  supervisor: { email: 'supervisor1@gad.local', password: 'Supervisor2026!' },
  efectivo: { email: 'efectivo1@gad.local', password: 'Efectivo2026!' }
};

async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // No background traffic: the network is closed except for the server under test.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // The console's alarms must be observable as sounds started; a desk browser gets the
      // same after its first click (the alarm bar offers one when sound is blocked).
      '--autoplay-policy=no-user-gesture-required']
  });
}

/** A page that records console errors and CSP violations, which fail the test at the end. */
async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 820 }, locale: 'es-AR' });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => {
    const text = m.text();
    // Tiles are unreachable on purpose (MAP_TILE_URL points at a closed port).
    if (m.type() === 'error' && !/127\.0\.0\.1:9\/tiles|ERR_CONNECTION_REFUSED|Failed to load resource/.test(text)) {
      page.problems.push(text);
    }
  });
  page.on('pageerror', (e) => page.problems.push(String(e)));
  return page;
}

function noProblems(page) {
  assert.deepEqual(page.problems, [], 'console errors or CSP violations');
}

async function api(method, urlPath, token, body) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(BASE + urlPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { json = null; }
  return { status: r.status, body: json, text };
}

async function token(user) {
  const r = await api('POST', '/api/v1/auth/login', null, { username: user.email, password: user.password });
  assert.equal(r.status, 200, r.text);
  return r.body.access_token;
}

/** Logs in through the form; resolves with the milliseconds from the click to the dashboard. */
async function login(page, user, expectPath = '/dashboard') {
  await page.goto(BASE + '/login');
  await page.fill('input[name="username"]', user.email);
  await page.fill('input[name="password"]', user.password);
  const t0 = await page.evaluate(() => Date.now());
  await Promise.all([
    page.waitForURL((u) => u.pathname === expectPath, { timeout: 10000 }),
    page.click('button[type="submit"]')
  ]);
  return t0;
}

/** axe-core on the current page: no serious or critical violation. axe is evaluated over
 *  the DevTools protocol, so the page's CSP (no inline script) stays on. */
async function axe(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  assert.deepEqual(bad, [], `axe on ${name}`);
}

async function screenshot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, name + '.png') });
}

module.exports = { BASE, ROOT, USERS, launch, newPage, noProblems, api, token, login, axe, screenshot };
