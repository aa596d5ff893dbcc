// The API client of the command centre: same-origin fetch with the HttpOnly session cookie
// (the browser adds Origin to writes, which the server checks), JSON in and out.
(function () {
  'use strict';
  var GAD = (window.GAD = window.GAD || {});

  /**
   * Calls the API; resolves to {status, body} for every HTTP answer (errors included) and
   * rejects only on a network failure. A 401 outside the login page means the session ended.
   */
  GAD.api = function (method, path, body, opts) {
    var init = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (r) {
      return r.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
        // While logging out, the page navigates to the login page itself (with its notice).
        if (r.status === 401 && !(opts && opts.allow401) && !GAD.saliendo) {
          window.location.assign('/login');
        }
        return { status: r.status, body: parsed, headers: r.headers };
      });
    });
  };

  /** The 422 body's errors as {field: message}, in Spanish where the type is known. A nested
   *  field is also given by its dotted path (`denunciante.telefono` for
   *  `["body", "denunciante", "telefono"]`), so forms can name it unambiguously. */
  GAD.erroresDeCampo = function (body) {
    var out = {};
    var list = (body && body.errors) || [];
    list.forEach(function (e) {
      var loc = e.loc || [];
      var field = String(loc[loc.length - 1] || '');
      if (!field) return;
      var specific = 'validacion.' + field;
      var typed = 'validacion.' + e.type;
      var msg = GAD.textos[specific] && e.type === 'value_error' ? GAD.t(specific)
        : GAD.textos[typed] ? GAD.t(typed) : GAD.t('validacion.invalido');
      if (!out[field]) out[field] = msg;
      var path = loc.slice(loc[0] === 'body' || loc[0] === 'query' ? 1 : 0).join('.');
      if (path && path !== field && !out[path]) out[path] = msg;
    });
    return out;
  };

  /** Shows field errors at [data-error-for=<field>] inside `form`; clears the others. */
  GAD.mostrarErrores = function (form, errores) {
    form.querySelectorAll('[data-error-for]').forEach(function (el) {
      var f = el.getAttribute('data-error-for');
      el.textContent = errores[f] || '';
      var input = form.querySelector('[name="' + f + '"]');
      if (input) {
        if (errores[f]) input.setAttribute('aria-invalid', 'true');
        else input.removeAttribute('aria-invalid');
      }
    });
  };

  /** "hace …" from an RFC 3339 instant. */
  GAD.edad = function (iso) {
    if (!iso) return GAD.t('edad.nunca');
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return GAD.t('edad.seg', { n: s });
    if (s < 3600) return GAD.t('edad.min', { n: Math.floor(s / 60) });
    if (s < 86400) return GAD.t('edad.h', { n: Math.floor(s / 3600) });
    return GAD.t('edad.d', { n: Math.floor(s / 86400) });
  };

  GAD.fecha = function (iso) {
    if (!iso) return '';
    return new Date(iso).toLocaleString(GAD.idioma, { dateStyle: 'short', timeStyle: 'short' });
  };

  /** Creates an element with attributes and children (text or nodes). */
  GAD.el = function (tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'text') e.textContent = v;
        else if (k === 'onclick') e.addEventListener('click', v);
        else e.setAttribute(k, v === true ? '' : v);
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  };

  /** Writes a status message where screen readers announce it. */
  GAD.aviso = function (msg, tipo) {
    var box = document.getElementById('avisos');
    if (!box) return;
    box.textContent = msg;
    box.setAttribute('data-tipo', tipo || 'info');
  };
})();
