/* Browser side of the sockjs-gevent e2e tests.
 *
 * E2E.connect(url, options) wraps a real sockjs-client SockJS object and
 * records what it sees; its opens()/receives()/closes() methods return
 * promises that resolve on those events, or reject with a description of the
 * connection's state when a timeout passes or the connection closes first.
 * Python awaits them through page.evaluate: no fixed sleeps anywhere.
 */
(function () {
  'use strict';

  var DEFAULT_TIMEOUT_MS = 15000;
  var clients = [];

  function preview(text) {
    if (typeof text !== 'string') {
      return String(text);
    }
    var shown = text.length > 40 ? text.slice(0, 40) + '...' : text;
    return JSON.stringify(shown) + ' (length ' + text.length + ')';
  }

  function Client(url, options) {
    var self = this;
    this.url = url;
    this.options = options || {};
    this.messages = [];
    this.opened = false;
    this.openMs = null;
    this.transport = null;
    this.closed = null;
    this.messagesAfterClose = 0;
    this.waiters = [];
    this.startedAt = performance.now();
    this.sock = new SockJS(url, null, this.options);
    this.sock.onopen = function () {
      self.opened = true;
      self.openMs = performance.now() - self.startedAt;
      self.transport = self.sock.transport;
      self.wake();
    };
    this.sock.onmessage = function (event) {
      if (self.closed) {
        self.messagesAfterClose += 1;
      }
      self.messages.push(event.data);
      self.wake();
    };
    this.sock.onclose = function (event) {
      self.closed = { code: event.code, reason: event.reason, wasClean: event.wasClean, afterOpen: self.opened };
      self.wake();
    };
    clients.push(this);
  }

  Client.prototype.describe = function () {
    return JSON.stringify({
      url: this.url,
      transport: this.transport,
      opened: this.opened,
      received: this.messages.length,
      last: this.messages.length ? preview(this.messages[this.messages.length - 1]) : null,
      closed: this.closed,
    });
  };

  Client.prototype.wake = function () {
    this.waiters = this.waiters.filter(function (waiter) { return !waiter(); });
  };

  // Resolves when predicate() is truthy. Rejects after timeoutMs, or as soon
  // as the connection closes unless closeOk.
  Client.prototype.until = function (what, predicate, opts) {
    var self = this;
    opts = opts || {};
    var timeoutMs = opts.timeoutMs || DEFAULT_TIMEOUT_MS;
    return new Promise(function (resolve, reject) {
      var timer = null;
      var waiter = function () {
        var value;
        try {
          value = predicate();
        } catch (error) {
          clearTimeout(timer);
          reject(error);
          return true;
        }
        if (value) {
          clearTimeout(timer);
          resolve(value);
          return true;
        }
        if (self.closed && !opts.closeOk) {
          clearTimeout(timer);
          reject(new Error('connection closed while waiting for ' + what + ': ' + self.describe()));
          return true;
        }
        return false;
      };
      if (waiter()) {
        return;
      }
      timer = setTimeout(function () {
        self.waiters = self.waiters.filter(function (w) { return w !== waiter; });
        reject(new Error('timed out after ' + timeoutMs + ' ms waiting for ' + what + ': ' + self.describe()));
      }, timeoutMs);
      self.waiters.push(waiter);
    });
  };

  Client.prototype.opens = function (opts) {
    var self = this;
    return this.until('onopen', function () { return self.opened; }, opts).then(function () { return self; });
  };

  Client.prototype.receives = function (count, opts) {
    var self = this;
    return this.until(count + ' message(s)', function () { return self.messages.length >= count; }, opts)
      .then(function () { return self.messages; });
  };

  // Resolves once `text` arrived at or after index `from` of the messages.
  Client.prototype.receivesMessage = function (text, opts) {
    var self = this;
    var from = (opts && opts.from) || 0;
    var scanned = from;
    return this.until('message ' + preview(text), function () {
      for (; scanned < self.messages.length; scanned++) {
        if (self.messages[scanned] === text) {
          return true;
        }
      }
      return false;
    }, opts).then(function () { return self.messages; });
  };

  Client.prototype.closes = function (opts) {
    var self = this;
    var options = Object.assign({}, opts || {}, { closeOk: true });
    return this.until('onclose', function () { return self.closed; }, options);
  };

  Client.prototype.send = function (message) {
    this.sock.send(message);
  };

  Client.prototype.close = function (code, reason) {
    this.sock.close(code, reason);
  };

  // A readable account of the differences between two lists of strings.
  function compare(expected, actual) {
    var problems = [];
    if (expected.length !== actual.length) {
      problems.push('expected ' + expected.length + ' messages, got ' + actual.length);
    }
    var n = Math.min(expected.length, actual.length);
    for (var i = 0; i < n && problems.length < 20; i++) {
      if (expected[i] !== actual[i]) {
        problems.push('message ' + i + ': ' + diff(expected[i], actual[i]));
      }
    }
    return problems;
  }

  function hex(text, at) {
    var out = [];
    for (var i = at; i < Math.min(text.length, at + 8); i++) {
      out.push('U+' + ('0000' + text.charCodeAt(i).toString(16).toUpperCase()).slice(-4));
    }
    return out.join(' ') || '(end)';
  }

  function diff(expected, actual) {
    if (typeof actual !== 'string') {
      return 'expected a string, got ' + typeof actual;
    }
    var i = 0;
    while (i < expected.length && i < actual.length && expected.charCodeAt(i) === actual.charCodeAt(i)) {
      i++;
    }
    return 'expected length ' + expected.length + ', got length ' + actual.length +
      '; first difference at code unit ' + i + ': expected ' + hex(expected, i) + ', got ' + hex(actual, i);
  }

  window.E2E = {
    connect: function (url, options) { return new Client(url, options); },
    clients: function () { return clients; },
    // Close every connection a test left open (called between tests).
    closeAll: function () {
      var open = clients.filter(function (c) { return !c.closed; });
      clients = [];
      open.forEach(function (c) { c.close(); });
      return Promise.all(open.map(function (c) {
        return c.closes({ timeoutMs: 5000 }).catch(function () { return null; });
      })).then(function () { return open.length; });
    },
    compare: compare,
    preview: preview,
  };
})();
