// The live map: every located officer (canvas circle markers, so 5,000 stay smooth), active
// emergencies and open tasks; the unit and emergency lists; details, trail, and raising an
// emergency by clicking the map. Live over the WebSocket (see live.js).
(function () {
  'use strict';
  var GAD = window.GAD;
  var t = GAD.t;
  var el = GAD.el;

  // Colour plus size and dash pattern, so status is not told by colour alone; the list and
  // the details always say it in words.
  var ESTILO = {
    disponible: { color: '#1a7f37', radius: 5, dashArray: null },
    en_tarea: { color: '#0550ae', radius: 7, dashArray: '3 2' },
    fuera_servicio: { color: '#57606a', radius: 4, dashArray: '1 3' },
    no_disponible: { color: '#9a4b00', radius: 5, dashArray: '5 2' },
    en_camino: { color: '#8250df', radius: 7, dashArray: '6 2' },
    en_escena: { color: '#1b7c83', radius: 8, dashArray: null }
  };
  var COLOR_PRIORIDAD = { 1: '#57606a', 2: '#0969da', 3: '#9a6700', 4: '#bc4c00', 5: '#a40e26' };
  var CERRADAS = { finalizada: true, cancelada: true };

  var map, oficiales, emergCapa, tareasCapa, trayectoCapa, nuevaMarca;
  var efectivos = new Map();   // id → {id, lat, lng, estado, marker, row}
  var emergencias = new Map(); // tarea id → {id, codigo, created_at, efectivo_id, lat, lng, row, marker}
  var tareas = new Map();      // tarea id → Tarea (open, from the API)
  var lista, listaEmerg, cuenta;
  var primerSnapshot = true;
  var encuadre = null;          // bounds of the first snapshot
  var movidoPorUsuario = false;
  var live;

  function estiloDe(estado) { return ESTILO[estado] || ESTILO.no_disponible; }

  function opcionesMarcador(estado) {
    var s = estiloDe(estado);
    // A click on a marker selects it and does not also reach the map (which raises emergencies).
    return { radius: s.radius, color: '#ffffff', weight: 1, fillColor: s.color, fillOpacity: 0.9, dashArray: s.dashArray, bubblingMouseEvents: false };
  }

  // ---- officers ---------------------------------------------------------------------------

  function filaEfectivo(e) {
    var li = el('li', { 'data-efectivo-id': e.id, 'data-estado': e.estado, 'data-lat': e.lat, 'data-lng': e.lng });
    var b = el('button', { type: 'button', class: 'fila' }, [
      el('span', { class: 'punto ' + e.estado, 'aria-hidden': 'true' }),
      el('span', { class: 'nombre', text: t('dash.efectivo', { id: e.id }) }),
      el('span', { class: 'estado-txt', text: t('estado.' + e.estado) })
    ]);
    li.appendChild(b);
    return li;
  }

  function pintarFila(e) {
    var li = e.row;
    li.setAttribute('data-estado', e.estado);
    li.setAttribute('data-lat', e.lat);
    li.setAttribute('data-lng', e.lng);
    li.querySelector('.punto').className = 'punto ' + e.estado;
    li.querySelector('.estado-txt').textContent = t('estado.' + e.estado);
  }

  function actualizarCuenta() {
    cuenta.textContent = t('dash.unidades.cuenta', { n: efectivos.size });
  }

  function cargarEfectivos(lista0) {
    oficiales.clearLayers();
    efectivos.clear();
    var frag = document.createDocumentFragment();
    lista0.slice().sort(function (a, b) { return a.id - b.id; }).forEach(function (p) {
      if (typeof p.lat !== 'number' || typeof p.lng !== 'number') return;
      var e = { id: p.id, lat: p.lat, lng: p.lng, estado: p.estado || 'no_disponible' };
      e.marker = L.circleMarker([e.lat, e.lng], opcionesMarcador(e.estado));
      e.marker.efectivoId = e.id;
      oficiales.addLayer(e.marker);
      e.row = filaEfectivo(e);
      frag.appendChild(e.row);
      efectivos.set(e.id, e);
    });
    lista.replaceChildren(frag);
    actualizarCuenta();
  }

  function moverEfectivo(id, lat, lng, estado) {
    var e = efectivos.get(id);
    if (!e) {
      e = { id: id, lat: lat, lng: lng, estado: estado || 'no_disponible' };
      e.marker = L.circleMarker([lat, lng], opcionesMarcador(e.estado));
      e.marker.efectivoId = id;
      oficiales.addLayer(e.marker);
      e.row = filaEfectivo(e);
      // Keep the list ordered by id.
      var next = null;
      efectivos.forEach(function (o) { if (o.id > id && (!next || o.id < next.id)) next = o; });
      lista.insertBefore(e.row, next ? next.row : null);
      efectivos.set(id, e);
      actualizarCuenta();
      return;
    }
    e.lat = lat; e.lng = lng;
    if (estado) e.estado = estado;
    e.marker.setLatLng([lat, lng]);
    e.marker.setStyle(opcionesMarcador(e.estado));
    pintarFila(e);
  }

  function cambiarEstado(id, estado) {
    var e = efectivos.get(id);
    if (!e || !estado || !ESTILO[estado]) return;
    e.estado = estado;
    e.marker.setStyle(opcionesMarcador(estado));
    pintarFila(e);
  }

  // ---- emergencies and tasks ----------------------------------------------------------------

  /** Tooltip content as a text node inside an element: Leaflet renders a string tooltip as
   *  HTML, and a task code or title is whatever a user typed. */
  function tooltipTexto(texto) {
    var span = document.createElement('span');
    span.textContent = texto;
    return span;
  }

  function textoEmergencia(m) {
    var txt = t('dash.emergencia.fila', {
      codigo: m.codigo,
      edad: GAD.edad(m.created_at),
      asignado: m.efectivo_id ? t('dash.emergencia.asignado', { id: m.efectivo_id }) : t('dash.emergencia.sin_asignar')
    });
    return m.ack ? txt + ' · ' + t('ack.' + m.ack) : txt;
  }

  /** A new dispatch waits for the officer's confirmation (issue 15): the first news of an
   *  emergency with an officer (its alert or its task_created, whichever comes first). */
  function primerAck(id, efectivoId) {
    var m = emergencias.get(id);
    return (!m || !m.ack) && efectivoId ? 'pendiente_confirmacion' : undefined;
  }

  function ponerEmergencia(m) {
    var prev = emergencias.get(m.id) || {};
    Object.keys(m).forEach(function (k) { if (m[k] !== undefined && m[k] !== null) prev[k] = m[k]; });
    m = prev;
    if (!m.row) {
      m.row = el('li', { 'data-tarea-id': m.id }, [el('button', { type: 'button', class: 'fila' })]);
      m.row.firstChild.addEventListener('click', function () {
        if (m.lat !== undefined) map.setView([m.lat, m.lng], Math.max(map.getZoom(), 15));
      });
      listaEmerg.insertBefore(m.row, listaEmerg.firstChild);
    }
    m.row.firstChild.textContent = textoEmergencia(m);
    if (m.ack) m.row.setAttribute('data-ack', m.ack);
    if (typeof m.lat === 'number' && typeof m.lng === 'number') {
      if (!m.marker) {
        m.marker = L.circleMarker([m.lat, m.lng], { radius: 10, color: '#a40e26', weight: 3, fillColor: '#ff8182', fillOpacity: 0.9, bubblingMouseEvents: false });
        m.marker.bindTooltip(tooltipTexto(m.codigo));
        emergCapa.addLayer(m.marker);
      } else {
        m.marker.setLatLng([m.lat, m.lng]);
      }
    }
    emergencias.set(m.id, m);
    document.getElementById('emerg-vacia').hidden = emergencias.size > 0;
  }

  function quitarEmergencia(id) {
    var m = emergencias.get(id);
    if (!m) return;
    if (m.row) m.row.remove();
    if (m.marker) emergCapa.removeLayer(m.marker);
    emergencias.delete(id);
    document.getElementById('emerg-vacia').hidden = emergencias.size > 0;
  }

  function desdeTarea(tarea) {
    return {
      id: tarea.id,
      codigo: tarea.codigo,
      created_at: tarea.created_at,
      efectivo_id: (tarea.efectivos_asignados || [])[0],
      lat: tarea.ubicacion_lat,
      lng: tarea.ubicacion_lon
    };
  }

  function ponerTarea(tarea) {
    var prev = tareas.get(tarea.id);
    if (prev && prev.marker) tareasCapa.removeLayer(prev.marker);
    if (CERRADAS[tarea.estado] || tarea.es_emergencia) { tareas.delete(tarea.id); return; }
    if (typeof tarea.ubicacion_lat === 'number' && typeof tarea.ubicacion_lon === 'number') {
      var p = tarea.prioridad || 2;
      tarea.marker = L.circleMarker([tarea.ubicacion_lat, tarea.ubicacion_lon], {
        radius: 3 + p, color: COLOR_PRIORIDAD[p] || '#57606a', weight: 3, fillColor: '#ffffff', fillOpacity: 0.8,
        bubblingMouseEvents: false
      });
      tarea.marker.bindTooltip(tooltipTexto(t('dash.tarea', { codigo: tarea.codigo, p: p })));
      tareasCapa.addLayer(tarea.marker);
    }
    tareas.set(tarea.id, tarea);
  }

  /** Creation time, assigned officer and place of the active emergencies, and open tasks. */
  function enriquecer() {
    GAD.api('GET', '/api/v1/tasks?es_emergencia=true&limit=500').then(function (r) {
      if (r.status !== 200 || !Array.isArray(r.body)) return;
      r.body.forEach(function (tarea) {
        if (emergencias.has(tarea.id) && !CERRADAS[tarea.estado]) ponerEmergencia(desdeTarea(tarea));
      });
    });
    GAD.api('GET', '/api/v1/tasks?limit=500').then(function (r) {
      if (r.status !== 200 || !Array.isArray(r.body)) return;
      tareasCapa.clearLayers();
      tareas.clear();
      r.body.forEach(ponerTarea);
    });
  }

  // ---- live ---------------------------------------------------------------------------------

  function onSnapshot(data) {
    cargarEfectivos(data.efectivos || []);
    // After a reconnection the snapshot does not carry what the deltas told (acknowledgement,
    // officer, age): keep it for the emergencies still active.
    var antes = new Map();
    emergencias.forEach(function (m, id) {
      antes.set(id, { ack: m.ack, efectivo_id: m.efectivo_id, created_at: m.created_at, lat: m.lat, lng: m.lng });
      quitarEmergencia(id);
    });
    (data.emergencias_activas || []).slice().reverse().forEach(function (m) {
      var a = antes.get(m.id) || {};
      ponerEmergencia({ id: m.id, codigo: m.codigo, ack: a.ack, efectivo_id: a.efectivo_id, created_at: a.created_at, lat: a.lat, lng: a.lng });
    });
    if (primerSnapshot) {
      primerSnapshot = false;
      map.invalidateSize({ pan: false });
      if (efectivos.size > 0) {
        encuadre = L.latLngBounds([]);
        efectivos.forEach(function (e) { encuadre.extend([e.lat, e.lng]); });
        map.fitBounds(encuadre, { padding: [20, 20], animate: false });
      }
      performance.mark('gad-interactive');
    }
    enriquecer();
  }

  function onEvent(type, d) {
    switch (type) {
      case 'efectivo_location_update':
        if (typeof d.lat === 'number' && typeof d.lng === 'number') moverEfectivo(d.efectivo_id, d.lat, d.lng, d.estado);
        break;
      case 'efectivo_status_changed':
        cambiarEstado(d.efectivo_id, d.estado || d.estado_nuevo || d.estado_disponibilidad);
        break;
      case 'alert':
        if (d.task_id && d.intentos !== undefined && !d.efectivo_id) {
          // Acknowledgement (issue 15): nobody left to call.
          ponerEmergencia({ id: d.task_id, codigo: d.codigo, ack: 'sin_asignar' });
          var m0 = emergencias.get(d.task_id);
          if (m0) { m0.efectivo_id = null; m0.row.firstChild.textContent = textoEmergencia(m0); }
        } else if (d.task_id === undefined && d.limite !== undefined && d.reported_by !== undefined) {
          // An emergency refused by its caller's hourly bound: the desk must see it.
          GAD.aviso(t('dash.emergencia.rechazada', { usuario: d.reported_by, limite: d.limite }));
        } else if (d.task_id) {
          ponerEmergencia({ id: d.task_id, codigo: d.codigo, created_at: d.created_at, efectivo_id: d.efectivo_id, lat: d.lat, lng: d.lng,
            ack: d.ack_deadline ? 'pendiente_confirmacion' : primerAck(d.task_id, d.efectivo_id) });
        }
        break;
      case 'task_assigned':
        // A (re-)dispatch or a backup waits for the officer's answer.
        if (d.task_id && emergencias.has(d.task_id)) {
          ponerEmergencia({ id: d.task_id, efectivo_id: d.refuerzo ? undefined : d.efectivo_id, ack: d.refuerzo ? 'refuerzo' : d.ack_status });
        }
        break;
      case 'task_created':
        if (d.es_emergencia) {
          var m1 = desdeTarea(d);
          m1.ack = primerAck(d.id, m1.efectivo_id);
          ponerEmergencia(m1);
        }
        else ponerTarea(d);
        break;
      case 'task_status_changed':
        if (d.evento && emergencias.has(d.task_id)) {
          ponerEmergencia({ id: d.task_id, ack: d.evento });
          break;
        }
        // falls through: a state change carries the task
      case 'task_updated':
        var tarea = d.tarea || d;
        var id = d.task_id || tarea.id;
        var estado = d.estado_nuevo || tarea.estado;
        if (emergencias.has(id) && CERRADAS[estado]) quitarEmergencia(id);
        if (tarea && tarea.codigo) ponerTarea(tarea);
        break;
      case 'notification':
        GAD.aviso(t('notificacion', { titulo: d.title || '' }));
        break;
      default:
        break;
    }
  }

  function onState(s) {
    var ind = document.querySelector('[data-testid="live-status"]');
    ind.setAttribute('data-state', s);
    ind.textContent = t('live.' + s);
  }

  // ---- details and trail --------------------------------------------------------------------

  function fila(etiqueta, valor) {
    return [el('dt', { text: etiqueta }), el('dd', { text: valor })];
  }

  function seleccionar(id) {
    var e = efectivos.get(id);
    var caja = document.getElementById('detalle');
    if (!e) return;
    lista.querySelectorAll('[aria-current]').forEach(function (x) { x.removeAttribute('aria-current'); });
    e.row.firstChild.setAttribute('aria-current', 'true');
    map.panTo([e.lat, e.lng]);
    GAD.api('GET', '/api/v1/efectivos/' + id).then(function (r) {
      if (r.status !== 200) { caja.textContent = t('error.generico', { status: r.status }); return; }
      var ef = r.body;
      var actual = null;
      tareas.forEach(function (tarea) {
        if ((tarea.efectivos_asignados || []).indexOf(id) >= 0 && !CERRADAS[tarea.estado]) actual = tarea;
      });
      emergencias.forEach(function (m) { if (m.efectivo_id === id) actual = { codigo: m.codigo, titulo: '' }; });
      var dl = el('dl', { 'data-efectivo-id': id });
      [].concat(
        fila(t('dash.detalle.codigo'), ef.codigo_interno || ''),
        fila(t('dash.detalle.nombre'), [ef.nombre, ef.apellido].filter(Boolean).join(' ')),
        fila(t('dash.detalle.unidad'), ef.unidad || '—'),
        fila(t('dash.detalle.estado'), t('estado.' + ef.estado_disponibilidad)),
        fila(t('dash.detalle.edad'), ef.ubicacion ? GAD.edad(ef.ubicacion.updated_at) : t('edad.nunca')),
        fila(t('dash.detalle.tarea'), actual ? (actual.codigo + ' ' + (actual.titulo || '')).trim() : t('dash.detalle.sin_tarea'))
      ).forEach(function (n) { dl.appendChild(n); });
      var nota = el('p', { class: 'nota', role: 'status' });
      var boton = el('button', { type: 'button', 'data-testid': 'trail-button', text: t('dash.detalle.trayecto') });
      boton.addEventListener('click', function () { trayecto(id, nota); });
      caja.replaceChildren(el('h3', { text: t('dash.efectivo', { id: id }) }), dl, boton, nota);
    });
  }

  function trayecto(id, nota) {
    var hasta = new Date();
    var desde = new Date(hasta.getTime() - 4 * 3600 * 1000);
    var q = '?desde=' + encodeURIComponent(desde.toISOString()) + '&hasta=' + encodeURIComponent(hasta.toISOString());
    GAD.api('GET', '/api/v1/efectivos/' + id + '/ubicaciones' + q).then(function (r) {
      trayectoCapa.clearLayers();
      if (r.status !== 200) { nota.textContent = t('error.generico', { status: r.status }); return; }
      var pts = r.body.puntos.map(function (p) { return [p.lat, p.lng]; });
      if (!pts.length) { nota.textContent = t('dash.trayecto.vacio'); return; }
      trayectoCapa.addLayer(L.polyline(pts, { color: '#8250df', weight: 3, dashArray: '6 4' }));
      nota.textContent = t('dash.trayecto.puntos', { n: pts.length });
    });
  }

  // ---- raising an emergency -----------------------------------------------------------------

  var lugar = null;

  function cerrarNueva() {
    lugar = null;
    document.getElementById('nueva-form').hidden = true;
    document.getElementById('nueva-ayuda').hidden = false;
    if (nuevaMarca) { map.removeLayer(nuevaMarca); nuevaMarca = null; }
  }

  function abrirNueva(latlng) {
    lugar = { lat: Math.round(latlng.lat * 1e6) / 1e6, lng: Math.round(latlng.lng * 1e6) / 1e6 };
    var form = document.getElementById('nueva-form');
    form.hidden = false;
    document.getElementById('nueva-ayuda').hidden = true;
    document.getElementById('nueva-lugar').textContent = t('dash.nueva.lugar', lugar);
    GAD.mostrarErrores(form, {});
    if (nuevaMarca) map.removeLayer(nuevaMarca);
    nuevaMarca = L.circleMarker([lugar.lat, lugar.lng], { radius: 12, color: '#a40e26', weight: 2, dashArray: '4 3', fill: false }).addTo(map);
    var ol = document.getElementById('nueva-sugerencias');
    ol.replaceChildren();
    GAD.api('GET', '/api/v1/tasks/emergency/suggestions?lat=' + lugar.lat + '&lng=' + lugar.lng).then(function (r) {
      var list = r.body;
      if (r.status !== 200 || !Array.isArray(list) || !list.length) {
        ol.appendChild(el('li', { text: t('dash.nueva.sin_sugerencias') }));
        return;
      }
      list.slice(0, 5).forEach(function (s) {
        var id = s.efectivo_id || s.id;
        ol.appendChild(el('li', { 'data-efectivo-id': id, text: t('dash.nueva.sugerencia', { id: id, m: Math.round(s.distance_m || 0) }) }));
      });
    });
  }

  function despachar(ev) {
    ev.preventDefault();
    if (!lugar) return;
    var form = ev.target;
    var body = { lat: lugar.lat, lng: lugar.lng };
    var desc = form.elements.descripcion.value.trim();
    if (desc) body.descripcion = desc;
    GAD.api('POST', '/api/v1/tasks/emergency', body).then(function (r) {
      if (r.status === 201 || r.status === 200) {
        var b = r.body || {};
        GAD.aviso(t('dash.nueva.ok', { codigo: b.codigo || '', id: b.assigned_efectivo_id || '', m: Math.round(b.distance_m || 0) }));
        cerrarNueva();
      } else if (r.status === 422) {
        GAD.mostrarErrores(form, GAD.erroresDeCampo(r.body));
      } else {
        GAD.aviso((r.body && r.body.detail) ? t('error.generico', { status: r.status }) + ' ' + r.body.detail : t('error.generico', { status: r.status }), 'error');
      }
    }, function () { GAD.aviso(t('error.red'), 'error'); });
  }

  // ---- start --------------------------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', function () {
    lista = document.querySelector('[data-testid="unit-list"]');
    listaEmerg = document.querySelector('[data-testid="emergency-list"]');
    cuenta = document.getElementById('unidades-cuenta');
    onState('connecting');

    map = L.map('mapa', { preferCanvas: true, center: [-34.6, -58.38], zoom: 12 });
    map.attributionControl.setPrefix(false);
    // The flex layout settles after Leaflet measured the container: follow its real size.
    // Until the user moves the map, it keeps every officer in view.
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        map.invalidateSize({ pan: false });
        if (encuadre && !movidoPorUsuario) map.fitBounds(encuadre, { padding: [20, 20], animate: false });
      }).observe(document.getElementById('mapa'));
    }
    map.on('dragstart', function () { movidoPorUsuario = true; });
    map.getContainer().addEventListener('wheel', function () { movidoPorUsuario = true; }, { passive: true });
    // Without a reachable tile server the tiles fail quietly and the markers stay on the
    // plain background of #mapa.
    L.tileLayer(document.body.getAttribute('data-tile-url'), {
      maxZoom: 19,
      attribution: '© OpenStreetMap',
      crossOrigin: false
    }).addTo(map);
    // preferCanvas: every circle marker is drawn on one canvas, not as 5,000 SVG nodes.
    oficiales = L.featureGroup().addTo(map);
    oficiales.on('click', function (e) { seleccionar(e.layer.efectivoId); });
    tareasCapa = L.featureGroup().addTo(map);
    emergCapa = L.featureGroup().addTo(map);
    trayectoCapa = L.featureGroup().addTo(map);
    map.on('click', function (e) { abrirNueva(e.latlng); });

    lista.addEventListener('click', function (e) {
      var li = e.target.closest('li[data-efectivo-id]');
      if (li) seleccionar(Number(li.getAttribute('data-efectivo-id')));
    });
    document.getElementById('nueva-form').addEventListener('submit', despachar);
    document.getElementById('nueva-cancelar').addEventListener('click', cerrarNueva);
    setInterval(function () {
      emergencias.forEach(function (m) { if (m.row) m.row.firstChild.textContent = textoEmergencia(m); });
    }, 15000);

    live = new GAD.Live({ snapshot: onSnapshot, event: onEvent, state: onState });
    live.start();
    GAD.alSalir = function () { live.stop(); };

    // Hooks for tests and scripts.
    GAD.mapa = {
      map: map,
      live: live,
      posicion: function (id) { var e = efectivos.get(id); return e ? [e.marker.getLatLng().lat, e.marker.getLatLng().lng] : null; },
      cuantos: function () { return efectivos.size; }
    };
  });
})();
