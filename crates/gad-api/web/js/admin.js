// Administration (level 3): users (create, change level, deactivate), efectivos, audit log
// with filters, and broadcasting a notification (POST /api/v1/admin/agent/command).
(function () {
  'use strict';
  var GAD = window.GAD;
  var t = GAD.t;
  var el = GAD.el;

  function tabs() {
    var botones = document.querySelectorAll('[role="tab"]');
    botones.forEach(function (b) {
      b.addEventListener('click', function () {
        botones.forEach(function (o) {
          var sel = o === b;
          o.setAttribute('aria-selected', sel ? 'true' : 'false');
          document.getElementById(o.getAttribute('aria-controls')).hidden = !sel;
        });
        if (b.id === 'tab-efectivos') efectivos();
        if (b.id === 'tab-auditoria') auditoria({});
      });
    });
  }

  function selectNivel(valor, id) {
    var s = el('select', { id: id, 'aria-label': t('campo.nivel') });
    [1, 2, 3].forEach(function (n) { s.appendChild(el('option', { value: n, text: t('nivel.' + n) })); });
    s.value = String(valor);
    return s;
  }

  var filtroUsuarios = {};

  function usuarios() {
    var q = new URLSearchParams({ limit: '100' });
    Object.keys(filtroUsuarios).forEach(function (k) { if (filtroUsuarios[k]) q.set(k, filtroUsuarios[k]); });
    GAD.api('GET', '/api/v1/users?' + q.toString()).then(function (r) {
      var tbody = document.querySelector('#t-usuarios tbody');
      if (r.status !== 200 || !Array.isArray(r.body)) return;
      tbody.replaceChildren.apply(tbody, r.body.map(function (u) {
        var nivel = selectNivel(u.nivel, 'nivel-' + u.id);
        var guardar = el('button', { type: 'button', class: 'secundario', text: t('admin.guardar_nivel') });
        guardar.addEventListener('click', function () {
          GAD.api('PUT', '/api/v1/users/' + u.id, { nivel: Number(nivel.value) }).then(function (x) {
            GAD.aviso(x.status === 200 ? t('admin.usuario.nivel_ok', { id: u.id }) : t('error.generico', { status: x.status }), x.status === 200 ? 'info' : 'error');
          });
        });
        var baja = el('button', { type: 'button', class: 'peligro', text: t('admin.desactivar') });
        baja.addEventListener('click', function () {
          GAD.api('DELETE', '/api/v1/users/' + u.id).then(function (x) {
            GAD.aviso(x.status === 200 ? t('admin.usuario.desactivado', { id: u.id }) : t('error.generico', { status: x.status }), x.status === 200 ? 'info' : 'error');
            usuarios();
          });
        });
        var desbloquear = el('button', { type: 'button', class: 'secundario', 'data-accion': 'desbloquear', text: t('admin.desbloquear') });
        desbloquear.addEventListener('click', function () {
          GAD.api('POST', '/api/v1/users/' + u.id + '/unlock').then(function (x) {
            GAD.aviso(x.status === 200 ? t('admin.usuario.desbloqueado', { id: u.id }) : t('error.generico', { status: x.status }), x.status === 200 ? 'info' : 'error');
          });
        });
        return el('tr', { 'data-usuario-id': u.id, 'data-email': u.email }, [
          el('td', { text: String(u.id) }),
          el('td', { text: u.email }),
          el('td', { text: u.nombre + ' ' + u.apellido }),
          el('td', {}, [nivel]),
          el('td', { text: u.verificado ? t('admin.activo') : t('admin.inactivo') }),
          el('td', {}, [el('div', { class: 'acciones' }, [guardar, desbloquear, baja])])
        ]);
      }));
    });
  }

  function crearUsuario(ev) {
    ev.preventDefault();
    var form = ev.target;
    var f = form.elements;
    var body = { email: f.email.value.trim(), password: f.password.value, nombre: f.nombre.value.trim(),
      apellido: f.apellido.value.trim(), dni: f.dni.value.trim(), nivel: Number(f.nivel.value), verificado: true };
    GAD.api('POST', '/api/v1/users', body).then(function (r) {
      if (r.status === 201) {
        GAD.mostrarErrores(form, {});
        form.reset();
        GAD.aviso(t('admin.usuario.creado', { email: r.body.email }));
        usuarios();
      } else if (r.status === 422) {
        GAD.mostrarErrores(form, GAD.erroresDeCampo(r.body));
      } else if (r.status === 409) {
        var campo = (r.body && r.body.field) || 'email';
        var e = {}; e[campo] = t('admin.usuario.duplicado', { campo: t('campo.' + campo) });
        GAD.mostrarErrores(form, e);
      } else {
        GAD.mostrarErrores(form, { _form: t('error.generico', { status: r.status }) });
      }
    });
  }

  function efectivos() {
    GAD.api('GET', '/api/v1/efectivos?limit=200').then(function (r) {
      var tbody = document.querySelector('#t-efectivos tbody');
      if (r.status !== 200 || !Array.isArray(r.body)) return;
      tbody.replaceChildren.apply(tbody, r.body.map(function (e) {
        return el('tr', { 'data-efectivo-id': e.id }, [
          el('td', { text: String(e.id) }),
          el('td', { text: e.codigo_interno || '' }),
          el('td', { text: [e.nombre, e.apellido].filter(Boolean).join(' ') }),
          el('td', { text: e.unidad || '' }),
          el('td', { text: e.rango || '' }),
          el('td', { text: t('estado.' + e.estado_disponibilidad) })
        ]);
      }));
    });
  }

  function crearEfectivo(ev) {
    ev.preventDefault();
    var form = ev.target;
    var f = form.elements;
    var body = { usuario_id: f.usuario_id.value ? Number(f.usuario_id.value) : null, codigo_interno: f.codigo_interno.value.trim() };
    ['rango', 'unidad', 'especialidad'].forEach(function (k) { if (f[k].value.trim()) body[k] = f[k].value.trim(); });
    GAD.api('POST', '/api/v1/efectivos', body).then(function (r) {
      if (r.status === 201) {
        GAD.mostrarErrores(form, {});
        form.reset();
        GAD.aviso(t('admin.ef.creado', { codigo: r.body.codigo_interno }));
        efectivos();
      } else if (r.status === 422) {
        GAD.mostrarErrores(form, GAD.erroresDeCampo(r.body));
      } else if (r.status === 409) {
        var campo = (r.body && r.body.field) || 'codigo_interno';
        var e = {}; e[campo] = t('admin.ef.duplicado', { campo: t('campo.' + campo) });
        GAD.mostrarErrores(form, e);
      } else {
        GAD.mostrarErrores(form, { _form: t('error.generico', { status: r.status }) });
      }
    });
  }

  function auditoria(filtros) {
    var q = new URLSearchParams({ limit: '100' });
    Object.keys(filtros).forEach(function (k) { if (filtros[k]) q.set(k, filtros[k]); });
    GAD.api('GET', '/api/v1/admin/audit?' + q.toString()).then(function (r) {
      var tbody = document.querySelector('#t-auditoria tbody');
      var lista = r.body && (Array.isArray(r.body) ? r.body : r.body.items || r.body.entries);
      if (r.status !== 200 || !Array.isArray(lista)) {
        if (r.status === 422) GAD.aviso(t('validacion.invalido'), 'error');
        return;
      }
      tbody.replaceChildren.apply(tbody, lista.map(function (a) {
        return el('tr', {}, [
          el('td', { text: GAD.fecha(a.created_at) }),
          el('td', { text: a.event_type }),
          el('td', { text: a.user_id === null ? '—' : String(a.user_id) }),
          el('td', { text: [a.resource_type, a.resource_id].filter(Boolean).join(' #') }),
          el('td', { text: a.success ? t('admin.aud.ok') : t('admin.aud.fallo', { status: a.response_status }) })
        ]);
      }));
    });
  }

  function difundir(ev) {
    ev.preventDefault();
    var form = ev.target;
    var f = form.elements;
    var payload = { title: f.title.value.trim(), content: f.content.value.trim(), level: 'info', audience: f.audience.value };
    GAD.api('POST', '/api/v1/admin/agent/command', { action: 'broadcast', payload: payload }).then(function (r) {
      if (r.status === 202 || r.status === 200) {
        GAD.mostrarErrores(form, {});
        GAD.aviso(t('admin.dif.ok'));
      } else if (r.status === 422) {
        GAD.mostrarErrores(form, GAD.erroresDeCampo(r.body));
      } else {
        GAD.mostrarErrores(form, { _form: t('error.generico', { status: r.status }) });
      }
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('[data-niveles]').forEach(function (s) {
      if (s.hasAttribute('data-todos')) s.appendChild(el('option', { value: '', text: t('tareas.filtro.todos') }));
      [1, 2, 3].forEach(function (n) { s.appendChild(el('option', { value: n, text: t('nivel.' + n) })); });
    });
    document.getElementById('usuarios-filtros').addEventListener('submit', function (ev) {
      ev.preventDefault();
      filtroUsuarios = { q: ev.target.elements.q.value.trim(), nivel: ev.target.elements.nivel.value };
      usuarios();
    });
    tabs();
    document.getElementById('usuario-form').addEventListener('submit', crearUsuario);
    document.getElementById('difusion-form').addEventListener('submit', difundir);
    document.getElementById('efectivo-form').addEventListener('submit', crearEfectivo);
    document.getElementById('auditoria-filtros').addEventListener('submit', function (ev) {
      ev.preventDefault();
      auditoria({ event_type: ev.target.elements.event_type.value.trim(), user_id: ev.target.elements.user_id.value });
    });
    usuarios();
  });
})();
