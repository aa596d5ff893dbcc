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

  // After a session is open: the console is for levels 2 and 3.
  function entrar() {
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

  function mostrarTotp(key) {
    var box = document.querySelector('[data-testid="totp-error"]');
    box.textContent = key ? GAD.t(key) : '';
    box.hidden = !key;
  }

  // The second step: a code for the challenge (login of an enrolled user), or the enrolment of
  // a user whose level requires one (`confirmar`).
  var paso = { challenge: null, inscribiendo: false };

  function pedirCodigo() {
    document.getElementById('login-form').hidden = true;
    document.getElementById('totp-form').hidden = false;
    document.getElementById('totp-code').focus();
  }

  function inscribir() {
    return GAD.api('POST', '/api/v1/users/me/totp', {}, { allow401: true }).then(function (r) {
      if (r.status !== 201 || !r.body) { mostrar('login.error.red'); return; }
      paso.inscribiendo = true;
      document.getElementById('totp-qr').setAttribute('src', 'data:image/svg+xml;base64,' + window.btoa(r.body.qr_svg));
      document.getElementById('totp-uri').textContent = r.body.otpauth_uri;
      document.getElementById('totp-enrol').hidden = false;
      pedirCodigo();
    });
  }

  function mostrarRecuperacion(codigos) {
    var lista = document.getElementById('recovery-list');
    (codigos || []).forEach(function (c) { lista.appendChild(GAD.el('li', { text: c })); });
    document.getElementById('totp-form').hidden = true;
    document.getElementById('totp-recovery').hidden = false;
  }

  function verificar(code) {
    if (paso.inscribiendo) {
      return GAD.api('POST', '/api/v1/users/me/totp/confirmar', { code: code }, { allow401: true }).then(function (r) {
        if (r.status === 200) { mostrarRecuperacion(r.body && r.body.recovery_codes); return; }
        mostrarTotp('login.totp.error');
      });
    }
    return GAD.api('POST', '/api/v1/auth/totp', { challenge: paso.challenge, code: code }, { allow401: true }).then(function (r) {
      if (r.status === 200) return entrar();
      if (r.status === 423) { mostrarTotp(null); mostrar('login.error.bloqueado', { hora: hora(r.body && r.body.locked_until) }); return; }
      mostrarTotp('login.totp.error');
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var totpForm = document.getElementById('totp-form');
    var totpBoton = totpForm.querySelector('button[type="submit"]');
    totpForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var code = totpForm.elements.code.value.trim();
      if (!code) return;
      mostrarTotp(null);
      totpBoton.disabled = true;
      totpBoton.textContent = GAD.t('login.totp.verificando');
      verificar(code).then(null, function () { mostrarTotp(null); mostrar('login.error.red'); }).then(function () {
        totpBoton.disabled = false;
        totpBoton.textContent = GAD.t('login.totp.verificar');
      });
    });
    document.getElementById('totp-continuar').addEventListener('click', function () { entrar(); });

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
          if (r.status === 200 && r.body && r.body.totp_required) {
            paso.challenge = r.body.challenge;
            pedirCodigo();
            return;
          }
          if (r.status === 200 && r.body && r.body.totp_enrolment_required) return inscribir();
          if (r.status === 200) return entrar();
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
