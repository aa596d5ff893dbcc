// The dashboard's messages panel: messages the desk sent and received (GET /api/v1/mensajes,
// paged), new ones live from the `message` event, a badge counting the messages to the centre
// received since the panel was last opened, a compose form (POST /api/v1/mensajes, 422 errors
// at their fields) and a message's delivery detail, per recipient, kept live.
(function () {
  'use strict';
  var GAD = window.GAD;
  var t = GAD.t;
  var el = GAD.el;

  var PAGINA = 50;
  // When this browser last opened the panel: the badge counts what arrived after it.
  var VISTO = 'gad.mensajes.visto';
  var ESTADOS = ['pendiente', 'enviado', 'fallido', 'confirmado'];

  var mensajes = new Map(); // id → {m: message as listed, row}
  var abierto = false;
  var sinLeer = 0;
  var siguiente = 0;        // skip of the next page
  var detalleId = null;     // message shown in the detail
  var destinatarios = new Map(); // efectivo id → recipient of the message in the detail
  var zonasPedidas = false;

  function $(id) { return document.getElementById(id); }

  function vistoAt() {
    try { return Number(window.localStorage.getItem(VISTO)) || 0; } catch (e) { return 0; }
  }

  function marcarVisto() {
    try { window.localStorage.setItem(VISTO, String(Date.now())); } catch (e) { /* private mode */ }
  }

  function yo() { return GAD.yo ? GAD.yo.id : null; }

  /** A message to the centre written by someone else: what the badge counts. */
  function recibido(m) {
    return !!(m.destino && m.destino.centro) && m.autor_usuario_id !== yo();
  }

  function pintarInsignia() {
    var b = $('msj-insignia');
    b.hidden = sinLeer === 0;
    b.textContent = sinLeer === 0 ? '' : t('msj.sin_leer', { n: sinLeer });
    b.setAttribute('data-count', String(sinLeer));
  }

  function describirDestino(m) {
    var d = m.destino;
    if (!d) return t('msj.a.n', { n: (m.totales && m.totales.total) || 0 });
    if (d.centro) return t('msj.a.centro');
    if (d.efectivos) return t('msj.a.efectivos', { ids: d.efectivos.join(', ') });
    if (d.unidad) return t('msj.a.unidad', { unidad: d.unidad });
    if (d.zona_id) return t('msj.a.zona', { id: d.zona_id });
    if (d.en_turno) return t('msj.a.en_turno');
    if (d.tarea_id) return t('msj.a.tarea', { id: d.tarea_id });
    if (d.todos) return t('msj.a.todos');
    return '';
  }

  function autor(m) {
    if (m.autor_usuario_id === null || m.autor_usuario_id === undefined) return t('msj.de.sistema');
    if (m.autor_usuario_id === yo()) return t('msj.de.yo');
    return t('msj.de.usuario', { id: m.autor_usuario_id });
  }

  function textoTotales(tot) {
    if (!tot || !tot.total) return '';
    var partes = [t('msj.totales.total', { n: tot.total })];
    ESTADOS.forEach(function (e) { if (tot[e]) partes.push(t('msj.totales.' + e, { n: tot[e] })); });
    return partes.join(' · ');
  }

  function pintarFila(x) {
    var m = x.m;
    var cabeza = [el('strong', { text: autor(m) }), el('span', { class: 'destino', text: describirDestino(m) })];
    if (m.prioridad === 'urgente') cabeza.push(el('span', { class: 'urgente', text: t('msj.prioridad.urgente') }));
    if (m.requiere_confirmacion) cabeza.push(el('span', { class: 'tenue', text: t('msj.pide_confirmacion') }));
    var lineas = [
      el('span', { class: 'linea1' }, cabeza),
      el('span', { class: 'linea2', text: m.texto }),
      el('span', { class: 'linea3' }, [
        el('time', { datetime: m.created_at, text: GAD.fecha(m.created_at) }),
        el('span', { 'data-testid': 'message-row-totals', text: textoTotales(m.totales) })
      ])
    ];
    x.row.firstChild.replaceChildren.apply(x.row.firstChild, lineas);
    x.row.setAttribute('data-direccion', recibido(m) ? 'recibido' : 'enviado');
    x.row.setAttribute('data-prioridad', m.prioridad);
  }

  /** Adds (or repaints) a message; `arriba`: a new one goes first, a page goes last. */
  function poner(m, arriba) {
    var x = mensajes.get(m.id);
    if (x) {
      Object.keys(m).forEach(function (k) { if (m[k] !== undefined && m[k] !== null) x.m[k] = m[k]; });
      pintarFila(x);
      return;
    }
    var id = m.id;
    x = { m: m, row: el('li', { 'data-mensaje-id': id, 'data-testid': 'message-row' }, [el('button', { type: 'button', class: 'fila' })]) };
    x.row.firstChild.addEventListener('click', function () { abrirDetalle(id); });
    mensajes.set(id, x);
    var lista = $('msj-lista');
    if (arriba) lista.insertBefore(x.row, lista.firstChild);
    else lista.appendChild(x.row);
    pintarFila(x);
    $('msj-vacia').hidden = true;
  }

  function cargarPagina() {
    var mas = $('msj-mas');
    mas.disabled = true;
    GAD.api('GET', '/api/v1/mensajes?skip=' + siguiente + '&limit=' + PAGINA).then(function (r) {
      mas.disabled = false;
      if (r.status !== 200 || !Array.isArray(r.body)) { GAD.aviso(t('error.generico', { status: r.status }), 'error'); return; }
      var primera = siguiente === 0;
      siguiente += r.body.length;
      var desde = vistoAt();
      r.body.forEach(function (m) {
        var nuevo = !mensajes.has(m.id);
        poner(m, false);
        // Only the first page is counted: what arrived since the panel was last opened.
        if (primera && nuevo && !abierto && desde && recibido(m) && Date.parse(m.created_at) > desde) sinLeer += 1;
      });
      pintarInsignia();
      mas.hidden = r.body.length < PAGINA;
    }, function () { mas.disabled = false; });
  }

  function abrirPanel(si) {
    abierto = si;
    $('msj-cuerpo').hidden = !si;
    $('msj-abrir').setAttribute('aria-expanded', si ? 'true' : 'false');
    $('msj-abrir').textContent = t(si ? 'msj.cerrar' : 'msj.abrir');
    if (si) {
      sinLeer = 0;
      pintarInsignia();
      marcarVisto();
    }
  }

  // ---- detail -------------------------------------------------------------------------------

  function filaDestinatario(d) {
    var partes = [t('msj.estado.' + d.estado)];
    if (d.estado === 'fallido' && d.motivo) partes.push(t('msj.motivo', { motivo: d.motivo }));
    if (d.estado === 'enviado' && d.enviado_at) partes.push(GAD.fecha(d.enviado_at));
    if (d.estado === 'confirmado' && d.confirmado_at) partes.push(t('msj.confirmado_at', { at: GAD.fecha(d.confirmado_at) }));
    return el('li', { 'data-efectivo-id': d.efectivo_id, 'data-estado': d.estado, class: 'destinatario ' + d.estado }, [
      el('span', { class: 'nombre', text: t('dash.efectivo', { id: d.efectivo_id }) }),
      el('span', { class: 'estado-txt', text: partes.join(' · ') })
    ]);
  }

  function totalesDetalle() {
    var tot = { total: 0, pendiente: 0, enviado: 0, fallido: 0, confirmado: 0 };
    destinatarios.forEach(function (d) { tot.total += 1; tot[d.estado] = (tot[d.estado] || 0) + 1; });
    return tot;
  }

  function pintarDetalle() {
    var ul = $('msj-destinatarios');
    var filas = [];
    destinatarios.forEach(function (d) { filas.push(filaDestinatario(d)); });
    ul.replaceChildren.apply(ul, filas);
    var tot = totalesDetalle();
    $('msj-detalle-totales').textContent = tot.total ? textoTotales(tot) : t('msj.sin_destinatarios');
  }

  function abrirDetalle(id) {
    detalleId = id;
    $('msj-lista').querySelectorAll('[aria-current]').forEach(function (x) { x.removeAttribute('aria-current'); });
    var x = mensajes.get(id);
    if (x) x.row.firstChild.setAttribute('aria-current', 'true');
    var caja = $('msj-detalle');
    caja.setAttribute('data-mensaje-id', id);
    GAD.api('GET', '/api/v1/mensajes/' + id).then(function (r) {
      if (detalleId !== id) return;
      if (r.status !== 200 || !r.body) { GAD.aviso(t('error.generico', { status: r.status }), 'error'); return; }
      var m = r.body;
      destinatarios = new Map();
      (m.destinatarios || []).forEach(function (d) { destinatarios.set(d.efectivo_id, d); });
      $('msj-detalle-titulo').textContent = t('msj.detalle.titulo', { id: m.id, destino: describirDestino(m) });
      $('msj-detalle-texto').textContent = m.texto;
      caja.hidden = false;
      pintarDetalle();
      poner(m, true);
      $('msj-detalle-titulo').focus();
    });
  }

  function cerrarDetalle() {
    detalleId = null;
    $('msj-detalle').hidden = true;
    var x = null;
    $('msj-lista').querySelectorAll('[aria-current]').forEach(function (b) { x = b; b.removeAttribute('aria-current'); });
    if (x) x.focus();
  }

  // ---- live ---------------------------------------------------------------------------------

  function alNuevo(d) {
    // The same messages as the listing: to the centre, or the user's own (another supervisor's
    // message to officers reaches this socket too, but is not this desk's conversation).
    if (!d.centro && d.autor_usuario_id !== yo()) return;
    var m = {
      id: d.mensaje_id, autor_usuario_id: d.autor_usuario_id, texto: d.texto, prioridad: d.prioridad,
      en_respuesta_a: d.en_respuesta_a, created_at: new Date().toISOString(),
      destino: d.centro ? { centro: true } : undefined,
      totales: { total: d.destinatarios, pendiente: d.destinatarios, enviado: 0, fallido: 0, confirmado: 0 }
    };
    var nuevo = !mensajes.has(m.id);
    poner(m, true);
    if (nuevo && recibido(m)) {
      if (abierto) marcarVisto();
      else { sinLeer += 1; pintarInsignia(); }
    }
    // Who a message to officers went to, and who could not be reached at once (not linked):
    // the list row asks for the message as stored.
    if (!d.centro) {
      GAD.api('GET', '/api/v1/mensajes/' + m.id).then(function (r) {
        if (r.status !== 200 || !r.body) return;
        var b = r.body;
        delete b.destinatarios;
        poner(b, false);
      });
    }
  }

  /** One recipient's state changed: the row's totals, and the detail when it shows it. */
  function alEstado(d) {
    var x = mensajes.get(d.mensaje_id);
    if (x && x.m.totales) {
      var tot = x.m.totales;
      var antes = d.estado === 'confirmado' ? 'enviado' : 'pendiente';
      if (detalleId === d.mensaje_id && destinatarios.has(d.efectivo_id)) antes = destinatarios.get(d.efectivo_id).estado;
      if (antes !== d.estado) {
        if (tot[antes] > 0) tot[antes] -= 1;
        tot[d.estado] = (tot[d.estado] || 0) + 1;
        pintarFila(x);
      }
    }
    if (detalleId === d.mensaje_id) {
      var r = destinatarios.get(d.efectivo_id) || { efectivo_id: d.efectivo_id };
      r.estado = d.estado;
      if (d.estado === 'enviado') r.enviado_at = d.at;
      if (d.estado === 'confirmado') r.confirmado_at = d.at;
      if (d.estado === 'fallido') r.motivo = d.motivo || null;
      destinatarios.set(d.efectivo_id, r);
      pintarDetalle();
    }
  }

  function evento(type, d) {
    if (type !== 'message' || !d) return;
    if (d.kind === 'nuevo') alNuevo(d);
    else if (d.kind === 'estado') alEstado(d);
  }

  // ---- compose ------------------------------------------------------------------------------

  function formulario() { return $('msj-form'); }

  function mostrarDestino() {
    var tipo = formulario().elements.destino.value;
    formulario().querySelectorAll('[data-destino]').forEach(function (div) {
      div.hidden = div.getAttribute('data-destino') !== tipo;
    });
    if (tipo === 'zona_id' && !zonasPedidas) {
      zonasPedidas = true;
      var sel = $('msj-zona');
      sel.replaceChildren(el('option', { value: '', text: t('msj.zona.elegir') }));
      GAD.api('GET', '/api/v1/zonas').then(function (r) {
        if (r.status !== 200 || !Array.isArray(r.body)) { zonasPedidas = false; return; }
        r.body.forEach(function (z) { sel.appendChild(el('option', { value: z.id, text: z.nombre })); });
      });
    }
  }

  /** `todos` is offered to administrators only (level 3). */
  function ajustarNivel() {
    var op = formulario().querySelector('option[value="todos"]');
    var admin = !!(GAD.yo && GAD.yo.nivel >= 3);
    op.hidden = !admin;
    op.disabled = !admin;
  }

  function mostrarFormulario(si) {
    formulario().hidden = !si;
    $('msj-redactar').setAttribute('aria-expanded', si ? 'true' : 'false');
    if (si) {
      ajustarNivel();
      mostrarDestino();
      formulario().elements.destino.focus();
    } else {
      formulario().reset();
      GAD.mostrarErrores(formulario(), {});
    }
  }

  function numero(s) {
    var n = Number(s);
    return s !== '' && Number.isInteger(n) ? n : s;
  }

  /** The API body from the form: only the chosen destination's field. A value the server
   *  refuses is sent as typed, so its 422 lands at that field. */
  function cuerpo(f) {
    var tipo = f.destino.value;
    var destino = {};
    if (tipo === 'efectivos') {
      var v = f.efectivos.value.trim();
      destino.efectivos = v ? v.split(/[\s,;]+/).filter(Boolean).map(numero) : [];
    } else if (tipo === 'unidad') destino.unidad = f.unidad.value.trim();
    else if (tipo === 'zona_id') destino.zona_id = numero(f.zona_id.value);
    else if (tipo === 'tarea_id') destino.tarea_id = numero(f.tarea_id.value.trim());
    else destino[tipo] = true;
    return {
      destino: destino,
      texto: f.texto.value,
      prioridad: f.prioridad.value,
      requiere_confirmacion: f.requiere_confirmacion.checked
    };
  }

  // What each destination field's refusal means to the desk.
  var ERROR_DESTINO = {
    efectivos: 'msj.error.efectivos', unidad: 'msj.error.unidad', zona_id: 'msj.error.zona',
    tarea_id: 'msj.error.tarea', destino: 'msj.error.destino'
  };

  /** Field errors of a 422: `["body", "destino", "efectivos", 2]` is shown at `efectivos`. */
  function errores(body) {
    var out = GAD.erroresDeCampo(body);
    ((body && body.errors) || []).forEach(function (e) {
      var loc = e.loc || [];
      if (loc[1] !== 'destino') return;
      var campo = typeof loc[2] === 'string' ? loc[2] : 'destino';
      if (campo === 'en_turno' || campo === 'todos' || !ERROR_DESTINO[campo]) campo = 'destino';
      out[campo] = campo === 'efectivos' && typeof loc[3] === 'number'
        ? t('msj.error.efectivo', { id: e.input }) : t(ERROR_DESTINO[campo]);
    });
    return out;
  }

  function enviar(ev) {
    ev.preventDefault();
    var form = formulario();
    var boton = form.querySelector('button[type="submit"]');
    boton.disabled = true;
    GAD.api('POST', '/api/v1/mensajes', cuerpo(form.elements)).then(function (r) {
      boton.disabled = false;
      if (r.status === 201) {
        GAD.aviso(t('msj.enviado', { n: (r.body.totales && r.body.totales.total) || 0 }));
        var m = r.body;
        poner(m, true);
        mostrarFormulario(false);
        abrirDetalle(m.id);
      } else if (r.status === 422) {
        var e = errores(r.body);
        GAD.mostrarErrores(form, e);
        GAD.aviso(t('msj.errores'), 'error');
        var primero = form.querySelector('[aria-invalid="true"]');
        if (primero) primero.focus();
      } else {
        GAD.aviso((r.body && r.body.detail) ? t('error.generico', { status: r.status }) + ' ' + r.body.detail : t('error.generico', { status: r.status }), 'error');
      }
    }, function () { boton.disabled = false; GAD.aviso(t('error.red'), 'error'); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    if (!$('mensajes')) return;
    pintarInsignia();
    $('msj-abrir').addEventListener('click', function () { abrirPanel(!abierto); });
    $('msj-redactar').addEventListener('click', function () { mostrarFormulario(formulario().hidden); });
    $('msj-cancelar').addEventListener('click', function () { mostrarFormulario(false); $('msj-redactar').focus(); });
    formulario().elements.destino.addEventListener('change', mostrarDestino);
    formulario().addEventListener('submit', enviar);
    $('msj-mas').addEventListener('click', cargarPagina);
    $('msj-detalle-cerrar').addEventListener('click', cerrarDetalle);
    $('mensajes').addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && !$('msj-detalle').hidden) cerrarDetalle();
    });
  });

  var iniciado = false;
  GAD.mensajes = {
    evento: evento,
    /** The first page is asked for once the map is usable (after the first snapshot), not
     *  before: it must not delay the dashboard's first paint. */
    iniciar: function () {
      if (iniciado || !$('mensajes')) return;
      iniciado = true;
      cargarPagina();
    }
  };
})();
