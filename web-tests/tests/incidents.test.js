// The command centre as a dispatch desk: unit list that follows the dispatch, named officers,
// a legend that tells emergencies from tasks, the incident panel.
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

async function dashboard() {
  const page = await h.newPage(browser);
  await h.login(page, h.USERS.supervisor);
  await page.locator('[data-testid="live-status"][data-state="connected"]').waitFor({ timeout: 10000 });
  return page;
}

function unitRow(page, id) {
  return page.locator(`[data-testid="unit-list"] li[data-efectivo-id="${id}"]`);
}

async function officerName(id) {
  const r = await h.api('GET', `/api/v1/efectivos/${id}`, supToken);
  assert.equal(r.status, 200, r.text);
  return `${r.body.nombre} ${r.body.apellido}`;
}

test('unit list: named officers, a dispatched officer shows en_tarea within 2 s, legend and panel', async () => {
  const page = await dashboard();
  // Rows name the officer (from the snapshot), not "Efectivo #62".
  const first = page.locator('[data-testid="unit-list"] li').first();
  const firstId = Number(await first.getAttribute('data-efectivo-id'));
  assert.equal(await first.locator('.nombre').textContent(), `${await officerName(firstId)} · #${firstId}`);

  // An emergency on top of an available officer dispatches that one (the nearest).
  const row = page.locator('[data-testid="unit-list"] li[data-estado="disponible"]').nth(7);
  const lat = Number(await row.getAttribute('data-lat'));
  const lng = Number(await row.getAttribute('data-lng'));
  const start = Date.now();
  const emg = await h.api('POST', '/api/v1/tasks/emergency', supToken, { lat, lng, descripcion: 'Despacho desde la prueba' });
  assert.equal(emg.status, 201, emg.text);
  const ef = emg.body.assigned_efectivo_id;
  const api = await h.api('GET', `/api/v1/efectivos/${ef}`, supToken);
  assert.equal(api.body.estado_disponibilidad, 'en_tarea');
  await unitRow(page, ef).and(page.locator('[data-estado="en_tarea"]')).waitFor({ timeout: 2000 });
  console.log(`# dispatched officer shown en_tarea after ${Date.now() - start} ms`);
  const name = await officerName(ef);
  assert.equal(await unitRow(page, ef).locator('.estado-txt').textContent(), 'En tarea');
  assert.equal(await unitRow(page, ef).locator('.nombre').textContent(), `${name} · #${ef}`);

  // The emergency row names the officer; its acceptance moves the unit to en_camino.
  const item = page.locator(`[data-testid="emergency-list"] li[data-tarea-id="${emg.body.task_id}"]`);
  await item.waitFor({ timeout: 2000 });
  assert.match(await item.textContent(), new RegExp(`${name} \\(#${ef}\\)`));
  const accepted = await h.api('POST', `/api/v1/tasks/${emg.body.task_id}/ack`, supToken, { accept: true });
  assert.equal(accepted.status, 200, accepted.text);
  await unitRow(page, ef).and(page.locator('[data-estado="en_camino"]')).waitFor({ timeout: 2000 });

  // Red rings are emergencies only: the seeded open tasks are drawn otherwise, and the legend
  // names both.
  await page.waitForFunction(() => window.GAD.mapa.marcas().tareas > 0);
  const marcas = await page.evaluate(() => window.GAD.mapa.marcas());
  assert.equal(marcas.tareasRojas, 0, JSON.stringify(marcas));
  const rows = await page.locator('[data-testid="emergency-list"] li').count();
  assert.equal(marcas.emergencias, rows, 'one red marker per listed emergency');
  assert.equal(await page.locator('.leyenda li[data-leyenda="emergencia"]').textContent(), 'Emergencia activa');
  assert.match(await page.locator('.leyenda li[data-leyenda="tarea"]').textContent(), /Tarea abierta/);

  // Clicking the emergency opens its panel: officer by name, acknowledgement, actions.
  await item.locator('button').click();
  const panel = page.locator(`[data-testid="incident-panel"][data-tarea-id="${emg.body.task_id}"]`);
  await panel.waitFor({ timeout: 2000 });
  await panel.locator('[data-campo="efectivos"]', { hasText: name }).waitFor({ timeout: 2000 });
  await panel.locator('[data-campo="ack"]', { hasText: 'aceptada' }).waitFor({ timeout: 2000 });
  assert.match(await page.locator('#incidente-titulo').textContent(), new RegExp(emg.body.codigo));
  for (const b of ['#inc-reasignar', '#inc-refuerzo', '#inc-cancelar']) assert.equal(await panel.locator(b).isEnabled(), true, b);
  await panel.locator('[data-testid="incident-timeline"] li[data-tipo]').first().waitFor({ timeout: 2000 });

  // Backup from the panel: a second officer is called and shows en_tarea.
  await panel.locator('[data-testid="backup-button"]').click();
  await page.waitForFunction(() => /Refuerzo despachado/.test(document.getElementById('avisos').textContent), null, { timeout: 2000 });
  const task = await h.api('GET', `/api/v1/tasks/${emg.body.task_id}`, supToken);
  const backup = task.body.efectivos_asignados.find((x) => x !== ef);
  assert.ok(backup, task.text);
  await unitRow(page, backup).and(page.locator('[data-estado="en_tarea"]')).waitFor({ timeout: 2000 });

  // Cancel takes a confirmation; the emergency leaves the list.
  await panel.locator('#inc-cancelar').click();
  assert.equal(await panel.locator('#inc-cancelar').textContent(), 'Confirmar cancelación');
  await panel.locator('#inc-cancelar').click();
  await item.waitFor({ state: 'detached', timeout: 2000 });
  await h.axe(page, 'panel del incidente');
  h.noProblems(page);
  await page.context().close();
});
