// Jurisdictions on the map: the zones layer shows the imported comisarías and cuadrantes
// (deploy/demo/zonas.geojson, loaded by browser-tests.sh); a supervisor assigned one comisaría
// sees its emergencies and not the other's until "Toda la ciudad" (remembered by the browser);
// selecting a zone highlights its incidents and keeps the lists to its own.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

// Inside Cuadrante 1A-1 (Comisaría Vecinal 1A) and Cuadrante 1B-3 (Comisaría Vecinal 1B).
const EN_A = { lat: -34.60, lng: -58.405 };
const EN_B = { lat: -34.60, lng: -58.365 };
// Comisaría Vecinal 1B's outline, to tell where an officer stands.
const CAJA_B = { lng0: -58.3865, lng1: -58.358, lat0: -34.635, lat1: -34.585 };

let browser;
let adminToken;

before(async () => {
  browser = await h.launch();
  adminToken = await h.token(h.USERS.admin);
});
after(async () => { if (browser) await browser.close(); });

/** A supervisor of its own (the other files use supervisor1, unassigned). */
async function supervisorDe(comisaria) {
  const n = Date.now();
  const user = { email: `zonas-${n}@gad.local`, password: 'ZonasSup2026!' };
  const r = await h.api('POST', '/api/v1/users', adminToken, {
    email: user.email, password: user.password, nombre: 'Zoe', apellido: 'Comisaría',
    dni: String(n).slice(-8), nivel: 2, verificado: true
  });
  assert.equal(r.status, 201, r.text);
  const z = await h.api('PUT', `/api/v1/users/${r.body.id}/zonas`, adminToken, { zona_ids: [comisaria] });
  assert.equal(z.status, 200, z.text);
  return user;
}

async function emergencia(at, descripcion) {
  const r = await h.api('POST', '/api/v1/tasks/emergency', adminToken, { lat: at.lat, lng: at.lng, descripcion });
  assert.equal(r.status, 201, r.text);
  return r.body.task_id;
}

/** Officers listed (visible rows) inside Comisaría Vecinal 1B. */
function visiblesEnB(page) {
  return page.evaluate((c) => Array.from(document.querySelectorAll('[data-testid="unit-list"] li'))
    .filter((li) => !li.hidden)
    .filter((li) => {
      const lat = Number(li.dataset.lat); const lng = Number(li.dataset.lng);
      return lng > c.lng0 && lng < c.lng1 && lat > c.lat0 && lat < c.lat1;
    }).length, CAJA_B);
}

test('a supervisor of comisaría A sees A by default, the city on request, and a selected zone highlighted', async () => {
  const zonas = await h.api('GET', '/api/v1/zonas', adminToken);
  assert.equal(zonas.status, 200, zonas.text);
  const id = (nombre) => {
    const z = zonas.body.find((x) => x.nombre === nombre);
    assert.ok(z, `zone ${nombre} imported`);
    return z.id;
  };
  const a = id('Comisaría Vecinal 1A');
  const b = id('Comisaría Vecinal 1B');
  const sup = await supervisorDe(a);
  const ta = await emergencia(EN_A, 'Emergencia en la 1A');
  const tb = await emergencia(EN_B, 'Emergencia en la 1B');
  const tarea = await h.api('GET', `/api/v1/tasks/${ta}`, adminToken);
  assert.equal(tarea.body.comisaria_id, a, tarea.text);

  const page = await h.newPage(browser);
  await h.login(page, sup);
  await page.locator('[data-testid="live-status"][data-state="connected"]').waitFor({ timeout: 10000 });

  // The zones layer: every imported zone drawn and listed by name.
  await page.waitForFunction(() => window.GAD.mapa.jurisdiccion().zonas >= 10 && window.GAD.mapa.jurisdiccion().mias.length === 1);
  const opciones = await page.locator('[data-testid="zona-select"] option').allTextContents();
  for (const nombre of ['Comisaría Vecinal 1A', 'Comisaría Vecinal 1B', '— Cuadrante 1A-1', '— Cuadrante 1B-3']) {
    assert.ok(opciones.includes(nombre), `${nombre} in ${JSON.stringify(opciones)}`);
  }
  assert.match(await page.locator('[data-testid="scope-status"]').textContent(), /Comisaría Vecinal 1A/);

  // By default: A's emergency listed and drawn, B's neither (once its place is known).
  const filaA = page.locator(`[data-testid="emergency-list"] li[data-tarea-id="${ta}"]`);
  const filaB = page.locator(`[data-testid="emergency-list"] li[data-tarea-id="${tb}"]`);
  await filaA.waitFor({ state: 'visible', timeout: 5000 });
  await page.waitForFunction((t) => { const m = window.GAD.mapa.emergencia(t); return m && !m.dibujada; }, tb, { timeout: 5000 });
  assert.equal(await filaB.isVisible(), false, "B's emergency is not listed");
  assert.equal(await visiblesEnB(page), 0, "no officer of B's listed");

  // "Toda la ciudad": B's emergency and officers too, and the browser remembers the switch.
  const ciudad = page.locator('[data-testid="toda-la-ciudad"]');
  assert.equal(await ciudad.isVisible(), true);
  await ciudad.check();
  await filaB.waitFor({ state: 'visible', timeout: 2000 });
  assert.ok((await visiblesEnB(page)) > 0, "B's officers listed");
  await page.reload();
  await page.locator('[data-testid="live-status"][data-state="connected"]').waitFor({ timeout: 10000 });
  assert.equal(await page.locator('[data-testid="toda-la-ciudad"]').isChecked(), true);
  await filaB.waitFor({ state: 'visible', timeout: 5000 });
  await page.locator('[data-testid="toda-la-ciudad"]').uncheck();
  await filaB.waitFor({ state: 'hidden', timeout: 2000 });

  // Selecting a zone: its incident highlighted, the lists keep only its own.
  await page.selectOption('[data-testid="zona-select"]', String(id('Cuadrante 1A-1')));
  await page.locator(`[data-testid="emergency-list"] li[data-tarea-id="${ta}"][data-zona="destacada"]`).waitFor({ timeout: 2000 });
  assert.equal((await page.evaluate((t) => window.GAD.mapa.emergencia(t), ta)).grosor, 5);
  assert.match(await page.locator('[data-testid="scope-status"]').textContent(), /Zona destacada: Cuadrante 1A-1/);
  const fuera = await page.evaluate(() => Array.from(document.querySelectorAll('[data-testid="unit-list"] li'))
    .filter((li) => !li.hidden && !(Number(li.dataset.lng) > -58.415 && Number(li.dataset.lng) < -58.40075 &&
      Number(li.dataset.lat) > -34.61 && Number(li.dataset.lat) < -34.585)).length);
  assert.equal(fuera, 0, 'only the officers of the selected cuadrante are listed');
  await h.axe(page, 'dashboard with a zone selected');
  await h.screenshot(page, 'zonas');

  // "Quitar selección" clears it.
  await page.locator('[data-testid="zona-quitar"]').click();
  await page.locator(`[data-testid="emergency-list"] li[data-tarea-id="${ta}"]:not([data-zona])`).waitFor({ timeout: 2000 });
  assert.equal((await page.evaluate(() => window.GAD.mapa.jurisdiccion())).seleccion, null);
  h.noProblems(page);
  await page.context().close();
  void b;
});
