// The Turnos page: the day's roster follows a clock-in made through the API within 2 s;
// leave is approved from the page; axe-clean.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

let browser;
let supToken;

before(async () => {
  browser = await h.launch();
  supToken = await h.token(h.USERS.supervisor);
});
after(async () => { if (browser) await browser.close(); });

function at(minutes) {
  return new Date(Date.now() + minutes * 60000).toISOString();
}

async function shift(efectivoId, from, to, unidad) {
  const r = await h.api('POST', '/api/v1/turnos', supToken, { efectivo_id: efectivoId, inicio: at(from), fin: at(to), unidad });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}

test('roster: an officer clocked in through the API shows en_turno within 2 s', async () => {
  const list = await h.api('GET', '/api/v1/efectivos?limit=40', supToken);
  assert.equal(list.status, 200, list.text);
  const ids = list.body.map((e) => e.id).slice(-4);
  const [onTime, absent, later, other] = ids;
  const turno = await shift(onTime, -5, 240, 'Móvil 12');
  await shift(absent, -40, 240, 'Móvil 12');
  // Not started yet, and still today where the server counts days: a start an hour away would
  // fall on tomorrow's roster after 23:00 there.
  await shift(later, 2, 300, 'Puesto Norte');
  const otherTurno = await shift(other, -3, 240, 'Puesto Norte');
  assert.equal((await h.api('POST', `/api/v1/turnos/${otherTurno}/ingreso`, supToken)).status, 200);
  // A pending leave of the seeded officer, for today where the server counts days.
  const plan = await h.api('GET', '/api/v1/turnos/planilla', supToken);
  assert.equal(plan.status, 200, plan.text);
  const offToken = await h.token(h.USERS.efectivo);
  const leave = await h.api('POST', '/api/v1/licencias', offToken,
    { tipo: 'vacaciones', desde: plan.body.fecha, hasta: plan.body.fecha, motivo: 'Trámite familiar' });
  assert.equal(leave.status, 201, leave.text);

  const page = await h.newPage(browser);
  await h.login(page, h.USERS.supervisor);
  await page.click('[data-testid="nav-turnos"]');
  await page.waitForURL((u) => u.pathname === '/turnos');
  await page.locator('[data-testid="live-status"][data-state="connected"]').waitFor({ timeout: 10000 });
  const row = (id) => page.locator(`[data-testid="roster"][data-efectivo-id="${id}"]`);
  await row(onTime).waitFor();
  assert.equal(await row(onTime).getAttribute('data-estado-turno'), 'tarde');
  assert.equal(await row(absent).getAttribute('data-estado-turno'), 'ausente');
  assert.equal(await row(later).getAttribute('data-estado-turno'), 'libre');
  assert.equal(await row(other).getAttribute('data-estado-turno'), 'en_turno');

  const start = Date.now();
  const r = await h.api('POST', `/api/v1/turnos/${turno}/ingreso`, supToken);
  assert.equal(r.status, 200, r.text);
  await page.locator(`[data-testid="roster"][data-efectivo-id="${onTime}"][data-estado-turno="en_turno"]`)
    .waitFor({ timeout: 2000 });
  console.log(`# clock-in shown on the roster after ${Date.now() - start} ms`);

  const pending = page.locator(`[data-testid="leave"][data-licencia-id="${leave.body.id}"]`);
  await pending.waitFor();
  await page.locator('[data-testid="week-table"] tbody tr').first().waitFor();
  await h.axe(page, 'turnos');
  await h.screenshot(page, 'turnos');

  // Approved from the page: gone from the pending list, the officer on leave on the roster.
  await pending.locator('[data-testid="leave-approve"]').click();
  await pending.waitFor({ state: 'detached', timeout: 5000 });
  const approved = await h.api('GET', '/api/v1/licencias?estado=aprobada', supToken);
  assert.ok(approved.body.some((l) => l.id === leave.body.id), 'approved');
  await page.locator(`[data-testid="roster"][data-efectivo-id="${leave.body.efectivo_id}"][data-estado-turno="licencia"]`)
    .waitFor({ timeout: 5000 });
  h.noProblems(page);
  await page.context().close();
});

test('map: "Solo en turno" hides officers off duty, keeps those on shift, and is remembered', async () => {
  const actual = await h.api('GET', '/api/v1/turnos/actual', supToken);
  assert.equal(actual.status, 200, actual.text);
  const onDuty = new Set(actual.body.flatMap((u) => u.efectivos.map((e) => e.efectivo_id)));
  const list = await h.api('GET', '/api/v1/efectivos?limit=80', supToken);
  assert.equal(list.status, 200, list.text);
  const free = list.body.map((e) => e.id).filter((id) => !onDuty.has(id)).slice(-12);
  const onShift = free[0];
  await shift(onShift, -5, 240, 'Móvil 7');

  const page = await h.newPage(browser);
  await h.login(page, h.USERS.supervisor);
  await page.locator('[data-testid="live-status"][data-state="connected"]').waitFor({ timeout: 10000 });
  const row = (id) => page.locator(`[data-testid="unit-list"] li[data-efectivo-id="${id}"]`);
  await row(onShift).waitFor({ state: 'attached' });
  // An officer neither on a shift nor busy: the one the switch must hide.
  let off;
  for (const id of free.slice(1)) {
    if ((await row(id).getAttribute('data-estado')) === 'disponible') { off = id; break; }
  }
  assert.ok(off, 'an available officer off duty');
  const toggle = page.locator('[data-testid="on-duty-toggle"]');
  // This server runs DUTY_MODE=libre: everyone may be called, so everyone is shown by default.
  assert.equal(await page.locator('body').getAttribute('data-duty-mode'), 'libre');
  assert.equal(await toggle.isChecked(), false);
  assert.equal(await row(off).isHidden(), false);

  await toggle.check();
  await row(off).waitFor({ state: 'hidden', timeout: 2000 });
  assert.equal(await row(onShift).isHidden(), false, 'the officer on shift stays');
  assert.match(await page.locator('#unidades-cuenta').textContent(), /en turno/);
  await h.axe(page, 'mapa en turno');

  // The choice outlives a reload.
  await page.reload();
  await page.locator('[data-testid="live-status"][data-state="connected"]').waitFor({ timeout: 10000 });
  assert.equal(await toggle.isChecked(), true);
  await row(off).waitFor({ state: 'hidden', timeout: 5000 });
  assert.equal(await row(onShift).isHidden(), false);

  await toggle.uncheck();
  await row(off).waitFor({ state: 'visible', timeout: 2000 });
  h.noProblems(page);
  await page.context().close();
});
