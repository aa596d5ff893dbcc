// The command centre as a dispatch desk: unit list that follows the dispatch, named officers,
// a legend that tells emergencies from tasks, the incident panel.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const h = require('./helpers');

// In the demo gazetteer (deploy/demo/lugares.geojson), loaded by browser-tests.sh: house
// numbers are interpolated along Av. Corrientes, among the seeded officers.
const ADDRESS = 'Av. Corrientes 1234';
const ADDRESS_TYPED = 'Corrientes 12';

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
  // Titled by the case number (the task code where there is none).
  assert.equal(await page.locator('#incidente-titulo').textContent(), `Incidente ${emg.body.nro_incidente || emg.body.codigo}`);
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

test('a call taken through the form by address: listed with its case number, live timeline and notes, unit row', async () => {
  const page = await dashboard();
  await page.click('[data-testid="incident-new"]');
  const form = page.locator('[data-testid="incident-form"]');
  await form.waitFor();
  // The catalogue fills the type select.
  await form.locator('select[name="tipo_incidente"] option[value="robo"]').waitFor({ state: 'attached', timeout: 5000 });

  // An address nobody knows: 422 at the address field.
  await form.locator('[name="direccion"]').fill('Calle Que No Existe 98765');
  await form.locator('[data-testid="incident-submit"]').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="incident-form"] [data-error-for="direccion"]').textContent.length > 0);
  assert.equal(await form.locator('[name="direccion"]').getAttribute('aria-invalid'), 'true');
  await h.axe(page, 'formulario con error');
  await h.screenshot(page, 'incidente-formulario');

  // Live suggestions while typing a known address.
  await form.locator('[name="direccion"]').fill(ADDRESS_TYPED);
  await page.locator('[data-testid="address-suggestions"] button').first().waitFor({ timeout: 3000 });
  await form.locator('[name="direccion"]').fill(ADDRESS);
  await form.locator('[name="referencia"]').fill('entre Lavalle y Tucumán');
  await form.locator('[name="tipo_incidente"]').selectOption('robo');
  await form.locator('[name="prioridad"]').selectOption('4');
  await form.locator('[name="descripcion"]').fill('Robo a mano armada en un kiosco');
  await form.locator('[name="denunciante.nombre"]').fill('Marta Gómez');
  await form.locator('[name="denunciante.telefono"]').fill('+54 11 5555-0101');
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/tasks/emergency') && r.request().method() === 'POST');
  const start = Date.now();
  await form.locator('[data-testid="incident-submit"]').click();
  const r = await answer;
  assert.equal(r.status(), 201, await r.text());
  const emg = await r.json();
  assert.match(emg.nro_incidente, /^\d{4}-\d{6}$/);
  const item = page.locator(`[data-testid="emergency-list"] li[data-tarea-id="${emg.task_id}"][data-nro="${emg.nro_incidente}"]`);
  await item.waitFor({ timeout: 2000 });
  console.log(`# call listed with its case number after ${Date.now() - start} ms`);
  assert.match(await item.textContent(), new RegExp(emg.nro_incidente));

  // The dispatched officer's row: new status and name, within 2 s.
  const ef = emg.assigned_efectivo_id;
  assert.ok(ef, JSON.stringify(emg));
  const name = await officerName(ef);
  await unitRow(page, ef).and(page.locator('[data-estado="en_tarea"]')).waitFor({ timeout: 2000 });
  assert.equal(await unitRow(page, ef).locator('.nombre').textContent(), `${name} · #${ef}`);
  assert.match(await item.textContent(), new RegExp(`${name} \\(#${ef}\\)`));

  // Its panel: the timeline shows the dispatch, then a note added through the API, live.
  await item.locator('button').click();
  const panel = page.locator(`[data-testid="incident-panel"][data-tarea-id="${emg.task_id}"]`);
  await panel.waitFor({ timeout: 2000 });
  const timeline = panel.locator('[data-testid="incident-timeline"]');
  await timeline.locator('li[data-tipo="despacho_enviado"]').first().waitFor({ timeout: 2000 });
  assert.match(await panel.locator('[data-campo="direccion"]').textContent(), new RegExp(ADDRESS.split(' ')[0]));
  assert.match(await panel.locator('[data-campo="denunciante"]').textContent(), /Marta Gómez/);
  // The bot's record of the call it pushed (no bot runs beside these tests: written as the bot
  // writes it), read on the next reload of the timeline.
  execFileSync('psql', [process.env.DATABASE_URL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c',
    `INSERT INTO entregas (tipo, usuario_id, efectivo_id, tarea_id, estado, message_id)
     SELECT 'despacho', usuario_id, id, ${Number(emg.task_id)}, 'enviado', 4242 FROM efectivos WHERE id = ${Number(ef)}`]);
  const nota = 'Llega un patrullero de la comisaría 3';
  const tNota = Date.now();
  const added = await h.api('POST', `/api/v1/tasks/${emg.task_id}/notas`, supToken, { texto: nota });
  assert.equal(added.status, 201, added.text);
  await timeline.locator('li[data-tipo="nota"]', { hasText: nota }).waitFor({ timeout: 2000 });
  console.log(`# note through the API shown after ${Date.now() - tNota} ms`);
  const entrega = timeline.locator('li[data-tipo="entrega"]');
  await entrega.waitFor({ timeout: 2000 });
  assert.match(await entrega.textContent(), /Aviso por Telegram · .*llamado · enviado \d{2}:\d{2}:\d{2}[^·]* · sin respuesta/);

  // A note from the desk's own box.
  await panel.locator('[data-testid="note-input"]').fill('Se pidió ambulancia');
  await panel.locator('[data-testid="note-submit"]').click();
  await timeline.locator('li[data-tipo="nota"]', { hasText: 'Se pidió ambulancia' }).waitFor({ timeout: 2000 });
  const notas = await h.api('GET', `/api/v1/tasks/${emg.task_id}/notas`, supToken);
  assert.ok(notas.body.some((n) => n.texto === 'Se pidió ambulancia'), notas.text);
  await h.axe(page, 'panel del incidente');
  await h.screenshot(page, 'incidente');

  // Closure without a code is refused in the form; with one, the incident leaves the list.
  await panel.locator('[data-testid="closure-form"] button[type="submit"]').click();
  assert.ok((await panel.locator('[data-error-for="codigo_cierre"]').textContent()).length > 0);
  await panel.locator('[name="codigo_cierre"]').selectOption('resuelto');
  await panel.locator('[name="resumen"]').fill('Se detuvo a una persona');
  await panel.locator('[data-testid="closure-form"] button[type="submit"]').click();
  await item.waitFor({ state: 'detached', timeout: 2000 });
  await timeline.locator('li[data-tipo="cierre"]').waitFor({ timeout: 2000 });
  h.noProblems(page);
  await page.context().close();
});
