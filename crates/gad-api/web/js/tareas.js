// Tasks: table with filters and paging, create/edit form (the API's 422 errors shown at their
// fields), state buttons for the transitions the state machine allows, history timeline.
(function () {
  'use strict';
  var GAD = window.GAD;
  var t = GAD.t;
  var el = GAD.el;

  var POR_PAGINA = 25;
  var OPCIONES = {
    estado: ['programada', 'en_curso', 'pausada', 'finalizada', 'cancelada'],
    tipo: ['patrullaje', 'investigacion', 'vigilancia', 'intervencion', 'administrativa', 'entrenamiento'],
    prioridad: ['1', '2', '3', '4', '5']
  };
  var ETIQUETA = {
    estado: function (v) { return t('tarea.estado.' + v); },
    tipo: function (v) { return t('tarea.tipo.' + v); },
    prioridad: function (v) { return t('prioridad.' + v); }
  };
  // Mirrors gad-core's state machine; the server is the authority (409 otherwise).
  var TRANSICIONES = {
    programada: ['en_curso', 'cancelada'],
    en_curso: ['pausada', 'finalizada', 'cancelada'],
    pausada: ['en_curso', 'cancelada'],
    finalizada: [],
    cancelada: []
  };

  var pagina = 0;
  var filtros = {};
  var editando = null;
  var actual = null;

  function llenarSelects() {
    document.querySelectorAll('select[data-opciones]').forEach(function (s) {
      var k = s.getAttribute('data-opciones');
      if (s.hasAttribute('data-todos')) s.appendChild(el('option', { value: '', text: t('tareas.filtro.todos') }));
      OPCIONES[k].forEach(function (v) { s.appendChild(el('option', { value: v, text: ETIQUETA[k](v) })); });
    });
  }

  function cargar() {
    var q = new URLSearchParams();
    Object.keys(filtros).forEach(function (k) { if (filtros[k]) q.set(k, filtros[k]); });
    q.set('skip', String(pagina * POR_PAGINA));
    q.set('limit', String(POR_PAGINA + 1));
    GAD.api('GET', '/api/v1/tasks?' + q.toString()).then(function (r) {
      var tbody = document.querySelector('[data-testid="task-table"] tbody');
      if (r.status !== 200 || !Array.isArray(r.body)) {
        GAD.aviso(t('error.generico', { status: r.status }), 'error');
        return;
      }
      var hayMas = r.body.length > POR_PAGINA;
      var filas = r.body.slice(0, POR_PAGINA).map(fila);
      tbody.replaceChildren.apply(tbody, filas);
      document.getElementById('tareas-vacia').hidden = filas.length > 0;
      document.getElementById('pagina').textContent = t('tareas.pagina', { n: pagina + 1 });
      document.getElementById('anterior').disabled = pagina === 0;
      document.getElementById('siguiente').disabled = !hayMas;
    }, function () { GAD.aviso(t('error.red'), 'error'); });
  }

  function fila(tarea) {
    var ver = el('button', { type: 'button', class: 'secundario', text: t('tareas.ver'), 'aria-label': t('tareas.ver.aria', { codigo: tarea.codigo }) });
    ver.addEventListener('click', function () { abrirDetalle(tarea.id); });
    return el('tr', { 'data-tarea-id': tarea.id, 'data-estado': tarea.estado }, [
      el('td', { text: tarea.codigo }),
      el('td', { text: tarea.titulo }),
      el('td', { text: t('tarea.tipo.' + tarea.tipo) }),
      el('td', { text: t('prioridad.' + tarea.prioridad) }),
      el('td', {}, [el('span', { class: 'etiqueta', text: t('tarea.estado.' + tarea.estado) })]),
      el('td', { text: GAD.fecha(tarea.inicio_programado) }),
      el('td', {}, [ver])
    ]);
  }

  // ---- form ---------------------------------------------------------------------------------

  function aLocal(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    var pad = function (n) { return String(n).padStart(2, '0'); };
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  function abrirForm(tarea) {
    editando = tarea;
    var form = document.getElementById('tarea-form');
    form.reset();
    GAD.mostrarErrores(form, {});
    document.getElementById('tarea-form-titulo').textContent = tarea ? t('tareas.form.editar', { codigo: tarea.codigo }) : t('tareas.form.crear');
    var f = form.elements;
    if (tarea) {
      f.codigo.value = tarea.codigo;
      f.titulo.value = tarea.titulo;
      f.tipo.value = tarea.tipo;
      f.prioridad.value = String(tarea.prioridad);
      f.inicio_programado.value = aLocal(tarea.inicio_programado);
      f.fin_programado.value = aLocal(tarea.fin_programado);
      f.delegado_usuario_id.value = tarea.delegado_usuario_id;
      f.efectivos_asignados.value = (tarea.efectivos_asignados || []).join(', ');
      f.ubicacion_lat.value = tarea.ubicacion_lat === null ? '' : tarea.ubicacion_lat;
      f.ubicacion_lon.value = tarea.ubicacion_lon === null ? '' : tarea.ubicacion_lon;
      f.ubicacion_descripcion.value = tarea.ubicacion_descripcion || '';
      f.descripcion.value = tarea.descripcion || '';
    } else {
      f.prioridad.value = '2';
      f.inicio_programado.value = aLocal(new Date(Date.now() + 3600 * 1000).toISOString());
      if (GAD.yo) f.delegado_usuario_id.value = GAD.yo.id;
    }
    document.getElementById('tarea-form-dlg').showModal();
    f.codigo.focus();
  }

  /** The JSON body from the form: names are the API's fields; empty optionals are left out. */
  function cuerpo(form) {
    var f = form.elements;
    var b = { codigo: f.codigo.value.trim(), titulo: f.titulo.value.trim(), tipo: f.tipo.value, prioridad: Number(f.prioridad.value) };
    if (f.inicio_programado.value) b.inicio_programado = new Date(f.inicio_programado.value).toISOString();
    if (f.fin_programado.value) b.fin_programado = new Date(f.fin_programado.value).toISOString();
    else if (editando) b.fin_programado = null;
    if (f.delegado_usuario_id.value) b.delegado_usuario_id = Number(f.delegado_usuario_id.value);
    var ids = f.efectivos_asignados.value.split(/[\s,;]+/).filter(Boolean).map(Number);
    if (ids.length || editando) b.efectivos_asignados = ids;
    if (f.ubicacion_lat.value !== '') b.ubicacion_lat = Number(f.ubicacion_lat.value);
    if (f.ubicacion_lon.value !== '') b.ubicacion_lon = Number(f.ubicacion_lon.value);
    if (f.ubicacion_descripcion.value.trim()) b.ubicacion_descripcion = f.ubicacion_descripcion.value.trim();
    if (f.descripcion.value.trim()) b.descripcion = f.descripcion.value.trim();
    else if (editando) b.descripcion = null;
    return b;
  }

  function guardar(ev) {
    ev.preventDefault();
    var form = ev.target;
    var body = cuerpo(form);
    var req = editando ? GAD.api('PUT', '/api/v1/tasks/' + editando.id, body) : GAD.api('POST', '/api/v1/tasks', body);
    req.then(function (r) {
      if (r.status === 200 || r.status === 201) {
        document.getElementById('tarea-form-dlg').close();
        GAD.aviso(t(editando ? 'tareas.form.ok.editada' : 'tareas.form.ok.creada', { codigo: r.body.codigo }));
        cargar();
        return;
      }
      if (r.status === 422) {
        var errores = GAD.erroresDeCampo(r.body);
        errores._form = t('tareas.form.errores');
        GAD.mostrarErrores(form, errores);
        var primero = form.querySelector('[aria-invalid="true"]');
        if (primero) primero.focus();
      } else if (r.status === 409) {
        var campo = (r.body && r.body.field) || 'codigo';
        var e = {}; e[campo] = t('tareas.form.conflicto'); e._form = t('tareas.form.errores');
        GAD.mostrarErrores(form, e);
      } else {
        GAD.mostrarErrores(form, { _form: t('error.generico', { status: r.status }) });
      }
    }, function () { GAD.mostrarErrores(form, { _form: t('error.red') }); });
  }

  // ---- details, transitions, history --------------------------------------------------------

  function abrirDetalle(id) {
    GAD.api('GET', '/api/v1/tasks/' + id).then(function (r) {
      if (r.status !== 200) { GAD.aviso(t('error.generico', { status: r.status }), 'error'); return; }
      actual = r.body;
      pintarDetalle();
      var dlg = document.getElementById('tarea-detalle-dlg');
      if (!dlg.open) dlg.showModal();
    });
  }

  function pintarDetalle() {
    var tarea = actual;
    document.getElementById('tarea-detalle-titulo').textContent = t('tareas.detalle', { codigo: tarea.codigo });
    var dl = el('dl', { 'data-tarea-id': tarea.id, 'data-estado': tarea.estado });
    [['campo.titulo', tarea.titulo], ['tareas.col.estado', t('tarea.estado.' + tarea.estado)],
      ['campo.tipo', t('tarea.tipo.' + tarea.tipo)], ['campo.prioridad', t('prioridad.' + tarea.prioridad)],
      ['campo.inicio_programado', GAD.fecha(tarea.inicio_programado)],
      ['campo.delegado_usuario_id', String(tarea.delegado_usuario_id)],
      ['campo.efectivos_asignados', (tarea.efectivos_asignados || []).join(', ')],
      ['campo.descripcion', tarea.descripcion || '']].forEach(function (p) {
      dl.appendChild(el('dt', { text: t(p[0]) }));
      dl.appendChild(el('dd', { text: p[1] }));
    });
    document.getElementById('tarea-detalle').replaceChildren(dl);
    var caja = document.getElementById('tarea-transiciones');
    var destinos = TRANSICIONES[tarea.estado] || [];
    caja.replaceChildren();
    if (!destinos.length) caja.appendChild(el('p', { text: t('tareas.sin_transiciones') }));
    destinos.forEach(function (d) {
      var b = el('button', { type: 'button', 'data-estado-destino': d, class: d === 'cancelada' ? 'peligro' : null, text: t('accion.' + d) });
      b.addEventListener('click', function () { cambiar(tarea.id, d); });
      caja.appendChild(b);
    });
    GAD.api('GET', '/api/v1/tasks/' + tarea.id + '/history').then(function (r) {
      var ol = document.getElementById('tarea-historial');
      ol.replaceChildren();
      if (r.status !== 200 || !Array.isArray(r.body)) return;
      r.body.forEach(function (h) {
        ol.appendChild(el('li', { 'data-estado': h.estado_nuevo, text: t('tareas.historial.item', {
          fecha: GAD.fecha(h.created_at),
          de: h.estado_anterior ? t('tarea.estado.' + h.estado_anterior) : t('tareas.historial.creada'),
          a: t('tarea.estado.' + h.estado_nuevo),
          u: h.usuario_id === null ? '—' : h.usuario_id
        }) }));
      });
    });
  }

  function cambiar(id, estado) {
    GAD.api('POST', '/api/v1/tasks/' + id + '/status', { estado: estado }).then(function (r) {
      if (r.status === 200) {
        actual = r.body;
        pintarDetalle();
        GAD.aviso(t('tareas.estado.ok', { estado: t('tarea.estado.' + estado) }));
        cargar();
      } else if (r.status === 409) {
        GAD.aviso(t('error.transicion'), 'error');
      } else {
        GAD.aviso(t('error.generico', { status: r.status }), 'error');
      }
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    llenarSelects();
    document.getElementById('filtros').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var f = ev.target.elements;
      filtros = { q: f.q.value.trim(), estado: f.estado.value, tipo: f.tipo.value, prioridad: f.prioridad.value };
      pagina = 0;
      cargar();
    });
    document.getElementById('anterior').addEventListener('click', function () { if (pagina > 0) { pagina -= 1; cargar(); } });
    document.getElementById('siguiente').addEventListener('click', function () { pagina += 1; cargar(); });
    document.getElementById('nueva-tarea').addEventListener('click', function () { abrirForm(null); });
    document.getElementById('tarea-form').addEventListener('submit', guardar);
    document.getElementById('tarea-editar').addEventListener('click', function () {
      document.getElementById('tarea-detalle-dlg').close();
      abrirForm(actual);
    });
    document.querySelectorAll('[data-cerrar]').forEach(function (b) {
      b.addEventListener('click', function () { document.getElementById(b.getAttribute('data-cerrar')).close(); });
    });
    cargar();
  });
})();
