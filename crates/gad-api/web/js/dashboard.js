// The live map: every located officer (canvas circle markers, so 5,000 stay smooth), active
// emergencies and open tasks; the unit and emergency lists; details, trail, and the intake of
// an emergency (address with suggestions, or a click on the map). Live over the WebSocket (see
// live.js); the incident panel is incidente.js.
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
  // Red is for emergencies only: an ordinary open task is a grey ring whose size tells its
  // priority, so a dozen urgent tasks never read as a dozen emergencies.
  var COLOR_TAREA = '#424a53';
  var COLOR_EMERGENCIA = '#a40e26';
  var CERRADAS = { finalizada: true, cancelada: true };
  var PRIORIDADES = ['1', '2', '3', '4', '5'];
  var DEMORA_DIRECCION = 250; // ms of quiet typing before asking for address suggestions

  var map, oficiales, emergCapa, tareasCapa, trayectoCapa, nuevaMarca;
  var efectivos = new Map();   // id → {id, lat, lng, estado, marker, row}
  var nombres = new Map();     // efectivo id → name, also for officers without a position
  var emergencias = new Map(); // tarea id → {id, codigo, nro, tipo, prioridad, direccion, created_at, efectivo_id, ack, lat, lng, row, marker}
  var tiposIncidente = new Map(); // codigo → catalogue entry
  var tareas = new Map();      // tarea id → Tarea (open, from the API)
  var lista, listaEmerg, cuenta;
  var primerSnapshot = true;
  var encuadre = null;          // bounds of the first snapshot
  var movidoPorUsuario = false;
  var live;
  // On duty: officers with a shift under way (GET /turnos/actual). With DUTY_MODE=turnos the map
  // and the unit list show only them by default, since nobody else can be called; a switch shows
  // everyone, and the choice is remembered per browser. Officers busy on a task stay visible
  // whatever their roster says: the desk must see who is working an incident.
  var CLAVE_SOLO_EN_TURNO = 'gad.mapa.soloEnTurno';
  var OCUPADO = { en_tarea: true, en_camino: true, en_escena: true };
  var REFRESCO_TURNOS_MS = 60000; // shifts start and end with the clock, not with an event
  var soloEnTurno = false;
  var enTurno = new Set();

  function estiloDe(estado) { return ESTILO[estado] || ESTILO.no_disponible; }

  /** `zona`: what the jurisdiction makes of the officer (jurisdiccion.js): outside the
   *  selected zone it is dimmed, inside it outlined in black. */
  function opcionesMarcador(estado, zona) {
    var s = estiloDe(estado);
    // A click on a marker selects it and does not also reach the map (which raises emergencies).
    var o = { radius: s.radius, color: '#ffffff', weight: 1, opacity: 1, fillColor: s.color, fillOpacity: 0.9, dashArray: s.dashArray, bubblingMouseEvents: false };
    if (zona === 'atenuado') { o.opacity = 0.3; o.fillOpacity = 0.2; }
    if (zona === 'destacado') { o.color = '#000000'; o.weight = 2; }
    return o;
  }

  // ---- jurisdiction: what each item shows -------------------------------------------------

  /** Keeps a marker on its layer only while its item is shown. */
  function mostrarMarca(capa, marker, visible) {
    if (visible && !capa.hasLayer(marker)) capa.addLayer(marker);
    else if (!visible && capa.hasLayer(marker)) capa.removeLayer(marker);
  }

  /** A row is listed unless outside the jurisdiction shown or the selected zone. */
  function mostrarFila(row, zona) {
    row.hidden = zona === 'oculto' || zona === 'atenuado';
    if (zona === 'destacado') row.setAttribute('data-zona', 'destacada');
    else row.removeAttribute('data-zona');
  }

  /** `estilo`: restyle the marker even if its zone state did not change (a new status). A
   *  marker is built in the normal style, so 5,000 of them are not restyled at load. */
  function aplicarEfectivo(e, estilo) {
    var zona = GAD.jurisdiccion.estado(e);
    var cambio = zona !== (e.zona || 'normal');
    e.zona = zona;
    // The on-duty switch hides an officer off duty whatever the jurisdiction shows.
    var deTurno = seMuestra(e);
    mostrarMarca(oficiales, e.marker, zona !== 'oculto' && deTurno);
    if (estilo || cambio) e.marker.setStyle(opcionesMarcador(e.estado, zona));
    mostrarFila(e.row, zona);
    if (!deTurno) e.row.hidden = true;
  }

  function aplicarEmergencia(m) {
    var zona = GAD.jurisdiccion.estado(m);
    if (m.marker) {
      mostrarMarca(emergCapa, m.marker, zona !== 'oculto');
      m.marker.setStyle(zona === 'atenuado' ? { opacity: 0.3, fillOpacity: 0.2, weight: 3 }
        : { opacity: 1, fillOpacity: 0.9, weight: zona === 'destacado' ? 5 : 3 });
    }
    if (m.row) mostrarFila(m.row, zona);
  }

  /** A task's place for the jurisdiction: the zone the server gave it, else its position. */
  function lugarTarea(tarea) {
    return { lat: tarea.ubicacion_lat, lng: tarea.ubicacion_lon, zona_id: tarea.zona_id, comisaria_id: tarea.comisaria_id };
  }

  function aplicarTarea(tarea) {
    if (!tarea.marker) return;
    var zona = GAD.jurisdiccion.estado(tarea.lugar || (tarea.lugar = lugarTarea(tarea)));
    mostrarMarca(tareasCapa, tarea.marker, zona !== 'oculto');
    tarea.marker.setStyle(zona === 'atenuado' ? { opacity: 0.3, fillOpacity: 0.2 } : { opacity: 1, fillOpacity: 0.8 });
  }

  function actualizarVacia() {
    var visibles = 0;
    emergencias.forEach(function (m) { if (m.row && !m.row.hidden) visibles += 1; });
    document.getElementById('emerg-vacia').hidden = visibles > 0;
  }

  /** Repaints everything after the jurisdiction, the switch or the selected zone changed. */
  function aplicarJurisdiccion() {
    efectivos.forEach(aplicarEfectivo);
    emergencias.forEach(aplicarEmergencia);
    tareas.forEach(aplicarTarea);
    actualizarCuenta();
    actualizarVacia();
  }

  // ---- officers ---------------------------------------------------------------------------

  /** "Ana Pérez · #62", or "Efectivo #62" while the name is unknown. */
  function etiquetaEfectivo(id) {
    var nombre = nombres.get(id);
    return nombre ? t('dash.efectivo.nombre', { nombre: nombre, id: id }) : t('dash.efectivo', { id: id });
  }

  /** "Ana Pérez (#62)" for the emergency rows and the panel. */
  function asignadoA(id) {
    var nombre = nombres.get(id);
    return nombre ? t('dash.emergencia.asignado_nombre', { nombre: nombre, id: id }) : t('dash.emergencia.asignado', { id: id });
  }

  /** Asks once for the name of an officer the snapshot did not name, then repaints. */
  var pidiendoNombre = new Set();
  function pedirNombre(id) {
    if (!id || nombres.has(id) || pidiendoNombre.has(id)) return;
    pidiendoNombre.add(id);
    GAD.api('GET', '/api/v1/efectivos/' + id).then(function (r) {
      if (r.status !== 200 || !r.body) return;
      var nombre = [r.body.nombre, r.body.apellido].filter(Boolean).join(' ');
      if (!nombre) return;
      nombres.set(id, nombre);
      var e = efectivos.get(id);
      if (e) pintarFila(e);
      emergencias.forEach(function (m) { if (m.efectivo_id === id) pintarEmergencia(m); });
      if (GAD.incidente) GAD.incidente.repintar();
    });
  }

  function filaEfectivo(e) {
    var li = el('li', { 'data-efectivo-id': e.id, 'data-estado': e.estado, 'data-lat': e.lat, 'data-lng': e.lng });
    var b = el('button', { type: 'button', class: 'fila' }, [
      el('span', { class: 'punto ' + e.estado, 'aria-hidden': 'true' }),
      el('span', { class: 'nombre', text: etiquetaEfectivo(e.id) }),
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
    li.querySelector('.nombre').textContent = etiquetaEfectivo(e.id);
    li.querySelector('.estado-txt').textContent = t('estado.' + e.estado);
  }

  function actualizarCuenta() {
    var n = efectivos.size;
    if (soloEnTurno || GAD.jurisdiccion.activo()) {
      n = 0;
      efectivos.forEach(function (e) { if (!e.row.hidden) n += 1; });
    }
    cuenta.textContent = soloEnTurno ? t('dash.unidades.cuenta_en_turno', { n: n, total: efectivos.size })
      : t('dash.unidades.cuenta', { n: n });
  }

  // ---- on duty ------------------------------------------------------------------------------

  function seMuestra(e) { return !soloEnTurno || enTurno.has(e.id) || OCUPADO[e.estado] === true; }

  /** Every officer's marker and row again, after the on-duty switch or set changed. */
  function filtrarTodos() {
    efectivos.forEach(function (e) { aplicarEfectivo(e); });
    actualizarCuenta();
  }

  function cargarEnTurno() {
    if (!soloEnTurno) return;
    GAD.api('GET', '/api/v1/turnos/actual').then(function (r) {
      if (r.status !== 200 || !Array.isArray(r.body)) return;
      enTurno = new Set();
      r.body.forEach(function (u) { (u.efectivos || []).forEach(function (x) { enTurno.add(x.efectivo_id); }); });
      filtrarTodos();
    });
  }

  function preferenciaSoloEnTurno() {
    var guardada = null;
    try { guardada = window.localStorage.getItem(CLAVE_SOLO_EN_TURNO); } catch (e) { /* private mode */ }
    if (guardada === '1' || guardada === '0') return guardada === '1';
    return document.body.getAttribute('data-duty-mode') === 'turnos';
  }

  function ponerSoloEnTurno(valor) {
    soloEnTurno = valor;
    try { window.localStorage.setItem(CLAVE_SOLO_EN_TURNO, valor ? '1' : '0'); } catch (e) { /* private mode */ }
    filtrarTodos();
    cargarEnTurno();
  }

  function cargarEfectivos(lista0) {
    oficiales.clearLayers();
    efectivos.clear();
    var frag = document.createDocumentFragment();
    lista0.slice().sort(function (a, b) { return a.id - b.id; }).forEach(function (p) {
      if (typeof p.lat !== 'number' || typeof p.lng !== 'number') return;
      var e = { id: p.id, lat: p.lat, lng: p.lng, estado: p.estado || 'no_disponible' };
      if (p.nombre) nombres.set(p.id, p.nombre);
      e.marker = L.circleMarker([e.lat, e.lng], opcionesMarcador(e.estado));
      e.marker.efectivoId = e.id;
      e.row = filaEfectivo(e);
      aplicarEfectivo(e);
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
      e.row = filaEfectivo(e);
      aplicarEfectivo(e);
      // Keep the list ordered by id.
      var next = null;
      efectivos.forEach(function (o) { if (o.id > id && (!next || o.id < next.id)) next = o; });
      lista.insertBefore(e.row, next ? next.row : null);
      efectivos.set(id, e);
      actualizarCuenta();
      pedirNombre(id);
      return;
    }
    e.lat = lat; e.lng = lng;
    if (estado) e.estado = estado;
    e.marker.setLatLng([lat, lng]);
    var antes = e.zona;
    var antesOculta = e.row.hidden;
    aplicarEfectivo(e, true);
    pintarFila(e);
    if (antes !== e.zona || antesOculta !== e.row.hidden) actualizarCuenta();
  }

  function cambiarEstado(id, estado) {
    var e = efectivos.get(id);
    if (!e || !estado || !ESTILO[estado]) return;
    e.estado = estado;
    e.marker.setStyle(opcionesMarcador(estado, e.zona));
    pintarFila(e);
    if (soloEnTurno) {
      var oculta = e.row.hidden;
      aplicarEfectivo(e);
      if (oculta !== e.row.hidden) actualizarCuenta();
    }
  }

  // ---- emergencies and tasks ----------------------------------------------------------------

  /** Tooltip content as a text node inside an element: Leaflet renders a string tooltip as
   *  HTML, and a task code or title is whatever a user typed. */
  function tooltipTexto(texto) {
    var span = document.createElement('span');
    span.textContent = texto;
    return span;
  }

  function nombreTipo(codigo) {
    var tipo = codigo ? tiposIncidente.get(codigo) : null;
    return tipo ? tipo.nombre : (codigo || '');
  }

  /** The row of an emergency: case number, type, priority; address, age, officer, acknowledgement.
   *  The task code stays in the row (it is what the officer's message says). */
  function pintarEmergencia(m) {
    if (!m.row) return;
    var cabeza = [el('strong', { class: 'nro', text: m.nro || m.codigo })];
    if (m.nro && m.codigo) cabeza.push(el('span', { class: 'codigo', text: m.codigo }));
    if (m.tipo) cabeza.push(el('span', { class: 'tipo', text: nombreTipo(m.tipo) }));
    if (m.prioridad) cabeza.push(el('span', { class: 'prio p' + m.prioridad, text: t('dash.emergencia.prioridad', { p: m.prioridad }) }));
    var partes = [
      m.direccion || t('dash.emergencia.sin_direccion'),
      t('dash.emergencia.edad', { edad: GAD.edad(m.created_at) }),
      m.efectivo_id ? asignadoA(m.efectivo_id) : t('dash.emergencia.sin_asignar')
    ];
    if (m.ack) partes.push(t('ack.' + m.ack));
    m.row.firstChild.replaceChildren(
      el('span', { class: 'linea1' }, cabeza),
      el('span', { class: 'linea2', text: partes.join(' · ') })
    );
    m.row.setAttribute('data-nro', m.nro || '');
    if (m.ack) m.row.setAttribute('data-ack', m.ack);
    if (m.efectivo_id) m.row.setAttribute('data-efectivo-id', m.efectivo_id);
    else m.row.removeAttribute('data-efectivo-id');
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
      var id = m.id;
      m.row = el('li', { 'data-tarea-id': id }, [el('button', { type: 'button', class: 'fila' })]);
      m.row.firstChild.addEventListener('click', function () { abrirEmergencia(id); });
      listaEmerg.insertBefore(m.row, listaEmerg.firstChild);
    }
    emergencias.set(m.id, m);
    pintarEmergencia(m);
    if (m.efectivo_id) pedirNombre(m.efectivo_id);
    if (typeof m.lat === 'number' && typeof m.lng === 'number') {
      if (!m.marker) {
        m.marker = L.circleMarker([m.lat, m.lng], { radius: 10, color: COLOR_EMERGENCIA, weight: 3, fillColor: '#ff8182', fillOpacity: 0.9, bubblingMouseEvents: false });
        m.marker.bindTooltip(tooltipTexto(m.nro || m.codigo));
        m.marker.tareaId = m.id;
        emergCapa.addLayer(m.marker);
      } else {
        m.marker.setLatLng([m.lat, m.lng]);
      }
    }
    aplicarEmergencia(m);
    actualizarVacia();
    if (GAD.incidente) GAD.incidente.repintar();
  }

  function abrirEmergencia(id) {
    var m = emergencias.get(id);
    if (m && typeof m.lat === 'number') map.setView([m.lat, m.lng], Math.max(map.getZoom(), 15));
    listaEmerg.querySelectorAll('[aria-current]').forEach(function (x) { x.removeAttribute('aria-current'); });
    if (m && m.row) m.row.firstChild.setAttribute('aria-current', 'true');
    GAD.incidente.abrir(id);
  }

  function quitarEmergencia(id) {
    var m = emergencias.get(id);
    if (!m) return;
    if (m.row) m.row.remove();
    if (m.marker) emergCapa.removeLayer(m.marker);
    emergencias.delete(id);
    actualizarVacia();
  }

  /** An emergency entry from a task as the API returns it (incident fields when present). */
  function desdeTarea(tarea) {
    var inc = tarea.incidente || {};
    return {
      id: tarea.id,
      codigo: tarea.codigo,
      nro: tarea.nro_incidente || undefined,
      tipo: inc.tipo_incidente || undefined,
      prioridad: inc.prioridad || undefined,
      direccion: inc.direccion || undefined,
      created_at: tarea.created_at,
      efectivo_id: (tarea.efectivos_asignados || [])[0],
      lat: tarea.ubicacion_lat,
      lng: tarea.ubicacion_lon,
      zona_id: tarea.zona_id,
      comisaria_id: tarea.comisaria_id
    };
  }

  function ponerTarea(tarea) {
    var prev = tareas.get(tarea.id);
    if (prev && prev.marker) tareasCapa.removeLayer(prev.marker);
    if (CERRADAS[tarea.estado] || tarea.es_emergencia) { tareas.delete(tarea.id); return; }
    if (typeof tarea.ubicacion_lat === 'number' && typeof tarea.ubicacion_lon === 'number') {
      var p = tarea.prioridad || 2;
      tarea.marker = L.circleMarker([tarea.ubicacion_lat, tarea.ubicacion_lon], {
        radius: 3 + p, color: COLOR_TAREA, weight: 2, dashArray: '3 2', fillColor: '#ffffff', fillOpacity: 0.8,
        bubblingMouseEvents: false
      });
      tarea.marker.bindTooltip(tooltipTexto(t('dash.tarea', { codigo: tarea.codigo, p: p })));
      aplicarTarea(tarea);
    }
    tareas.set(tarea.id, tarea);
  }

  /** The jurisdictions layer (comisarías solid, cuadrantes dashed, name on hover), with a
   * toggle in the layers control; jurisdiccion.js styles it and selects zones from its list.
   * Names go in through textContent, never as HTML. */
  function ponerZonas() {
    var capa = L.geoJSON(null, {
      onEachFeature: function (f, layer) {
        var nombre = document.createElement('span');
        nombre.textContent = f.properties.nombre;
        layer.bindTooltip(nombre, { sticky: true });
      }
    }).addTo(map);
    var overlays = {};
    overlays[GAD.t('dash.capa.zonas')] = capa;
    L.control.layers(null, overlays, { collapsed: false }).addTo(map);
    GAD.jurisdiccion.iniciar({ capa: capa, cambio: aplicarJurisdiccion });
    GAD.api('GET', '/api/v1/zonas/geojson').then(function (r) {
      if (r.status === 200 && r.body && Array.isArray(r.body.features)) {
        capa.addData(r.body);
        // On one canvas the last drawn shape takes the click, and the map canvas tests the
        // inside of a polygon too: behind everything, so a click on an officer or an emergency
        // inside a zone reaches it, and one elsewhere still raises an emergency there.
        capa.bringToBack();
        GAD.jurisdiccion.cargarZonas(r.body);
      }
    });
  }

  /** Creation time, assigned officer and place of the active emergencies, and open tasks. */
  function enriquecer() {
    // The whole city: the jurisdiction switch filters what is drawn, without asking again.
    GAD.api('GET', '/api/v1/tasks?es_emergencia=true&limit=500&toda_la_ciudad=true').then(function (r) {
      if (r.status !== 200 || !Array.isArray(r.body)) return;
      r.body.forEach(function (tarea) {
        if (emergencias.has(tarea.id) && !CERRADAS[tarea.estado]) ponerEmergencia(desdeTarea(tarea));
      });
    });
    GAD.api('GET', '/api/v1/tasks?limit=500&toda_la_ciudad=true').then(function (r) {
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
      // The intake form's catalogue is asked for after the map is usable, not before.
      llenarTipos();
      cargarAlertas();
      if (GAD.mensajes) GAD.mensajes.iniciar();
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
        // Officer-safety check-ins: the question is the officer's; the alerts stay until seen.
        if (d.kind === 'checkin_pregunta') break;
        if (d.alerta_id && d.kind) {
          ponerAlerta({ id: d.alerta_id, kind: d.kind, severity: d.level, tarea_id: d.task_id,
            efectivo_id: d.efectivo_id, payload: { codigo: d.codigo } }, true);
          break;
        }
        // Console alarms of emergencies: a new one, and one nobody could take. The rows below
        // are handled as before; the alarm stays in the bar until someone marks it seen.
        if (d.alerta_id && d.task_id) {
          var sinAsignar = d.intentos !== undefined && !d.efectivo_id;
          ponerAlerta({ id: d.alerta_id, kind: sinAsignar ? 'sin_asignar' : 'emergencia_nueva',
            severity: 'critical', tarea_id: d.task_id, payload: { codigo: d.codigo } }, true);
        }
        // An emergency's or a backup's call reserves the officer (en_tarea) before any
        // efectivo_status_changed: the unit list follows it here.
        if (d.task_id && d.efectivo_id) cambiarEstado(d.efectivo_id, 'en_tarea');
        if (d.task_id && d.intentos !== undefined && !d.efectivo_id) {
          // Acknowledgement (issue 15): nobody left to call.
          ponerEmergencia({ id: d.task_id, codigo: d.codigo, ack: 'sin_asignar' });
          var m0 = emergencias.get(d.task_id);
          if (m0) { m0.efectivo_id = null; pintarEmergencia(m0); }
        } else if (d.task_id === undefined && d.limite !== undefined && d.reported_by !== undefined) {
          // An emergency refused by its caller's hourly bound: the desk must see it.
          GAD.aviso(t('dash.emergencia.rechazada', { usuario: d.reported_by, limite: d.limite }));
        } else if (d.task_id) {
          var inc = d.incidente || {};
          var prev = emergencias.get(d.task_id);
          // A backup's call (announced by its task_assigned just before) leaves the row's
          // primary officer and acknowledgement as they are.
          var deRefuerzo = prev && prev.refuerzos && prev.refuerzos.has(d.efectivo_id);
          ponerEmergencia({ id: d.task_id, codigo: d.codigo, created_at: d.created_at, lat: d.lat, lng: d.lng,
            nro: inc.nro_incidente || d.nro_incidente || undefined, tipo: inc.tipo_incidente || undefined,
            prioridad: inc.prioridad || undefined, direccion: inc.direccion || undefined,
            efectivo_id: deRefuerzo ? undefined : d.efectivo_id,
            ack: deRefuerzo || !d.efectivo_id ? undefined : (d.ack_deadline ? 'pendiente_confirmacion' : primerAck(d.task_id, d.efectivo_id)) });
          if (d.faltantes > 0) {
            GAD.aviso(t('dash.emergencia.faltantes', { nro: inc.nro_incidente || d.nro_incidente || d.codigo, n: d.faltantes }), 'error');
          }
        }
        break;
      case 'task_assigned':
        // A (re-)dispatch or a backup waits for the officer's answer; the officer is en_tarea.
        if (d.task_id && d.efectivo_id && d.ack_status) cambiarEstado(d.efectivo_id, 'en_tarea');
        if (d.task_id && emergencias.has(d.task_id)) {
          var m2 = emergencias.get(d.task_id);
          if (d.refuerzo) (m2.refuerzos = m2.refuerzos || new Set()).add(d.efectivo_id);
          // A backup called while the primary officer has not answered yet (a response plan
          // of several officers) leaves the row waiting for that answer.
          var ackRefuerzo = m2.ack === 'pendiente_confirmacion' ? undefined : 'refuerzo';
          ponerEmergencia({ id: d.task_id, efectivo_id: d.refuerzo ? undefined : d.efectivo_id, ack: d.refuerzo ? ackRefuerzo : d.ack_status });
        }
        break;
      case 'task_created':
        if (d.es_emergencia) {
          if (!CERRADAS[d.estado]) (d.efectivos_asignados || []).forEach(function (ef) { cambiarEstado(ef, 'en_tarea'); });
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
        else if (emergencias.has(id) && tarea && tarea.es_emergencia) ponerEmergencia(desdeTarea(tarea));
        if (tarea && tarea.codigo) ponerTarea(tarea);
        break;
      case 'notification':
        GAD.aviso(t('notificacion', { titulo: d.title || '' }));
        break;
      case 'shift_clock':
        // A clock-in or clock-out moves the on-duty set.
        cargarEnTurno();
        break;
      case 'message':
        // An urgent message to the desk rings like the other alarms, until marked seen.
        if (d.kind === 'nuevo' && d.alerta_id) {
          ponerAlerta({ id: d.alerta_id, kind: 'mensaje_urgente', severity: 'warning',
            payload: { mensaje_id: d.mensaje_id, texto: d.texto } }, true);
        }
        break;
      case 'alert_seen':
        // Another supervisor marked it seen: every dashboard drops it.
        quitarAlerta(d.alerta_id);
        break;
      default:
        break;
    }
    GAD.incidente.evento(type, d);
    if (GAD.mensajes) GAD.mensajes.evento(type, d);
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
      emergencias.forEach(function (m) { if (m.efectivo_id === id) actual = { codigo: m.nro || m.codigo, titulo: m.direccion || '' }; });
      var nombre = [ef.nombre, ef.apellido].filter(Boolean).join(' ');
      if (nombre && nombres.get(id) !== nombre) { nombres.set(id, nombre); pintarFila(e); }
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
      caja.replaceChildren(el('h3', { text: etiquetaEfectivo(id) }), dl, boton, nota);
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

  // ---- intake of an emergency -------------------------------------------------------------

  // The point of the incident: from a click on the map, or from an address suggestion (which a
  // later edit of the address forgets). Without a point the server geocodes `direccion`.
  var lugar = null;
  var dirPedido = 0;
  var dirTimer = null;

  function formulario() { return document.getElementById('nueva-form'); }

  function mostrarFormulario(visible) {
    formulario().hidden = !visible;
    document.getElementById('nueva-ayuda').hidden = visible;
    document.getElementById('nueva-abrir').setAttribute('aria-expanded', visible ? 'true' : 'false');
  }

  function pintarLugar() {
    document.getElementById('nueva-lugar').textContent = lugar ? t('dash.nueva.lugar', lugar) : t('dash.nueva.sin_lugar');
    // The nearest officers are known only for a point.
    document.getElementById('nueva-cercanos').hidden = !lugar;
  }

  function cerrarNueva() {
    lugar = null;
    formulario().reset();
    GAD.mostrarErrores(formulario(), {});
    document.getElementById('dir-sugerencias').replaceChildren();
    document.getElementById('nueva-sugerencias').replaceChildren();
    mostrarFormulario(false);
    if (nuevaMarca) { map.removeLayer(nuevaMarca); nuevaMarca = null; }
  }

  function abrirFormulario() {
    mostrarFormulario(true);
    pintarLugar();
    document.getElementById('nueva-direccion').focus();
  }

  /** Sets the incident's point, marks it and lists the nearest available officers. */
  function ponerLugar(lat, lng, origen) {
    lugar = { lat: Math.round(lat * 1e6) / 1e6, lng: Math.round(lng * 1e6) / 1e6, origen: origen };
    mostrarFormulario(true);
    pintarLugar();
    if (nuevaMarca) map.removeLayer(nuevaMarca);
    nuevaMarca = L.circleMarker([lugar.lat, lugar.lng], { radius: 12, color: COLOR_EMERGENCIA, weight: 2, dashArray: '4 3', fill: false }).addTo(map);
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
        var nombre = nombres.get(id);
        var datos = { id: id, nombre: nombre, m: Math.round(s.distance_m || 0) };
        ol.appendChild(el('li', { 'data-efectivo-id': id, text: t(nombre ? 'dash.nueva.sugerencia_nombre' : 'dash.nueva.sugerencia', datos) }));
      });
    });
  }

  function abrirNueva(latlng) {
    GAD.mostrarErrores(formulario(), {});
    ponerLugar(latlng.lat, latlng.lng, 'mapa');
    var dir = document.getElementById('nueva-direccion');
    // The nearest known place names the spot, unless the call-taker already wrote an address.
    GAD.api('GET', '/api/v1/geo/inverso?lat=' + lugar.lat + '&lng=' + lugar.lng).then(function (r) {
      if (r.status === 200 && r.body && r.body.nombre && !dir.value.trim()) dir.value = r.body.nombre;
    });
  }

  function sugerirDirecciones() {
    var input = document.getElementById('nueva-direccion');
    var ul = document.getElementById('dir-sugerencias');
    var q = input.value.trim();
    var pedido = ++dirPedido;
    if (q.length < 3) { ul.replaceChildren(); return; }
    GAD.api('GET', '/api/v1/geo/buscar?q=' + encodeURIComponent(q) + '&limit=5').then(function (r) {
      if (pedido !== dirPedido) return; // a newer keystroke asked again
      var list = r.status === 200 && Array.isArray(r.body) ? r.body : null;
      if (!list) { ul.replaceChildren(); return; }
      if (!list.length) { ul.replaceChildren(el('li', { class: 'vacio', text: t('dash.nueva.dir_sin_resultados') })); return; }
      ul.replaceChildren.apply(ul, list.slice(0, 5).map(function (p) {
        var b = el('button', { type: 'button', class: 'secundario', 'data-lat': p.lat, 'data-lng': p.lng, text: p.nombre });
        b.addEventListener('click', function () {
          input.value = p.nombre;
          ul.replaceChildren();
          ponerLugar(p.lat, p.lng, 'direccion');
          map.setView([p.lat, p.lng], Math.max(map.getZoom(), 15));
          input.focus();
        });
        return el('li', {}, [b]);
      }));
    }, function () { /* suggestions are a help: a failed one is silent */ });
  }

  function alEscribirDireccion() {
    if (lugar && lugar.origen === 'direccion') {
      lugar = null;
      pintarLugar();
      if (nuevaMarca) { map.removeLayer(nuevaMarca); nuevaMarca = null; }
      document.getElementById('nueva-sugerencias').replaceChildren();
    }
    clearTimeout(dirTimer);
    dirTimer = setTimeout(sugerirDirecciones, DEMORA_DIRECCION);
  }

  function llenarPrioridades() {
    var prio = document.getElementById('nueva-prioridad');
    prio.replaceChildren(el('option', { value: '', text: t('dash.nueva.prioridad_tipo') }));
    PRIORIDADES.forEach(function (p) { prio.appendChild(el('option', { value: p, text: t('prioridad.' + p) })); });
  }

  /** Alerts kept until a supervisor marks them seen (GET /api/v1/alertas?pendientes=true). */
  var alertas = new Map();
  var listaAlertas = document.getElementById('alertas-lista');

  function ponerAlerta(a, nueva) {
    if (alertas.has(a.id)) return;
    var p = a.payload || {};
    var clave = 'dash.alerta.' + a.kind;
    var texto = GAD.textos[clave]
      ? t(clave, { efectivo: a.efectivo_id, codigo: p.codigo || a.tarea_id, texto: p.texto || '' })
      : t('dash.alerta.otra', { kind: a.kind });
    var boton = el('button', { type: 'button', class: 'secundario', 'data-testid': 'alerta-visto', text: t('dash.alerta.visto') });
    var row = el('li', { 'data-alerta-id': a.id, 'data-kind': a.kind, 'data-severity': a.severity,
      'data-tarea-id': a.tarea_id || '',
      'data-testid': a.kind.indexOf('checkin_') === 0 ? 'alerta-checkin' : 'alerta',
      class: 'alerta ' + (a.severity === 'critical' ? 'critica' : 'aviso') }, [
      el('span', { text: texto }), boton
    ]);
    boton.addEventListener('click', function () {
      boton.disabled = true;
      GAD.api('POST', '/api/v1/alertas/' + a.id + '/visto', {}).then(function (r) {
        if (r.status === 200) quitarAlerta(a.id);
        else { boton.disabled = false; GAD.aviso(t('dash.alerta.visto_error'), 'error'); }
      });
    });
    alertas.set(a.id, row);
    listaAlertas.insertBefore(row, listaAlertas.firstChild);
    document.getElementById('alertas').hidden = false;
    if (nueva) GAD.Alarmas.avisar(a.kind, a.severity, texto);
  }

  function quitarAlerta(id) {
    var row = alertas.get(id);
    if (row) row.remove();
    alertas.delete(id);
    document.getElementById('alertas').hidden = alertas.size === 0;
  }

  function cargarAlertas() {
    GAD.api('GET', '/api/v1/alertas?pendientes=true').then(function (r) {
      if (r.status !== 200 || !Array.isArray(r.body)) return;
      r.body.slice().reverse().forEach(function (a) { ponerAlerta(a, false); });
    });
  }

  function llenarTipos() {
    var tipo = document.getElementById('nueva-tipo');
    tipo.replaceChildren(el('option', { value: '', text: t('dash.nueva.tipo_ninguno') }));
    GAD.api('GET', '/api/v1/tipos-incidente').then(function (r) {
      var list = r.status === 200 ? (Array.isArray(r.body) ? r.body : (r.body && r.body.items) || []) : [];
      list.forEach(function (x) {
        if (!x || !x.codigo) return;
        tiposIncidente.set(x.codigo, x);
        tipo.appendChild(el('option', { value: x.codigo, text: x.nombre || x.codigo }));
      });
      if (list.length) emergencias.forEach(pintarEmergencia);
    });
  }

  /** The API body from the form: empty fields left out, the caller only when given. */
  function cuerpoFormulario(form) {
    var f = form.elements;
    var body = {};
    ['direccion', 'referencia', 'tipo_incidente', 'descripcion'].forEach(function (k) {
      var v = f[k].value.trim();
      if (v) body[k] = v;
    });
    if (f.prioridad.value) body.prioridad = Number(f.prioridad.value);
    var nombre = f['denunciante.nombre'].value.trim();
    var telefono = f['denunciante.telefono'].value.trim();
    if (nombre || telefono) body.denunciante = { nombre: nombre || null, telefono: telefono || null };
    if (lugar) { body.lat = lugar.lat; body.lng = lugar.lng; }
    return body;
  }

  function despachar(ev) {
    ev.preventDefault();
    var form = ev.target;
    var body = cuerpoFormulario(form);
    if (!lugar && !body.direccion) {
      GAD.mostrarErrores(form, { direccion: t('validacion.lugar') });
      return;
    }
    GAD.api('POST', '/api/v1/tasks/emergency', body).then(function (r) {
      if (r.status === 201 || r.status === 200) {
        var b = r.body || {};
        var id = b.assigned_efectivo_id;
        var nro = b.nro_incidente || b.codigo || '';
        var m = Math.round(b.distance_m || 0);
        var msg = id && nombres.get(id) ? t('dash.nueva.ok_nombre', { codigo: nro, nombre: nombres.get(id), id: id, m: m })
          : t('dash.nueva.ok', { codigo: nro, id: id || '', m: m });
        if (b.faltantes > 0) msg += ' ' + t('dash.nueva.faltantes', { n: b.faltantes });
        GAD.aviso(msg);
        if (b.task_id) {
          // The socket brings it too; the answer is here first.
          ponerEmergencia({ id: b.task_id, codigo: b.codigo, nro: b.nro_incidente || undefined, efectivo_id: id || undefined,
            created_at: new Date().toISOString(), lat: body.lat, lng: body.lng, direccion: body.direccion,
            tipo: body.tipo_incidente, prioridad: body.prioridad, ack: primerAck(b.task_id, id) });
          if (id) cambiarEstado(id, 'en_tarea');
          (b.despachados || []).forEach(function (x) { if (x && x.efectivo_id) cambiarEstado(x.efectivo_id, 'en_tarea'); });
          GAD.api('GET', '/api/v1/tasks/' + b.task_id).then(function (rt) {
            if (rt.status === 200 && rt.body && emergencias.has(b.task_id) && !CERRADAS[rt.body.estado]) ponerEmergencia(desdeTarea(rt.body));
          });
        }
        cerrarNueva();
      } else if (r.status === 422) {
        GAD.mostrarErrores(form, GAD.erroresDeCampo(r.body));
        GAD.aviso(t('dash.nueva.errores'), 'error');
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
    ponerZonas();
    map.on('click', function (e) { abrirNueva(e.latlng); });

    lista.addEventListener('click', function (e) {
      var li = e.target.closest('li[data-efectivo-id]');
      if (li) seleccionar(Number(li.getAttribute('data-efectivo-id')));
    });
    var interruptor = document.getElementById('solo-en-turno');
    soloEnTurno = preferenciaSoloEnTurno();
    interruptor.checked = soloEnTurno;
    interruptor.addEventListener('change', function () { ponerSoloEnTurno(interruptor.checked); });
    cargarEnTurno();
    window.setInterval(cargarEnTurno, REFRESCO_TURNOS_MS);
    emergCapa.on('click', function (e) { if (e.layer.tareaId) abrirEmergencia(e.layer.tareaId); });
    document.getElementById('nueva-form').addEventListener('submit', despachar);
    document.getElementById('nueva-cancelar').addEventListener('click', cerrarNueva);
    document.getElementById('nueva-abrir').addEventListener('click', function () {
      if (formulario().hidden) abrirFormulario(); else cerrarNueva();
    });
    var dir = document.getElementById('nueva-direccion');
    dir.addEventListener('input', alEscribirDireccion);
    dir.addEventListener('keydown', function (e) {
      if (e.key === 'Escape') document.getElementById('dir-sugerencias').replaceChildren();
    });
    llenarPrioridades();
    GAD.incidente.iniciar({
      emergencia: function (id) { return emergencias.get(id); },
      asignadoA: function (id) { pedirNombre(id); return asignadoA(id); },
      tipo: nombreTipo
    });
    setInterval(function () { emergencias.forEach(pintarEmergencia); }, 15000);

    live = new GAD.Live({ snapshot: onSnapshot, event: onEvent, state: onState });
    live.start();
    GAD.alSalir = function () { live.stop(); };

    // Hooks for tests and scripts.
    GAD.mapa = {
      map: map,
      live: live,
      posicion: function (id) { var e = efectivos.get(id); return e ? [e.marker.getLatLng().lat, e.marker.getLatLng().lng] : null; },
      cuantos: function () { return efectivos.size; },
      // What the map draws: emergency markers, task markers, and task markers drawn in red.
      marcas: function () {
        var rojas = 0;
        tareasCapa.eachLayer(function (l) { if (l.options.color === COLOR_EMERGENCIA) rojas += 1; });
        return { emergencias: emergCapa.getLayers().length, tareas: tareasCapa.getLayers().length, tareasRojas: rojas };
      },
      // The jurisdiction: zones loaded, own comisarías, switch, selected zone.
      jurisdiccion: function () { return GAD.jurisdiccion.resumen(); },
      // Whether an emergency's marker is drawn, and how (normal, atenuado, destacado).
      emergencia: function (id) {
        var m = emergencias.get(id);
        return m && m.marker ? { dibujada: emergCapa.hasLayer(m.marker), opacidad: m.marker.options.opacity, grosor: m.marker.options.weight } : null;
      }
    };
  });
})();
