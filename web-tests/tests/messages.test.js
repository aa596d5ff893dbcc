// The dashboard's messages panel: an officer's message to the centre arrives live and raises
// the unread badge, an urgent one also rings the alarm bar, and a message composed in the panel
// is created (checked through the API) with its recipient's delivery state shown.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

let browser;
let supToken;
let efToken;

before(async () => {
  browser = await h.launch();
  supToken = await h.token(h.USERS.supervisor);
  efToken = await h.token(h.USERS.efectivo);
});
after(async () => { if (browser) await browser.close(); });

async function aLCentro(texto, prioridad) {
  const r = await h.api('POST', '/api/v1/mensajes', efToken, { destino: { centro: true }, texto, prioridad });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}

test('an officer\'s message to the centre arrives live, raises the badge, and an urgent one rings', async () => {
  const page = await h.newPage(browser);
  await h.login(page, h.USERS.supervisor);
  await page.locator('[data-testid="live-status"][data-state="connected"]').waitFor({ timeout: 10000 });
  const panel = page.locator('[data-testid="messages"]');
  const badge = panel.locator('[data-testid="messages-badge"]');
  assert.equal(await badge.isVisible(), false, 'no unread message yet');

  const id = await aLCentro('Llegué al punto de control', 'normal');
  const row = panel.locator(`[data-testid="messages-list"] li[data-mensaje-id="${id}"]`);
  await row.waitFor({ state: 'attached', timeout: 2000 });
  await badge.waitFor({ timeout: 2000 });
  assert.equal(await badge.getAttribute('data-count'), '1');
  assert.equal(await row.getAttribute('data-direccion'), 'recibido');
  assert.match(await row.textContent(), /Llegué al punto de control/);

  // Opening the panel reads them: the badge goes away and the message is in the list.
  await panel.locator('[data-testid="messages-toggle"]').click();
  await row.waitFor({ timeout: 2000 });
  assert.equal(await badge.isVisible(), false);

  // An urgent one: an entry of its own kind in the alarm bar, with its sound, kept until seen.
  const urgente = await aLCentro('Necesito apoyo en el puente', 'urgente');
  const alarm = page.locator('[data-testid="alarm-bar"] li[data-kind="mensaje_urgente"]');
  await alarm.waitFor({ timeout: 2000 });
  await page.locator('audio[data-sonido="mensaje"][data-reproducido]').waitFor({ state: 'attached', timeout: 2000 });
  assert.match(await alarm.textContent(), /Necesito apoyo en el puente/);
  await panel.locator(`li[data-mensaje-id="${urgente}"][data-prioridad="urgente"]`).waitFor({ timeout: 2000 });
  await h.axe(page, 'dashboard with the messages panel open');
  await h.screenshot(page, 'mensajes');
  const alertaId = Number(await alarm.getAttribute('data-alerta-id'));
  const kept = await h.api('GET', '/api/v1/alertas?pendientes=true', supToken);
  const a = kept.body.find((x) => x.id === alertaId);
  assert.ok(a, 'the alarm is kept');
  assert.equal(a.kind, 'mensaje_urgente');
  assert.equal(a.payload.mensaje_id, urgente);
  await alarm.locator('[data-testid="alerta-visto"]').click();
  await alarm.waitFor({ state: 'detached', timeout: 2000 });
  h.noProblems(page);
  await page.context().close();
});

test('a message composed in the panel reaches its officer, with errors at their fields', async () => {
  const page = await h.newPage(browser);
  await h.login(page, h.USERS.supervisor);
  await page.locator('[data-testid="live-status"][data-state="connected"]').waitFor({ timeout: 10000 });
  const efectivo = Number(await page.locator('[data-testid="unit-list"] li[data-efectivo-id]').nth(5).getAttribute('data-efectivo-id'));
  const panel = page.locator('[data-testid="messages"]');
  await panel.locator('[data-testid="messages-toggle"]').click();
  await panel.locator('[data-testid="message-compose"]').click();
  const form = panel.locator('[data-testid="message-form"]');

  // Refusals land at their fields: no text, then an officer that does not exist.
  await form.locator('select[name="destino"]').selectOption('efectivos');
  await form.locator('input[name="efectivos"]').fill('999999999');
  await form.locator('[data-testid="message-send"]').click();
  await form.locator('[data-error-for="texto"]:not(:empty)').waitFor({ timeout: 2000 });
  assert.equal(await form.locator('textarea[name="texto"]').getAttribute('aria-invalid'), 'true');
  await form.locator('textarea[name="texto"]').fill('Presentarse en la base a las 10');
  await form.locator('[data-testid="message-send"]').click();
  await form.locator('[data-error-for="efectivos"]:not(:empty)').waitFor({ timeout: 2000 });
  assert.match(await form.locator('[data-error-for="efectivos"]').textContent(), /999999999/);
  assert.equal(await form.locator('[data-error-for="texto"]').textContent(), '');
  await h.axe(page, 'messages form with errors');

  await form.locator('input[name="efectivos"]').fill(String(efectivo));
  await form.locator('select[name="prioridad"]').selectOption('urgente');
  await form.locator('input[name="requiere_confirmacion"]').check();
  await form.locator('[data-testid="message-send"]').click();
  const detail = panel.locator('[data-testid="message-detail"]');
  await detail.waitFor({ timeout: 3000 });
  const id = Number(await detail.getAttribute('data-mensaje-id'));
  assert.ok(id > 0);

  const m = await h.api('GET', '/api/v1/mensajes/' + id, supToken);
  assert.equal(m.status, 200, m.text);
  assert.deepEqual(m.body.destino, { efectivos: [efectivo] });
  assert.equal(m.body.texto, 'Presentarse en la base a las 10');
  assert.equal(m.body.prioridad, 'urgente');
  assert.equal(m.body.requiere_confirmacion, true);
  assert.equal(m.body.destinatarios.length, 1);
  const want = m.body.destinatarios[0];
  const rec = detail.locator(`[data-testid="message-recipients"] li[data-efectivo-id="${efectivo}"]`);
  await rec.waitFor({ timeout: 2000 });
  assert.equal(await rec.getAttribute('data-estado'), want.estado);
  if (want.estado === 'fallido') assert.match(await rec.textContent(), new RegExp(want.motivo));
  assert.match(await detail.locator('[data-testid="message-totals"]').textContent(), /1 destinatario/);
  // A message to officers is not an alarm at the desk.
  assert.equal(await page.locator(`[data-testid="alarm-bar"] li[data-kind="mensaje_urgente"]`).count(), 0);
  // The sent message heads the list, as sent.
  const row = panel.locator(`[data-testid="messages-list"] li[data-mensaje-id="${id}"]`);
  assert.equal(await row.getAttribute('data-direccion'), 'enviado');
  h.noProblems(page);
  await page.context().close();
});
