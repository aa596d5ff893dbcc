// Statistics: the overview of GET /api/v1/stats/overview as bar charts (plain elements; the
// bar widths are set through the CSSOM, which the page's CSP allows).
(function () {
  'use strict';
  var GAD = window.GAD;
  var t = GAD.t;
  var el = GAD.el;

  // The overview names priorities by label; the page shows them by rank (1 baja … 5 crítica).
  var RANGO = { BAJA: '1', MEDIA: '2', ALTA: '3', URGENTE: '4', CRITICA: '5' };
  var ORDEN = {
    estado: ['programada', 'en_curso', 'pausada', 'finalizada', 'cancelada'],
    prioridad: ['1', '2', '3', '4', '5'],
    disponibilidad: ['disponible', 'en_camino', 'en_escena', 'en_tarea', 'fuera_servicio', 'no_disponible']
  };

  function porRango(datos) {
    var out = {};
    Object.keys(datos).forEach(function (k) { var r = RANGO[k] || k; out[r] = (out[r] || 0) + datos[k]; });
    return out;
  }

  function grafico(id, datos, etiqueta, orden) {
    var ul = document.getElementById(id);
    var max = Math.max.apply(null, Object.keys(datos).map(function (k) { return datos[k]; }).concat([1]));
    var claves = orden.filter(function (k) { return k in datos; })
      .concat(Object.keys(datos).filter(function (k) { return orden.indexOf(k) < 0; }));
    ul.replaceChildren();
    claves.forEach(function (k) {
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
      grafico('g-estado', o.tareas.por_estado, function (k) { return t('tarea.estado.' + k); }, ORDEN.estado);
      grafico('g-prioridad', porRango(o.tareas.por_prioridad), function (k) { return t('prioridad.' + k); }, ORDEN.prioridad);
      grafico('g-disp', o.efectivos.por_disponibilidad, function (k) { return t('estado.' + k); }, ORDEN.disponibilidad);
      document.getElementById('c-emerg').textContent = String(o.emergencias_24h);
      document.getElementById('c-dist').textContent = o.distancia_mediana_emergencias_m === null
        ? t('stats.sin_datos') : t('stats.distancia.valor', { m: Math.round(o.distancia_mediana_emergencias_m) });
      document.getElementById('c-ubic').textContent = String(o.efectivos.con_ubicacion);
      document.getElementById('calculado').textContent = t('stats.calculado', { fecha: GAD.fecha(o.calculated_at) });
    });
  });
})();
