/* Browser side of the multiplexing tests: npm websocket-multiplex 0.1.0's
 * client (multiplex_client.js, window.WebSocketMultiplex) on top of an
 * E2E.connect() client of harness.js.
 *
 * E2E.multiplex(url, options) gives a Mux; mux.channel(name) opens a channel
 * through the real client and records what it sees. mux.receives(ch, n) and
 * mux.closes(ch) return promises, settled through the connection's own
 * waiters (harness.js): no sleeping.
 */
(function () {
  'use strict';

  function Mux(url, options) {
    this.client = E2E.connect(url, options);
    this.multiplexer = new WebSocketMultiplex(this.client.sock);
    this.channels = {};
  }

  Mux.prototype.opens = function () {
    return this.client.opens();
  };

  // Opens channel `name`; the record says what its events were.
  Mux.prototype.channel = function (name) {
    var client = this.client;
    var record = { name: name, opened: false, messages: [], closes: 0 };
    var channel = this.multiplexer.channel(name);
    channel.onopen = function () { record.opened = true; client.wake(); };
    channel.onmessage = function (event) { record.messages.push(event.data); client.wake(); };
    channel.onclose = function () { record.closes += 1; client.wake(); };
    record.channel = channel;
    this.channels[name] = record;
    return record;
  };

  Mux.prototype.get = function (name) {
    return this.channels[name];
  };

  // Resolves on the channel's open event. multiplex_client.js sends `sub` on
  // that same tick, so a channel made after the connection opened must wait
  // for it: a message sent before it would reach the server ahead of `sub`.
  Mux.prototype.channelOpens = function (name, opts) {
    var record = this.channels[name];
    return this.client.until('open of channel ' + name, function () { return record.opened; }, opts);
  };

  Mux.prototype.receives = function (name, count, opts) {
    var record = this.channels[name];
    return this.client.until(count + ' message(s) on channel ' + name, function () {
      return record.messages.length >= count;
    }, opts).then(function () { return record.messages; });
  };

  Mux.prototype.receivesMessage = function (name, text, opts) {
    var record = this.channels[name];
    return this.client.until('message ' + E2E.preview(text) + ' on channel ' + name, function () {
      return record.messages.indexOf(text) >= 0;
    }, opts).then(function () { return record.messages; });
  };

  Mux.prototype.closes = function (name, opts) {
    var record = this.channels[name];
    return this.client.until('close of channel ' + name, function () { return record.closes > 0; }, opts)
      .then(function () { return record; });
  };

  // What every channel saw, for assertions in Python.
  Mux.prototype.summary = function () {
    var out = {};
    for (var name in this.channels) {
      var r = this.channels[name];
      out[name] = { opened: r.opened, messages: r.messages.slice(), closes: r.closes };
    }
    return out;
  };

  E2E.multiplex = function (url, options) { return new Mux(url, options); };
})();
