// The map by jurisdiction. A supervisor assigned comisarías sees theirs (and what lies outside
// every comisaría) by default, as the task list does, with a "Toda la ciudad" switch this
// browser remembers; level 3 and unassigned supervisors see the whole city. A selected zone
// (chosen in the list) is emphasised: its officers and incidents are
// highlighted, the rest dimmed, and the lists keep only its own.
//
// A zone is chosen from the list, not by a click inside it: a click on the map is how the desk
// raises an emergency at a place, and the map canvas counts the inside of a polygon as a hit.
//
// The filtering runs here, not on the server: the snapshot's officers arrive with positions,
// not zones, and the switch and the selection must act at once on what is already drawn. An
// item is {lat, lng, zona_id, comisaria_id}; a zone id the server gave (tasks carry theirs,
// null outside every zone) wins over the outline test, which covers officers and emergencies
// known only by their position.
(function () {
  'use strict';
  var GAD = window.GAD;
  var t = GAD.t;
  var el = GAD.el;
  var CLAVE_CIUDAD = 'gad.todaLaCiudad';

  var zonas = new Map(); // id → {id, nombre, tipo, padre_id, poligonos, caja, capas}
  var mias = [];         // the comisarías of the signed-in supervisor; empty: the whole city
  var todaLaCiudad = leerCiudad();
  var seleccion = null;
  var capa = null;       // the zones' L.geoJSON layer
  var alCambiar = function () {};

  function leerCiudad() {
    try { return window.localStorage.getItem(CLAVE_CIUDAD) === '1'; } catch (e) { return false; }
  }

  function guardarCiudad() {
    try { window.localStorage.setItem(CLAVE_CIUDAD, todaLaCiudad ? '1' : '0'); } catch (e) { /* private mode */ }
  }

  // ---- geometry: GeoJSON MultiPolygon in [lng, lat] -------------------------------------------

  /** Ray casting; a point on the edge may fall either way, which is fine for a map filter. */
  function enAnillo(anillo, x, y) {
    var dentro = false;
    for (var i = 0, j = anillo.length - 1; i < anillo.length; j = i++) {
      var xi = anillo[i][0], yi = anillo[i][1], xj = anillo[j][0], yj = anillo[j][1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) dentro = !dentro;
    }
    return dentro;
  }

  function enPoligono(poligono, x, y) {
    if (!enAnillo(poligono[0], x, y)) return false;
    for (var k = 1; k < poligono.length; k++) if (enAnillo(poligono[k], x, y)) return false;
    return true;
  }

  function contiene(z, lat, lng) {
    var c = z.caja;
    if (lng < c[0] || lat < c[1] || lng > c[2] || lat > c[3]) return false;
    return z.poligonos.some(function (p) { return enPoligono(p, lng, lat); });
  }

  function poligonosDe(g) {
    if (!g) return [];
    if (g.type === 'Polygon') return [g.coordinates];
    if (g.type === 'MultiPolygon') return g.coordinates;
    return [];
  }

  function cajaDe(poligonos) {
    var c = [Infinity, Infinity, -Infinity, -Infinity];
    poligonos.forEach(function (p) {
      p[0].forEach(function (pt) {
        c[0] = Math.min(c[0], pt[0]); c[1] = Math.min(c[1], pt[1]);
        c[2] = Math.max(c[2], pt[0]); c[3] = Math.max(c[3], pt[1]);
      });
    });
    return c;
  }

  function tienePosicion(item) {
    return typeof item.lat === 'number' && typeof item.lng === 'number';
  }

  /** The comisaría containing a point, or null; remembered on the item until it moves. */
  function comisariaDe(item) {
    var clave = item.lat + ',' + item.lng;
    if (item._jurPos === clave) return item._jurCom;
    var c = null;
    zonas.forEach(function (z) {
      if (c === null && z.tipo === 'comisaria' && contiene(z, item.lat, item.lng)) c = z.id;
    });
    item._jurPos = clave;
    item._jurCom = c;
    return c;
  }

  // ---- what an item shows ----------------------------------------------------------------------

  function alcanceActivo() { return mias.length > 0 && !todaLaCiudad; }

  function enJurisdiccion(item) {
    if (!alcanceActivo()) return true;
    var c = item.comisaria_id;
    if (c === undefined) c = tienePosicion(item) ? comisariaDe(item) : null;
    return c === null || mias.indexOf(c) >= 0;
  }

  function enSeleccion(item) {
    if (item.zona_id !== undefined || item.comisaria_id !== undefined) {
      return item.zona_id === seleccion || item.comisaria_id === seleccion;
    }
    var z = zonas.get(seleccion);
    return !!z && tienePosicion(item) && contiene(z, item.lat, item.lng);
  }

  /** 'oculto' (outside the jurisdiction shown), 'atenuado' (outside the selected zone),
   *  'destacado' (inside it) or 'normal' (no zone selected). */
  function estado(item) {
    if (!enJurisdiccion(item)) return 'oculto';
    if (seleccion === null) return 'normal';
    return enSeleccion(item) ? 'destacado' : 'atenuado';
  }

  /** Whether anything narrows the lists (then the counts are of visible rows). */
  function activo() { return alcanceActivo() || seleccion !== null; }

  // ---- the zones layer and the controls ------------------------------------------------------

  function estiloZona(f) {
    var base = f.properties.tipo === 'comisaria'
      ? { color: '#0969da', weight: 2, dashArray: null, fill: false, fillOpacity: 0 }
      : { color: '#8250df', weight: 1, dashArray: '4 3', fill: false, fillOpacity: 0 };
    if (f.properties.id === seleccion) {
      base.weight = 5;
      base.fill = true;
      base.fillOpacity = 0.08;
      base.fillColor = base.color;
    }
    return base;
  }

  function pintarTexto() {
    var texto = document.getElementById('alcance-texto');
    var partes = [];
    if (alcanceActivo()) {
      var nombres = mias.map(function (id) { var z = zonas.get(id); return z ? z.nombre : '#' + id; });
      partes.push(t('dash.alcance.mias', { zonas: nombres.join(', ') }));
    } else {
      partes.push(t('dash.alcance.ciudad'));
    }
    var z = seleccion !== null ? zonas.get(seleccion) : null;
    if (z) partes.push(t('dash.alcance.seleccion', { zona: z.nombre }));
    texto.textContent = partes.join(' ');
  }

  function pintarControles() {
    document.getElementById('alcance-ciudad').hidden = mias.length === 0;
    document.getElementById('toda-la-ciudad').checked = todaLaCiudad;
    var sel = document.getElementById('zona-sel');
    sel.value = seleccion === null ? '' : String(seleccion);
    document.getElementById('zona-quitar').hidden = seleccion === null;
    if (capa) capa.setStyle(estiloZona);
    pintarTexto();
  }

  /** Selects a zone; null clears the selection. */
  function seleccionar(id) {
    seleccion = id;
    pintarControles();
    alCambiar();
  }

  /** The zones of the layer: kept for the outline tests and listed in the select, each
   *  comisaría followed by its cuadrantes. */
  function cargarZonas(fc) {
    zonas.clear();
    fc.features.forEach(function (f) {
      var p = f.properties || {};
      var poligonos = poligonosDe(f.geometry);
      if (!poligonos.length) return;
      zonas.set(p.id, { id: p.id, nombre: p.nombre, tipo: p.tipo, padre_id: p.padre_id, poligonos: poligonos, caja: cajaDe(poligonos) });
    });
    var sel = document.getElementById('zona-sel');
    var opciones = [sel.options[0]];
    var hijos = function (padre) {
      var r = [];
      zonas.forEach(function (z) { if (z.padre_id === padre) r.push(z); });
      return r.sort(function (a, b) { return a.nombre.localeCompare(b.nombre, 'es'); });
    };
    hijos(null).forEach(function (z) {
      opciones.push(el('option', { value: String(z.id), text: z.nombre }));
      hijos(z.id).forEach(function (c) {
        opciones.push(el('option', { value: String(c.id), text: t('dash.zona.cuadrante', { nombre: c.nombre }) }));
      });
    });
    sel.replaceChildren.apply(sel, opciones);
    if (seleccion !== null && !zonas.has(seleccion)) seleccion = null;
    pintarControles();
    alCambiar();
  }

  /** The signed-in supervisor's comisarías (level 2 only: level 3 is never scoped). */
  function cargarMias() {
    GAD.api('GET', '/api/v1/users/me').then(function (r) {
      if (r.status !== 200 || !r.body || Number(r.body.nivel) !== 2) return null;
      return GAD.api('GET', '/api/v1/users/' + r.body.id + '/zonas');
    }).then(function (r) {
      if (!r || r.status !== 200 || !r.body || !Array.isArray(r.body.zona_ids)) return;
      mias = r.body.zona_ids;
      pintarControles();
      alCambiar();
    });
  }

  /** Wires the controls and the zones layer; `cambio` repaints the map and lists. */
  function iniciar(opciones) {
    capa = opciones.capa;
    alCambiar = opciones.cambio;
    capa.options.style = estiloZona;
    document.getElementById('toda-la-ciudad').addEventListener('change', function (e) {
      todaLaCiudad = e.target.checked;
      guardarCiudad();
      pintarControles();
      alCambiar();
    });
    document.getElementById('zona-sel').addEventListener('change', function (e) {
      var v = e.target.value;
      seleccionar(v === '' ? null : Number(v));
    });
    document.getElementById('zona-quitar').addEventListener('click', function () {
      seleccionar(null);
      // The button hides itself: the focus goes back to the list it belongs to.
      document.getElementById('zona-sel').focus();
    });
    pintarControles();
    cargarMias();
  }

  GAD.jurisdiccion = {
    iniciar: iniciar,
    cargarZonas: cargarZonas,
    estado: estado,
    activo: activo,
    seleccionar: seleccionar,
    resumen: function () {
      return { zonas: zonas.size, mias: mias.slice(), todaLaCiudad: todaLaCiudad, seleccion: seleccion };
    }
  };
})();
