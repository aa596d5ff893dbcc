// Login with the cookie session: the API sets an HttpOnly SameSite=Strict cookie; the page
// then checks the level (the console is for level 2 and 3) and goes to the dashboard.
(function () {
  'use strict';
  var GAD = window.GAD;

  function mostrar(key, vars) {
    var box = document.querySelector('[data-testid="login-error"]');
    box.textContent = key ? GAD.t(key, vars) : '';
    box.hidden = !key;
  }

  function hora(iso) {
    return iso ? new Date(iso).toLocaleTimeString(GAD.idioma, { hour: '2-digit', minute: '2-digit' }) : '';
  }

  document.addEventListener('DOMContentLoaded', function () {
    var motivo = new URLSearchParams(window.location.search).get('motivo');
    if (motivo === 'supervisores') mostrar('login.supervisores');
    if (motivo === 'salio') GAD.aviso(GAD.t('login.salio'));
    var form = document.getElementById('login-form');
    var boton = form.querySelector('button[type="submit"]');
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var username = form.elements.username.value.trim();
      var password = form.elements.password.value;
      if (!username || !password) { mostrar('login.error.faltan'); return; }
      mostrar(null);
      boton.disabled = true;
      boton.textContent = GAD.t('login.entrando');
      GAD.api('POST', '/api/v1/auth/login', { username: username, password: password }, { allow401: true })
        .then(function (r) {
          if (r.status === 200) {
            return GAD.api('GET', '/api/v1/users/me', undefined, { allow401: true }).then(function (me) {
              if (me.status === 200 && me.body && me.body.nivel >= 2) {
                window.location.assign('/dashboard');
                return;
              }
              // Level 1: end the session we just opened and say why.
              return GAD.api('POST', '/api/v1/auth/logout', undefined, { allow401: true }).then(function () {
                mostrar('login.supervisores');
              });
            });
          }
          if (r.status === 423) mostrar('login.error.bloqueado', { hora: hora(r.body && r.body.locked_until) });
          else if (r.status === 403) mostrar('login.error.inactivo');
          else if (r.status === 422) mostrar('login.error.faltan');
          else if (r.status === 429) mostrar('login.error.limite');
          else mostrar('login.error.credenciales');
        }, function () { mostrar('login.error.red'); })
        .then(function () {
          boton.disabled = false;
          boton.textContent = GAD.t('login.entrar');
        });
    });
  });
})();
