// The snapshot merge of live.js without a browser: parts in any order, numbered from 0 or 1,
// and a single unpartitioned frame, all end as one snapshot.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

function load() {
  const window = { addEventListener() {}, GAD: {} };
  const code = fs.readFileSync(path.join(__dirname, '..', '..', 'crates', 'gad-api', 'web', 'js', 'live.js'), 'utf8');
  vm.runInNewContext(code, { window });
  return window.GAD;
}

// Objects made inside the VM have its prototypes: compare plain copies.
const plain = (x) => JSON.parse(JSON.stringify(x));

function frame(data) {
  return JSON.stringify({ event_type: 'system_status', data });
}

test('parts numbered from 1, out of order, become one snapshot', () => {
  const GAD = load();
  const got = [];
  const live = new GAD.Live({ snapshot: (d) => got.push(d), state() {} });
  live.onFrame(frame({ part: 2, parts: 3, efectivos: [{ id: 3 }], emergencias_activas: [] }));
  live.onFrame(frame({ part: 1, parts: 3, efectivos: [{ id: 1 }, { id: 2 }], emergencias_activas: [{ id: 9 }] }));
  assert.equal(got.length, 0, 'not before every part arrived');
  live.onFrame(frame({ part: 3, parts: 3, efectivos: [{ id: 4 }], emergencias_activas: [{ id: 10 }] }));
  assert.equal(got.length, 1);
  assert.deepEqual(plain(got[0].efectivos.map((e) => e.id)), [1, 2, 3, 4]);
  assert.deepEqual(plain(got[0].emergencias_activas.map((e) => e.id)), [9, 10]);
  assert.equal('part' in got[0], false);
});

test('parts numbered from 0 and a single frame', () => {
  const GAD = load();
  const got = [];
  const live = new GAD.Live({ snapshot: (d) => got.push(d), state() {} });
  live.onFrame(frame({ part: 0, parts: 2, efectivos: [{ id: 1 }] }));
  live.onFrame(frame({ part: 1, parts: 2, efectivos: [{ id: 2 }] }));
  live.onFrame(frame({ efectivos: [{ id: 5 }], emergencias_activas: [] }));
  assert.equal(got.length, 2);
  assert.deepEqual(plain(got[0].efectivos.map((e) => e.id)), [1, 2]);
  assert.deepEqual(plain(got[1].efectivos.map((e) => e.id)), [5]);
});

test('deltas pass through and pings are answered', () => {
  const GAD = load();
  const events = [];
  const sent = [];
  const live = new GAD.Live({ snapshot() {}, event: (t, d) => events.push([t, d]), state() {} });
  live.ws = { readyState: 1, send: (s) => sent.push(JSON.parse(s)) };
  live.onFrame(JSON.stringify({ event_type: 'efectivo_location_update', data: { efectivo_id: 1, lat: 1, lng: 2 } }));
  live.onFrame(JSON.stringify({ event_type: 'ping', data: {} }));
  live.onFrame('not json');
  assert.deepEqual(plain(events), [['efectivo_location_update', { efectivo_id: 1, lat: 1, lng: 2 }]]);
  assert.deepEqual(sent, [{ event_type: 'pong', data: {} }]);
});
