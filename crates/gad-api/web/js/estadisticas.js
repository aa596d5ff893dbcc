// Statistics: the overview of GET /api/v1/stats/overview as bar charts (plain elements; the
// bar widths are set through the CSSOM, which the page's CSP allows).
(function () {
  'use strict';
  var GAD = window.GAD;
  var t = GAD.t;
  var el = GAD.el;

  function grafico(id, datos, etiqueta) {
    var ul = document.getElementById(id);
    var max = Math.max.apply(null, Object.keys(datos).map(function (k) { return datos[k]; }).concat([1]));
    ul.replaceChildren();
    Object.keys(datos).forEach(function (k) {
      var valor = el('div', { class: 'barra-valor' });
      valor.style.width = (100 * datos[k] / max).toFixed(1) + '%';
      ul.appendChild(el('li', { 'data-clave': k }, [
        el('span', { text: etiqueta(k) }),
        el('div', { class: 'barra-fondo', role: 'img', 'aria-label': etiqueta(k) + ': ' + datos[k] }, [valor]),
        el('span', { class: 'valor', text: String(datos[k]) })
      ]));
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    GAD.api('GET', '/api/v1/stats/overview').then(function (r) {
      if (r.status !== 200) { GAD.aviso(t('error.generico', { status: r.status }), 'error'); return; }
      var o = r.body;
      grafico('g-estado', o.tareas.por_estado, function (k) { return t('tarea.estado.' + k); });
      grafico('g-prioridad', o.tareas.por_prioridad, function (k) { return t('prioridad.' + k); });
      grafico('g-disp', o.efectivos.por_disponibilidad, function (k) { return t('estado.' + k); });
      document.getElementById('c-emerg').textContent = String(o.emergencias_24h);
      document.getElementById('c-dist').textContent = o.distancia_mediana_emergencias_m === null
        ? t('stats.sin_datos') : t('stats.distancia.valor', { m: Math.round(o.distancia_mediana_emergencias_m) });
      document.getElementById('c-ubic').textContent = String(o.efectivos.con_ubicacion);
      document.getElementById('calculado').textContent = t('stats.calculado', { fecha: GAD.fecha(o.calculated_at) });
    });
  });
})();
