// Shifts and leave: the day's roster by unit (GET /api/v1/turnos/planilla), kept live by the
// socket (a clock-in or clock-out, a missed clock-in alert, a reconnection reload it), the
// pending leave requests to approve or reject, a week view, and forms for a shift and a
// repeating pattern.
(function () {
  'use strict';
  var GAD = window.GAD;
  var t = GAD.t;
  var el = GAD.el;

  var ESTADOS = ['en_turno', 'tarde', 'ausente', 'licencia', 'libre'];
  // States move with the clock (late becomes absent, a shift ends): reload now and then too.
  var REFRESCO_MS = 60000;
  var nombres = new Map();
  var fecha = '';
  var lunes = null;
  var pendiente = null;

  function hora(iso) {
    if (!iso) return '';
    return new Date(iso).toLocaleTimeString(GAD.idioma, { hour: '2-digit', minute: '2-digit' });
  }

  function dia(d) {
    return d.toLocaleDateString(GAD.idioma, { weekday: 'short', day: '2-digit', month: '2-digit' });
  }

  function quien(id) {
    return nombres.get(id) || t('turnos.efectivo_id', { id: id });
  }

  // ---- the day's roster ---------------------------------------------------------------------

  function cargarPlanilla() {
    var q = fecha ? '?fecha=' + encodeURIComponent(fecha) : '';
    return GAD.api('GET', '/api/v1/turnos/planilla' + q).then(function (r) {
      if (r.status !== 200 || !r.body) { GAD.aviso(t('error.generico', { status: r.status }), 'error'); return; }
      pintarPlanilla(r.body);
    });
  }

  /** Reloads soon, once for a burst of events. */
  function programar() {
    if (pendiente) return;
    pendiente = setTimeout(function () {
      pendiente = null;
      cargarPlanilla();
    }, 150);
  }

  function pintarPlanilla(p) {
    var cuerpo = document.getElementById('planilla-filas');
    var cuenta = {};
    ESTADOS.forEach(function (e) { cuenta[e] = 0; });
    var filas = [];
    if (!fecha) {
      fecha = p.fecha;
      document.getElementById('p-fecha').value = p.fecha;
    }
    (p.unidades || []).forEach(function (u) {
      u.efectivos.forEach(function (f, i) {
        var nombre = t('turnos.efectivo', { nombre: f.nombre, codigo: f.codigo_interno });
        nombres.set(f.efectivo_id, nombre);
        cuenta[f.estado_turno] = (cuenta[f.estado_turno] || 0) + 1;
        var horario = f.inicio ? t('turnos.horario', { inicio: GAD.fecha(f.inicio), fin: hora(f.fin) }) : '';
        var ingreso = f.licencia_tipo && !f.ingreso_at
          ? t('turnos.licencia_tipo', { tipo: t('turnos.licencia.tipo.' + f.licencia_tipo) })
          : f.egreso_at ? t('turnos.ingreso_egreso', { ingreso: hora(f.ingreso_at), egreso: hora(f.egreso_at) })
            : f.ingreso_at ? t('turnos.ingreso', { hora: hora(f.ingreso_at) }) : t('turnos.sin_ingreso');
        filas.push(el('tr', { 'data-testid': 'roster', 'data-efectivo-id': f.efectivo_id,
          'data-estado-turno': f.estado_turno, 'data-turno-id': f.turno_id }, [
          i === 0 ? el('th', { scope: 'row', text: u.unidad || t('turnos.sin_unidad') }) : el('td', { text: '' }),
          el('td', { text: nombre }),
          el('td', { text: horario }),
          el('td', { text: ingreso }),
          el('td', {}, [el('span', { class: 'turno-estado ' + f.estado_turno, text: t('turnos.estado.' + f.estado_turno) })])
        ]));
      });
    });
    cuerpo.replaceChildren.apply(cuerpo, filas);
    document.getElementById('planilla-vacia').hidden = filas.length > 0;
    var vars = { fecha: p.fecha, zona: p.zona_horaria };
    ESTADOS.forEach(function (e) { vars[e] = cuenta[e]; });
    document.getElementById('planilla-resumen').textContent = t('turnos.resumen', vars);
  }

  // ---- leave --------------------------------------------------------------------------------

  function cargarLicencias() {
    GAD.api('GET', '/api/v1/licencias?estado=pendiente&limit=100').then(function (r) {
      if (r.status !== 200 || !Array.isArray(r.body)) return;
      var cuerpo = document.getElementById('licencias-filas');
      var filas = r.body.map(function (l) {
        var motivo = el('input', { id: 'lic-motivo-' + l.id, maxlength: '1000',
          'aria-label': t('turnos.licencia.motivo', { id: l.id }) });
        var aprobar = el('button', { type: 'button', 'data-testid': 'leave-approve', text: t('turnos.licencia.aprobar') });
        var rechazar = el('button', { type: 'button', class: 'secundario', 'data-testid': 'leave-reject', text: t('turnos.licencia.rechazar') });
        function resolver(accion, ok) {
          aprobar.disabled = true;
          rechazar.disabled = true;
          var texto = motivo.value.trim() || t('turnos.licencia.motivo_defecto');
          GAD.api('POST', '/api/v1/licencias/' + l.id + '/' + accion, { motivo: texto }).then(function (x) {
            if (x.status === 200) {
              GAD.aviso(t(ok));
              cargarLicencias();
              cargarPlanilla();
              cargarSemana();
            } else {
              aprobar.disabled = false;
              rechazar.disabled = false;
              GAD.aviso((x.body && x.body.detail) || t('error.generico', { status: x.status }), 'error');
            }
          });
        }
        aprobar.addEventListener('click', function () { resolver('aprobar', 'turnos.licencia.aprobada'); });
        rechazar.addEventListener('click', function () { resolver('rechazar', 'turnos.licencia.rechazada'); });
        return el('tr', { 'data-testid': 'leave', 'data-licencia-id': l.id, 'data-efectivo-id': l.efectivo_id }, [
          el('td', { text: quien(l.efectivo_id) }),
          el('td', { text: t('turnos.licencia.tipo.' + l.tipo) }),
          el('td', { text: t('turnos.licencia.dias', { desde: l.desde, hasta: l.hasta }) }),
          el('td', { text: l.motivo || '' }),
          el('td', {}, [el('div', { class: 'acciones' }, [motivo, aprobar, rechazar])])
        ]);
      });
      cuerpo.replaceChildren.apply(cuerpo, filas);
      document.getElementById('licencias-vacia').hidden = filas.length > 0;
    });
  }

  // ---- week ---------------------------------------------------------------------------------

  function lunesDe(d) {
    var x = new Date(d.getFullYear(), d.getMonth(), d.getDate());
    x.setDate(x.getDate() - ((x.getDay() + 6) % 7));
    return x;
  }

  function cargarSemana() {
    var fin = new Date(lunes);
    fin.setDate(fin.getDate() + 7);
    var ultimo = new Date(fin);
    ultimo.setDate(ultimo.getDate() - 1);
    document.getElementById('semana-rango').textContent = t('turnos.semana.rango', { desde: dia(lunes), hasta: dia(ultimo) });
    var q = '?limit=500&desde=' + encodeURIComponent(lunes.toISOString()) + '&hasta=' + encodeURIComponent(fin.toISOString());
    GAD.api('GET', '/api/v1/turnos' + q).then(function (r) {
      if (r.status !== 200 || !Array.isArray(r.body)) return;
      var dias = [];
      for (var i = 0; i < 7; i += 1) {
        var d = new Date(lunes);
        d.setDate(d.getDate() + i);
        dias.push(d);
      }
      var cab = document.getElementById('semana-cabecera');
      cab.replaceChildren.apply(cab, [el('th', { scope: 'col', text: t('turnos.semana.efectivo') })]
        .concat(dias.map(function (d) { return el('th', { scope: 'col', text: dia(d) }); })));
      var por = new Map();
      r.body.forEach(function (tu) {
        if (tu.estado === 'cancelado_por_licencia') return;
        if (!por.has(tu.efectivo_id)) por.set(tu.efectivo_id, [[], [], [], [], [], [], []]);
        var inicio = new Date(tu.inicio);
        var delDia = new Date(inicio.getFullYear(), inicio.getMonth(), inicio.getDate());
        var idx = Math.min(6, Math.max(0, Math.round((delDia - lunes) / 864e5)));
        por.get(tu.efectivo_id)[idx].push(hora(tu.inicio) + '–' + hora(tu.fin) + (tu.unidad ? ' ' + tu.unidad : ''));
      });
      var filas = [];
      por.forEach(function (celdas, id) {
        filas.push(el('tr', { 'data-efectivo-id': id }, [el('th', { scope: 'row', text: quien(id) })]
          .concat(celdas.map(function (c) { return el('td', { text: c.join(', ') }); }))));
      });
      var cuerpo = document.getElementById('semana-filas');
      cuerpo.replaceChildren.apply(cuerpo, filas);
      document.getElementById('semana-vacia').hidden = filas.length > 0;
    });
  }

  // ---- forms --------------------------------------------------------------------------------

  function errorDeEscritura(form, r, solapa) {
    if (r.status === 422) GAD.mostrarErrores(form, GAD.erroresDeCampo(r.body));
    else GAD.mostrarErrores(form, { _form: r.status === 409 ? solapa(r.body) : t('error.generico', { status: r.status }) });
  }

  function instante(v) {
    return v ? new Date(v).toISOString() : v;
  }

  function alCrearTurno(ev) {
    ev.preventDefault();
    var f = ev.target;
    var body = {
      efectivo_id: Number(f.efectivo_id.value),
      inicio: instante(f.inicio.value),
      fin: instante(f.fin.value)
    };
    if (f.unidad.value.trim()) body.unidad = f.unidad.value.trim();
    if (f.notas.value.trim()) body.notas = f.notas.value.trim();
    GAD.api('POST', '/api/v1/turnos', body).then(function (r) {
      if (r.status === 201) {
        GAD.mostrarErrores(f, {});
        GAD.aviso(t('turnos.creado'));
        cargarPlanilla();
        cargarSemana();
      } else {
        errorDeEscritura(f, r, function () { return t('turnos.error.solapa'); });
      }
    });
  }

  function alCrearPlantilla(ev) {
    ev.preventDefault();
    var f = ev.target;
    var ids = f.efectivo_ids.value.split(/[\s,;]+/).filter(Boolean).map(Number);
    if (!ids.length || ids.some(function (n) { return !(n > 0); })) {
      GAD.mostrarErrores(f, { efectivo_ids: t('turnos.error.efectivos') });
      return;
    }
    var body = { efectivo_ids: ids, desde: f.desde.value, hasta: f.hasta.value, hora_inicio: f.hora_inicio.value };
    if (f.tipo.value === 'ciclo') {
      body.patron = { tipo: 'ciclo', trabajo_horas: Number(f.trabajo_horas.value), descanso_horas: Number(f.descanso_horas.value) };
    } else {
      var dias = [];
      f.querySelectorAll('input[name="dia"]:checked').forEach(function (c) { dias.push(Number(c.value)); });
      body.patron = { tipo: 'dias_semana', dias: dias };
      body.duracion_horas = Number(f.duracion_horas.value);
    }
    if (f.unidad.value.trim()) body.unidad = f.unidad.value.trim();
    GAD.api('POST', '/api/v1/turnos/plantilla', body).then(function (r) {
      if (r.status === 201) {
        GAD.mostrarErrores(f, {});
        GAD.aviso(t('turnos.plantilla_creada', { n: r.body.creados }));
        cargarPlanilla();
        cargarSemana();
      } else {
        errorDeEscritura(f, r, function (b) {
          return t('turnos.error.solapa_plantilla', { n: (b && b.conflictos || []).length });
        });
      }
    });
  }

  function llenarDias() {
    var caja = document.getElementById('pl-dias');
    for (var d = 1; d <= 7; d += 1) {
      var id = 'pl-dia-' + d;
      caja.appendChild(el('span', { class: 'dia' }, [
        el('input', { type: 'checkbox', id: id, name: 'dia', value: String(d), checked: d <= 5 }),
        el('label', { for: id, text: t('turnos.dia.' + d) })
      ]));
    }
    var tipo = document.getElementById('pl-tipo');
    tipo.addEventListener('change', function () {
      var ciclo = tipo.value === 'ciclo';
      document.getElementById('pl-ciclo-caja').hidden = !ciclo;
      document.getElementById('pl-dias-caja').hidden = ciclo;
    });
  }

  // ---- live ---------------------------------------------------------------------------------

  function onState(s) {
    var ind = document.querySelector('[data-testid="live-status"]');
    ind.setAttribute('data-state', s);
    ind.textContent = t('live.' + s);
  }

  function onEvent(type, d) {
    if (type === 'shift_clock') programar();
    // The roster's watch: a missed clock-in turns a line absent.
    else if (type === 'alert' && d && d.turno_id) programar();
  }

  document.addEventListener('DOMContentLoaded', function () {
    llenarDias();
    lunes = lunesDe(new Date());
    document.getElementById('planilla-filtro').addEventListener('submit', function (ev) {
      ev.preventDefault();
      fecha = document.getElementById('p-fecha').value;
      if (fecha) lunes = lunesDe(new Date(fecha + 'T12:00:00'));
      cargarPlanilla();
      cargarSemana();
    });
    document.getElementById('semana-anterior').addEventListener('click', function () {
      lunes.setDate(lunes.getDate() - 7);
      cargarSemana();
    });
    document.getElementById('semana-siguiente').addEventListener('click', function () {
      lunes.setDate(lunes.getDate() + 7);
      cargarSemana();
    });
    document.getElementById('turno-form').addEventListener('submit', alCrearTurno);
    document.getElementById('plantilla-form').addEventListener('submit', alCrearPlantilla);
    cargarPlanilla().then(function () {
      cargarLicencias();
      cargarSemana();
    });
    var live = new GAD.Live({ snapshot: function () { programar(); }, event: onEvent, state: onState });
    live.start();
    GAD.turnos = { live: live, recargar: cargarPlanilla };
    GAD.alSalir = function () { live.stop(); };
    setInterval(cargarPlanilla, REFRESCO_MS);
  });
})();
