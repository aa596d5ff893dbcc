// The incident panel of the command centre: what an emergency is (case number, type, priority,
// address, officers, acknowledgement, caller), its live timeline, notes, attachments and the
// actions on it (reassign, backup, cancel, close). dashboard.js opens it and forwards every
// live event; the panel reloads what an event about its incident may have changed.
(function () {
  'use strict';
  var GAD = window.GAD;
  var t = GAD.t;
  var el = GAD.el;

  var CODIGOS_CIERRE = ['resuelto', 'falsa_alarma', 'derivado', 'sin_novedad', 'detenidos', 'otro'];
  var CERRADAS = { finalizada: true, cancelada: true };
  // The history rows of `GET /tasks/{id}/history` as timeline entries, for a server without
  // `GET /tasks/{id}/timeline`.
  var TIPO_DE_EVENTO = {
    despachado: 'despacho_enviado', escalado: 'despacho_enviado', aceptado: 'despacho_aceptado',
    rechazado: 'despacho_rechazado', vencido: 'despacho_vencido', refuerzo: 'refuerzo',
    llegada: 'llegada', sin_asignar: 'estado'
  };
  var DEMORA = 150; // ms: several events about one change reload once

  var ctx = null;     // from dashboard.js: emergencia(id), asignadoA(id), tipo(codigo)
  var actual = null;  // {id, tarea}
  var timer = null;
  var pendiente = { tarea: false, linea: false, adjuntos: false };
  var caja, linea, adjuntos;

  function ruta(sufijo) { return '/api/v1/tasks/' + actual.id + (sufijo || ''); }

  function errorHttp(r) {
    var base = t('error.generico', { status: r.status });
    return r.body && typeof r.body.detail === 'string' ? base + ' ' + r.body.detail : base;
  }

  function hora(iso) {
    if (!iso) return '';
    return new Date(iso).toLocaleTimeString(GAD.idioma, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function nro() {
    var m = actual && ctx.emergencia(actual.id);
    var tarea = actual && actual.tarea;
    return (tarea && (tarea.nro_incidente || tarea.codigo)) || (m && (m.nro || m.codigo)) || (actual ? '#' + actual.id : '');
  }

  // ---- data --------------------------------------------------------------------------------

  function fila(dl, clave, etiqueta, valor) {
    dl.appendChild(el('dt', { text: etiqueta }));
    dl.appendChild(el('dd', { 'data-campo': clave, text: valor === undefined || valor === null || valor === '' ? t('inc.sin_dato') : String(valor) }));
  }

  /** The data list from the task (when loaded) and what the live events told the dashboard. */
  function pintarDatos() {
    if (!actual) return;
    var tarea = actual.tarea || {};
    var inc = tarea.incidente || {};
    var m = ctx.emergencia(actual.id) || {};
    document.getElementById('incidente-titulo').textContent = t('inc.titulo', { nro: nro() });
    caja.setAttribute('data-tarea-id', actual.id);
    caja.setAttribute('data-nro', tarea.nro_incidente || m.nro || '');
    var dl = document.getElementById('incidente-datos');
    dl.replaceChildren();
    var tipo = inc.tipo_incidente || m.tipo;
    fila(dl, 'tipo_incidente', t('inc.tipo'), tipo ? ctx.tipo(tipo) : '');
    var prio = inc.prioridad || m.prioridad;
    fila(dl, 'prioridad', t('inc.prioridad'), prio ? t('prioridad.' + prio) : '');
    fila(dl, 'direccion', t('inc.direccion'), inc.direccion || m.direccion);
    if (inc.referencia) fila(dl, 'referencia', t('inc.referencia'), inc.referencia);
    var ids = (tarea.efectivos_asignados && tarea.efectivos_asignados.length) ? tarea.efectivos_asignados
      : (m.efectivo_id ? [m.efectivo_id] : []);
    fila(dl, 'efectivos', ids.length > 1 ? t('inc.efectivos') : t('inc.efectivo'),
      ids.map(function (id) { return ctx.asignadoA(id); }).join(', '));
    fila(dl, 'ack', t('inc.confirmacion'), m.ack ? t('ack.' + m.ack) : '');
    var den = inc.denunciante;
    if (den && (den.nombre || den.telefono)) {
      fila(dl, 'denunciante', t('inc.denunciante'), [den.nombre, den.telefono].filter(Boolean).join(' · '));
    }
    if (tarea.estado) fila(dl, 'estado', t('inc.estado'), t('tarea.estado.' + tarea.estado));
    var alta = tarea.created_at || m.created_at;
    if (alta) fila(dl, 'alta', t('inc.creada'), GAD.fecha(alta) + ' (' + t('dash.emergencia.edad', { edad: GAD.edad(alta) }) + ')');
    if (tarea.descripcion) fila(dl, 'descripcion', t('inc.descripcion'), tarea.descripcion);
    if (inc.codigo_cierre) {
      fila(dl, 'cierre', t('inc.cierre_dato'), [t('cierre.' + inc.codigo_cierre), inc.resumen_cierre].filter(Boolean).join(' · '));
    }
    var cerrada = CERRADAS[tarea.estado];
    ['inc-reasignar', 'inc-refuerzo', 'inc-cancelar'].forEach(function (b) { document.getElementById(b).disabled = !!cerrada; });
    document.getElementById('cierre-form').hidden = !!cerrada;
  }

  function cargarTarea() {
    var id = actual.id;
    return GAD.api('GET', ruta()).then(function (r) {
      if (!actual || actual.id !== id) return;
      if (r.status === 200 && r.body) actual.tarea = r.body;
      pintarDatos();
    });
  }

  // ---- timeline ----------------------------------------------------------------------------

  function desdeHistorial(rows) {
    return rows.map(function (h, i) {
      var tipo = h.evento ? (TIPO_DE_EVENTO[h.evento] || 'estado') : (i === 0 && !h.estado_anterior ? 'alta' : 'estado');
      return {
        tipo: tipo, at: h.created_at, actor: h.usuario_id ? { usuario_id: h.usuario_id, nombre: null } : null,
        datos: { estado_anterior: h.estado_anterior, estado_nuevo: h.estado_nuevo, nota: h.nota }
      };
    });
  }

  function texto(v) { return typeof v === 'string' && v.trim() ? v.trim() : null; }

  /** A push's delivery record: to whom, what, whether it arrived and what they answered
   *  ("Ana Pérez (#62) · llamado · enviado 12:01:03 · sin respuesta"). */
  function detalleEntrega(d) {
    var partes = [];
    if (d.efectivo_id) partes.push(ctx.asignadoA(d.efectivo_id));
    if (GAD.textos['tl.entrega.' + d.tipo]) partes.push(t('tl.entrega.' + d.tipo));
    if (d.estado === 'enviado') {
      partes.push(t('tl.entrega.enviado', { hora: hora(d.enviado_at) }));
      partes.push(d.respuesta && GAD.textos['tl.entrega.respuesta.' + d.respuesta]
        ? t('tl.entrega.respuesta.' + d.respuesta, { hora: hora(d.respondido_at) })
        : t('tl.entrega.sin_respuesta'));
    } else {
      partes.push(t('tl.entrega.fallido', { motivo: d.motivo || '' }));
    }
    return partes.join(' · ');
  }

  /** What an entry says besides its kind, from whichever fields it carries. */
  function detalle(e) {
    var d = e.datos || {};
    if (e.tipo === 'entrega') return detalleEntrega(d);
    var partes = [];
    var nota = d.nota && typeof d.nota === 'object' ? d.nota : null;
    var adj = d.adjunto && typeof d.adjunto === 'object' ? d.adjunto : null;
    var ef = d.efectivo_id || (d.efectivo && d.efectivo.id);
    // A dispatch entry names its officer (`nombre`); elsewhere `nombre` is a file's name.
    if (ef) partes.push(d.nombre ? d.nombre + ' (#' + ef + ')' : ctx.asignadoA(ef));
    var metros = typeof d.distancia_m === 'number' ? d.distancia_m : d.distance_m;
    if (typeof metros === 'number') partes.push(Math.round(metros) + ' m');
    if (d.estado_nuevo && e.tipo === 'estado') {
      partes.push((d.estado_anterior ? t('tarea.estado.' + d.estado_anterior) + ' → ' : '') + t('tarea.estado.' + d.estado_nuevo));
    }
    if (d.codigo_cierre) partes.push(t('cierre.' + d.codigo_cierre));
    if (d.tipo_incidente) partes.push(ctx.tipo(d.tipo_incidente));
    [d.direccion, d.texto, nota && nota.texto, d.resumen, d.motivo, adj && adj.nombre, ef ? null : d.nombre,
      typeof d.nota === 'string' ? d.nota : null].forEach(function (v) {
      var s = texto(v);
      if (s && partes.indexOf(s) < 0) partes.push(s);
    });
    var origen = d.origen || (nota && nota.origen);
    if (origen && GAD.textos['tl.origen.' + origen]) partes.push(t('tl.origen.' + origen));
    return partes.join(' · ');
  }

  function pintarLinea(entradas) {
    if (!entradas.length) {
      linea.replaceChildren(el('li', { class: 'vacio', text: t('inc.linea.vacia') }));
      return;
    }
    linea.replaceChildren.apply(linea, entradas.map(function (e) {
      var actor = e.actor ? (e.actor.nombre || ('#' + e.actor.usuario_id)) : t('tl.sistema');
      var det = detalle(e);
      return el('li', { 'data-tipo': e.tipo, 'data-at': e.at }, [
        el('time', { datetime: e.at, text: hora(e.at) }),
        ' ',
        el('strong', { text: GAD.textos['tl.' + e.tipo] ? t('tl.' + e.tipo) : e.tipo }),
        ' · ' + actor + (det ? ' · ' + det : '')
      ]);
    }));
  }

  function cargarLinea() {
    var id = actual.id;
    return GAD.api('GET', ruta('/timeline')).then(function (r) {
      if (!actual || actual.id !== id) return null;
      if (r.status === 200 && r.body && Array.isArray(r.body.entradas)) { pintarLinea(r.body.entradas); return null; }
      return GAD.api('GET', ruta('/history')).then(function (h) {
        if (!actual || actual.id !== id) return;
        pintarLinea(h.status === 200 && Array.isArray(h.body) ? desdeHistorial(h.body) : []);
      });
    });
  }

  // ---- attachments -------------------------------------------------------------------------

  function pintarAdjuntos(list) {
    if (!list.length) {
      adjuntos.replaceChildren(el('li', { class: 'vacio', text: t('inc.adjuntos.vacio') }));
      return;
    }
    adjuntos.replaceChildren.apply(adjuntos, list.map(function (a) {
      // Same origin: the session cookie authorises the file itself, as every other request.
      var url = ruta('/adjuntos/' + encodeURIComponent(a.id));
      var nombre = a.nombre || String(a.id);
      var esImagen = /^image\/(jpeg|png)$/.test(a.tipo || '');
      var enlace = el('a', { href: url, target: '_blank', rel: 'noopener' }, [
        esImagen ? el('img', { src: url, alt: t('inc.adjunto.alt', { nombre: nombre }), loading: 'lazy', width: 96, height: 72 }) : null,
        el('span', { text: nombre })
      ]);
      return el('li', { 'data-adjunto-id': a.id, 'data-tipo': a.tipo || '' }, [enlace]);
    }));
  }

  function cargarAdjuntos() {
    var id = actual.id;
    return GAD.api('GET', ruta('/adjuntos')).then(function (r) {
      if (!actual || actual.id !== id) return;
      var list = r.status === 200 ? (Array.isArray(r.body) ? r.body : (r.body && (r.body.adjuntos || r.body.items)) || []) : [];
      pintarAdjuntos(list);
    });
  }

  function subirAdjunto(ev) {
    ev.preventDefault();
    var form = ev.target;
    var input = form.elements.archivo;
    if (!input.files || !input.files.length) { GAD.mostrarErrores(form, { archivo: t('inc.adjunto.falta') }); return; }
    var datos = new FormData();
    datos.append('archivo', input.files[0]);
    var id = actual.id;
    // Multipart, so not GAD.api (JSON); same-origin with the cookie, as every write of the page.
    fetch(ruta('/adjuntos'), { method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json' }, body: datos })
      .then(function (r) {
        return r.text().then(function (txt) {
          var body = null;
          try { body = txt ? JSON.parse(txt) : null; } catch (e) { body = null; }
          return { status: r.status, body: body };
        });
      })
      .then(function (r) {
        if (r.status === 201 || r.status === 200) {
          form.reset();
          GAD.mostrarErrores(form, {});
          GAD.aviso(t('inc.adjunto.ok'));
          if (actual && actual.id === id) { cargarAdjuntos(); cargarLinea(); }
        } else if (r.status === 413) {
          GAD.mostrarErrores(form, { archivo: t('inc.adjunto.grande') });
        } else if (r.status === 422) {
          var errs = GAD.erroresDeCampo(r.body);
          GAD.mostrarErrores(form, { archivo: errs.archivo || t('inc.adjunto.tipo') });
        } else {
          GAD.aviso(errorHttp(r), 'error');
        }
      }, function () { GAD.aviso(t('error.red'), 'error'); });
  }

  // ---- notes, actions, closure ---------------------------------------------------------------

  function agregarNota(ev) {
    ev.preventDefault();
    var form = ev.target;
    var txt = form.elements.texto.value.trim();
    if (!txt) { GAD.mostrarErrores(form, { texto: t('validacion.missing') }); return; }
    GAD.api('POST', ruta('/notas'), { texto: txt }).then(function (r) {
      if (r.status === 201 || r.status === 200) {
        form.reset();
        GAD.mostrarErrores(form, {});
        GAD.aviso(t('inc.nota.ok'));
        cargarLinea();
      } else if (r.status === 422) {
        GAD.mostrarErrores(form, GAD.erroresDeCampo(r.body));
      } else {
        GAD.aviso(errorHttp(r), 'error');
      }
    }, function () { GAD.aviso(t('error.red'), 'error'); });
  }

  /** Reassigning = declining the pending call on the officer's behalf: the dispatch calls the
   *  next nearest eligible officer in the same transaction. */
  function reasignar() {
    var m = ctx.emergencia(actual.id) || {};
    var body = { accept: false, motivo: t('inc.reasignar.motivo') };
    if (m.efectivo_id) body.efectivo_id = m.efectivo_id;
    var n = nro();
    GAD.api('POST', ruta('/ack'), body).then(function (r) {
      if (r.status === 200) GAD.aviso(t('inc.reasignada', { nro: n }));
      else if (r.status === 409 || r.status === 404) GAD.aviso(t('inc.reasignar.nada'), 'error');
      else GAD.aviso(errorHttp(r), 'error');
      refrescar({ tarea: true, linea: true });
    }, function () { GAD.aviso(t('error.red'), 'error'); });
  }

  function refuerzo() {
    GAD.api('POST', ruta('/backup'), { efectivos: 1 }).then(function (r) {
      if (r.status === 201 || r.status === 200) GAD.aviso(t('inc.refuerzo.ok', { n: ((r.body && r.body.added) || []).length }));
      else if (r.status === 404) GAD.aviso(t('inc.refuerzo.nadie'), 'error');
      else GAD.aviso(errorHttp(r), 'error');
      refrescar({ tarea: true, linea: true });
    }, function () { GAD.aviso(t('error.red'), 'error'); });
  }

  /** Cancelling takes two clicks: the first one asks for confirmation on the same button. */
  function cancelar(ev) {
    var b = ev.currentTarget;
    if (!b.hasAttribute('data-confirmar')) {
      b.setAttribute('data-confirmar', '');
      b.textContent = t('inc.cancelar.confirmar');
      return;
    }
    restaurarCancelar();
    var n = nro();
    GAD.api('POST', ruta('/status'), { estado: 'cancelada' }).then(function (r) {
      if (r.status === 200) GAD.aviso(t('inc.cancelada', { nro: n }));
      else GAD.aviso(errorHttp(r), 'error');
      refrescar({ tarea: true, linea: true });
    }, function () { GAD.aviso(t('error.red'), 'error'); });
  }

  function restaurarCancelar() {
    var b = document.getElementById('inc-cancelar');
    b.removeAttribute('data-confirmar');
    b.textContent = t('inc.cancelar');
  }

  function cerrarIncidente(ev) {
    ev.preventDefault();
    var form = ev.target;
    var codigo = form.elements.codigo_cierre.value;
    if (!codigo) { GAD.mostrarErrores(form, { codigo_cierre: t('validacion.codigo_cierre') }); return; }
    var body = { codigo_cierre: codigo, resumen: form.elements.resumen.value.trim() };
    var n = nro();
    GAD.api('POST', ruta('/cierre'), body).then(function (r) {
      if (r.status === 200 || r.status === 201) {
        form.reset();
        GAD.mostrarErrores(form, {});
        GAD.aviso(t('inc.cierre.ok', { nro: n }));
        refrescar({ tarea: true, linea: true });
      } else if (r.status === 422) {
        GAD.mostrarErrores(form, GAD.erroresDeCampo(r.body));
      } else {
        GAD.aviso(errorHttp(r), 'error');
      }
    }, function () { GAD.aviso(t('error.red'), 'error'); });
  }

  // ---- live --------------------------------------------------------------------------------

  function refrescar(que) {
    Object.keys(que).forEach(function (k) { if (que[k]) pendiente[k] = true; });
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (!actual) return;
      var p = pendiente;
      pendiente = { tarea: false, linea: false, adjuntos: false };
      if (p.tarea) cargarTarea();
      if (p.linea) cargarLinea();
      if (p.adjuntos) cargarAdjuntos();
    }, DEMORA);
  }

  function tareaDe(d) {
    if (!d) return null;
    if (d.task_id !== undefined) return Number(d.task_id);
    if (d.tarea && d.tarea.id !== undefined) return Number(d.tarea.id);
    return d.id !== undefined && d.codigo !== undefined ? Number(d.id) : null;
  }

  GAD.incidente = {
    iniciar: function (c) {
      ctx = c;
      caja = document.getElementById('incidente');
      linea = document.getElementById('incidente-linea');
      adjuntos = document.getElementById('incidente-adjuntos');
      var sel = document.getElementById('cierre-codigo');
      sel.appendChild(el('option', { value: '', text: t('inc.cierre.elegir') }));
      CODIGOS_CIERRE.forEach(function (c0) { sel.appendChild(el('option', { value: c0, text: t('cierre.' + c0) })); });
      document.getElementById('incidente-cerrar').addEventListener('click', GAD.incidente.cerrar);
      document.getElementById('inc-reasignar').addEventListener('click', reasignar);
      document.getElementById('inc-refuerzo').addEventListener('click', refuerzo);
      document.getElementById('inc-cancelar').addEventListener('click', cancelar);
      document.getElementById('nota-form').addEventListener('submit', agregarNota);
      document.getElementById('adjunto-form').addEventListener('submit', subirAdjunto);
      document.getElementById('cierre-form').addEventListener('submit', cerrarIncidente);
    },

    abrir: function (id) {
      actual = { id: id, tarea: null };
      caja.hidden = false;
      restaurarCancelar();
      ['nota-form', 'adjunto-form', 'cierre-form'].forEach(function (f) {
        var form = document.getElementById(f);
        form.reset();
        GAD.mostrarErrores(form, {});
      });
      linea.replaceChildren();
      adjuntos.replaceChildren();
      pintarDatos();
      var titulo = document.getElementById('incidente-titulo');
      titulo.setAttribute('tabindex', '-1');
      titulo.focus({ preventScroll: true });
      caja.scrollIntoView({ block: 'nearest' });
      cargarTarea();
      cargarLinea();
      cargarAdjuntos();
    },

    cerrar: function () {
      actual = null;
      caja.hidden = true;
      caja.removeAttribute('data-tarea-id');
    },

    /** The dashboard changed what it knows of an emergency (acknowledgement, officer, names). */
    repintar: function () { if (actual) pintarDatos(); },

    /** Every live event: the open incident reloads what this one may have changed. */
    evento: function (type, d) {
      if (!actual || tareaDe(d) !== actual.id) return;
      switch (type) {
        case 'task_note_added':
          refrescar({ linea: true });
          break;
        case 'task_attachment_added':
          refrescar({ linea: true, adjuntos: true });
          break;
        case 'task_created':
        case 'task_updated':
        case 'task_status_changed':
        case 'task_assigned':
        case 'alert':
          refrescar({ tarea: true, linea: true });
          break;
        default:
          break;
      }
    },

    actual: function () { return actual ? actual.id : null; }
  };
})();
