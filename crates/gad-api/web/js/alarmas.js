// The console's alarms: a distinct sound per kind of alert (vendored WAV files in <audio>
// elements of the alarm bar), a mute switch remembered by this browser, and a system
// notification when the tab is hidden. The alert rows themselves (kept until someone marks them
// seen) are the dashboard's; this module only makes them heard.
(function () {
  'use strict';
  var GAD = window.GAD;
  var t = GAD.t;

  var SILENCIO = 'gad.alarmas.silencio';
  // Which sound each kind of alert plays; kinds not named here are shown without sound unless
  // critical (then the check-in tone: something about an officer needs eyes now).
  var SONIDO = {
    emergencia_nueva: 'emergencia_nueva',
    sin_asignar: 'sin_asignar',
    checkin_sin_respuesta: 'checkin',
    checkin_apoyo: 'checkin',
    mensaje_urgente: 'mensaje'
  };

  function guardado() {
    try { return window.localStorage.getItem(SILENCIO) === '1'; } catch (e) { return false; }
  }

  var silenciado = guardado();
  var pedirPermiso = true;

  function boton(id) { return document.getElementById(id); }

  function pintarSilencio() {
    var b = boton('alarmas-silencio');
    if (!b) return;
    b.setAttribute('aria-pressed', silenciado ? 'true' : 'false');
    b.textContent = t(silenciado ? 'alarma.reactivar' : 'alarma.silenciar');
  }

  function audio(kind, severity) {
    var nombre = SONIDO[kind] || (severity === 'critical' ? 'checkin' : null);
    return nombre ? document.querySelector('audio[data-sonido="' + nombre + '"]') : null;
  }

  /** Plays the kind's sound; a browser that refuses sound before a click gets a button that
   *  unlocks it, so a silent console is visible rather than assumed. */
  function sonar(kind, severity) {
    var a = audio(kind, severity);
    if (!a || silenciado) return;
    try {
      a.currentTime = 0;
      var p = a.play();
      if (p && p.then) {
        p.then(function () {
          a.setAttribute('data-reproducido', String(Date.now()));
          boton('alarmas-activar').hidden = true;
        }, function () { boton('alarmas-activar').hidden = false; });
      }
    } catch (e) { boton('alarmas-activar').hidden = false; }
  }

  function notificar(texto) {
    if (!document.hidden || !('Notification' in window) || Notification.permission !== 'granted') return;
    try { new Notification(t('alarma.notificacion'), { body: texto, tag: 'gad-alarma' }); } catch (e) { /* shown in the bar anyway */ }
  }

  /** Asked once, on the first click in the page: browsers only grant it from a user gesture. */
  function pedirNotificaciones() {
    if (!pedirPermiso) return;
    pedirPermiso = false;
    if ('Notification' in window && Notification.permission === 'default') {
      try { Notification.requestPermission(); } catch (e) { /* not supported */ }
    }
  }

  GAD.Alarmas = {
    /** A new alert arrived (not one reloaded from the list): sound and, when hidden, notify. */
    avisar: function (kind, severity, texto) {
      sonar(kind, severity);
      notificar(texto);
    },
    silenciado: function () { return silenciado; }
  };

  document.addEventListener('DOMContentLoaded', function () {
    pintarSilencio();
    var b = boton('alarmas-silencio');
    if (b) {
      b.addEventListener('click', function () {
        silenciado = !silenciado;
        try { window.localStorage.setItem(SILENCIO, silenciado ? '1' : '0'); } catch (e) { /* private mode */ }
        pintarSilencio();
      });
    }
    var activar = boton('alarmas-activar');
    if (activar) {
      activar.addEventListener('click', function () {
        activar.hidden = true;
        var a = document.querySelector('audio[data-sonido="mensaje"]');
        if (a) a.play().catch(function () { activar.hidden = false; });
      });
    }
    document.addEventListener('click', pedirNotificaciones, { once: true });
  });
})();
