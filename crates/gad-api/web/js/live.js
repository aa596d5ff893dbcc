// The live connection: a single-use ticket from POST /api/v1/ws/ticket, then /ws/connect.
// The server sends connection_ack, the snapshot (system_status) and then deltas. A large
// snapshot may come in parts ({part, parts} in data, at most 500 officers each): the parts are
// merged before the page sees one snapshot. Reconnects with exponential backoff and jitter.
(function () {
  'use strict';
  var GAD = window.GAD;

  var MIN_DELAY = 500;
  var MAX_DELAY = 15000;

  /** Merges the parts of a partitioned snapshot: arrays concatenated, other keys from any part. */
  function mergeParts(parts) {
    var out = {};
    parts.forEach(function (p) {
      Object.keys(p).forEach(function (k) {
        if (k === 'part' || k === 'parts') return;
        if (Array.isArray(p[k])) out[k] = (out[k] || []).concat(p[k]);
        else if (!(k in out)) out[k] = p[k];
      });
    });
    return out;
  }

  /**
   * handlers: {snapshot(data), event(type, data, envelope), state(name)}
   * states: connecting | connected | reconnecting | offline
   */
  GAD.Live = function (handlers) {
    this.h = handlers;
    this.delay = MIN_DELAY;
    this.ws = null;
    this.parts = null;
    this.stopped = false;
    this.timer = null;
  };

  GAD.Live.mergeParts = mergeParts;

  GAD.Live.prototype.setState = function (s) {
    if (this.h.state) this.h.state(s);
  };

  GAD.Live.prototype.start = function () {
    var self = this;
    window.addEventListener('online', function () { self.reconnectNow(); });
    window.addEventListener('offline', function () { self.setState('offline'); });
    this.connect();
  };

  GAD.Live.prototype.reconnectNow = function () {
    if (this.ws && this.ws.readyState <= 1) return;
    clearTimeout(this.timer);
    this.delay = MIN_DELAY;
    this.connect();
  };

  GAD.Live.prototype.schedule = function () {
    var self = this;
    if (this.stopped) return;
    this.setState(navigator.onLine === false ? 'offline' : 'reconnecting');
    var wait = this.delay * (0.75 + Math.random() * 0.5);
    this.delay = Math.min(MAX_DELAY, this.delay * 2);
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.connect(); }, wait);
  };

  GAD.Live.prototype.connect = function () {
    var self = this;
    if (this.stopped) return;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    GAD.api('POST', '/api/v1/ws/ticket').then(function (r) {
      if (r.status !== 201 || !r.body || !r.body.ticket) { self.schedule(); return; }
      var proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
      var url = proto + '//' + window.location.host + '/ws/connect?ticket=' + encodeURIComponent(r.body.ticket);
      var ws;
      try { ws = new WebSocket(url); } catch (e) { self.schedule(); return; }
      self.ws = ws;
      self.parts = null;
      ws.onmessage = function (m) { self.onFrame(m.data); };
      ws.onclose = function () {
        if (self.ws === ws) { self.ws = null; self.schedule(); }
      };
      ws.onerror = function () { /* onclose follows */ };
    }, function () { self.schedule(); });
  };

  /** Closes for good (logout): no reconnection. */
  GAD.Live.prototype.stop = function () {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) { var ws = this.ws; this.ws = null; ws.close(1000); }
  };

  GAD.Live.prototype.send = function (eventType, data) {
    if (this.ws && this.ws.readyState === 1) {
      this.ws.send(JSON.stringify({ event_type: eventType, data: data || {} }));
    }
  };

  GAD.Live.prototype.snapshotComplete = function (data) {
    this.delay = MIN_DELAY;
    this.everConnected = true;
    this.h.snapshot(data);
    this.setState('connected');
  };

  GAD.Live.prototype.onFrame = function (text) {
    var msg;
    try { msg = JSON.parse(text); } catch (e) { return; }
    var type = msg.event_type;
    var data = msg.data || {};
    if (type === 'ping') { this.send('pong', {}); return; }
    if (type === 'system_status') {
      var n = Number(data.parts);
      if (!n || n <= 1) { this.snapshotComplete(mergeParts([data])); return; }
      // Parts may be numbered from 0 or 1; count distinct ones until all `parts` arrived.
      if (!this.parts || this.parts.n !== n) this.parts = { n: n, got: {} };
      this.parts.got[String(data.part)] = data;
      var keys = Object.keys(this.parts.got);
      if (keys.length >= n) {
        var ordered = keys.sort(function (a, b) { return Number(a) - Number(b); })
          .map(function (k) { return this.parts.got[k]; }, this);
        this.parts = null;
        this.snapshotComplete(mergeParts(ordered));
      }
      return;
    }
    if (this.h.event) this.h.event(type, data, msg);
  };
})();
