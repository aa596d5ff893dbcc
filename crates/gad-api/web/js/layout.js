// Fills every data-i18n text, marks the current page in the navigation and wires logout.
(function () {
  'use strict';
  var GAD = window.GAD;

  GAD.traducir = function (root) {
    (root || document).querySelectorAll('[data-i18n]').forEach(function (el) {
      el.textContent = GAD.t(el.getAttribute('data-i18n'));
    });
    (root || document).querySelectorAll('[data-i18n-attr]').forEach(function (el) {
      el.getAttribute('data-i18n-attr').split(';').forEach(function (pair) {
        var p = pair.split(':');
        if (p.length === 2) el.setAttribute(p[0].trim(), GAD.t(p[1].trim()));
      });
    });
  };

  function salir() {
    GAD.saliendo = true;
    if (GAD.alSalir) GAD.alSalir();
    GAD.api('POST', '/api/v1/auth/logout', undefined, { allow401: true }).then(function () {
      window.location.assign('/login?motivo=salio');
    }, function () {
      window.location.assign('/login');
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var page = document.body.getAttribute('data-page');
    document.title = GAD.t('titulo.' + page);
    GAD.traducir(document);
    document.querySelectorAll('nav a[data-page]').forEach(function (a) {
      if (a.getAttribute('data-page') === page) a.setAttribute('aria-current', 'page');
    });
    var logout = document.querySelector('[data-testid="logout"]');
    if (logout) logout.addEventListener('click', salir);
    var who = document.getElementById('usuario');
    if (who && page !== 'login') {
      GAD.api('GET', '/api/v1/users/me').then(function (r) {
        if (r.status === 200 && r.body) {
          GAD.yo = r.body;
          who.textContent = GAD.t('nav.usuario', { nombre: r.body.nombre + ' ' + r.body.apellido, nivel: r.body.nivel });
        }
      });
    }
  });
})();
