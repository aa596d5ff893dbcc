// The console's alarms: an emergency raised through the API rings on the dashboard (an entry
// of its kind in the alarm bar, its sound started), the mute switch is remembered by the
// browser, and marking the alarm seen records who saw it.
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

test('a new emergency rings until marked seen, and who saw it is recorded', async () => {
  const page = await h.newPage(browser);
  await h.login(page, h.USERS.supervisor);
  await page.locator('[data-testid="live-status"][data-state="connected"]').waitFor({ timeout: 10000 });
  const row = page.locator('[data-testid="unit-list"] li[data-estado="disponible"]').nth(3);
  const lat = Number(await row.getAttribute('data-lat'));
  const lng = Number(await row.getAttribute('data-lng'));
  const emg = await h.api('POST', '/api/v1/tasks/emergency', supToken, { lat, lng, descripcion: 'Alarma de prueba' });
  assert.equal(emg.status, 201, emg.text);
  const task = emg.body.task_id;

  const alarm = page.locator(`[data-testid="alarm-bar"] li[data-kind="emergencia_nueva"][data-tarea-id="${task}"]`);
  await alarm.waitFor({ timeout: 2000 });
  await page.locator('audio[data-sonido="emergencia_nueva"][data-reproducido]').waitFor({ state: 'attached', timeout: 2000 });
  assert.match(await alarm.textContent(), new RegExp(emg.body.codigo));
  await h.axe(page, 'dashboard with an alarm');
  await h.screenshot(page, 'alarmas');

  // Muting is remembered by this browser.
  const mute = page.locator('[data-testid="alarm-mute"]');
  await mute.click();
  assert.equal(await mute.getAttribute('aria-pressed'), 'true');
  await page.reload();
  await page.locator('[data-testid="live-status"][data-state="connected"]').waitFor({ timeout: 10000 });
  assert.equal(await page.locator('[data-testid="alarm-mute"]').getAttribute('aria-pressed'), 'true');
  // The alarm is still there after the reload: it stays until someone marks it seen.
  await alarm.waitFor({ timeout: 5000 });
  await page.locator('[data-testid="alarm-mute"]').click();

  const id = Number(await alarm.getAttribute('data-alerta-id'));
  await alarm.locator('[data-testid="alerta-visto"]').click();
  await alarm.waitFor({ state: 'detached', timeout: 2000 });
  const me = await h.api('GET', '/api/v1/users/me', supToken);
  const all = await h.api('GET', '/api/v1/alertas', supToken);
  assert.equal(all.status, 200, all.text);
  const seen = all.body.find((a) => a.id === id);
  assert.ok(seen, 'the alarm is kept in the list');
  assert.equal(seen.visto_por, me.body.id);
  assert.ok(seen.visto_at);
  h.noProblems(page);
  await page.context().close();
});
