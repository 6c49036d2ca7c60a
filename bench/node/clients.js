// The clients of bench/node/loadgen.js: just enough SockJS over WebSocket,
// xhr-streaming and xhr-polling, plus the small helpers that open many.
//
//   Ws          a SockJS websocket on npm `ws`: data frames in, heartbeats skipped
//   LeanWs      the same on a bare net socket, much cheaper for the generator (the default)
//   HttpConn    one keep-alive HTTP/1.1 connection, requests sent as prebuilt bytes
//   NodeConn    the same interface on Node's http with a keep-alive Agent
//   XhrStream   an xhr_streaming response split into frames, re-opened when the server ends it
'use strict';

const crypto = require('crypto');
const http = require('http');
const net = require('net');
const WebSocket = require('ws');

const HOST = '127.0.0.1';
const TIMEOUT_MS = 10000; // one handshake or one answer
const MAX_HEAD = 65536;
const H = 0x68; // "h": a SockJS heartbeat, and the xhr-streaming prelude's letter
const EMPTY = Buffer.alloc(0);

// The lean clients read into this one buffer (net's `onread`: no stream, no
// Buffer per read); each read is parsed at once and what is left over copied.
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

function connectLean(port, feed) {
    return net.connect({
        port, host: HOST, noDelay: true,
        onread: { buffer: READ_BUFFER, callback: (n, buf) => { feed(buf.subarray(0, n)); } },
    });
}

/** Run fn(i, worker) for i < count, at most `concurrency` at a time; the results in order. */
async function pool(count, concurrency, fn) {
    const results = new Array(count);
    let next = 0;
    const worker = async (w) => {
        while (next < count) {
            const i = next++;
            results[i] = await fn(i, w);
        }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, (_, w) => worker(w)));
    return results;
}

/** `promise`, or a rejection after `ms`. */
function deadline(promise, ms, what) {
    let timer;
    const late = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// -- WebSocket on npm ws ------------------------------------------------------

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const WS_OPTIONS = {
    perMessageDeflate: false,
    skipUTF8Validation: true,
    // The same masking key on every frame (a server cannot tell): ws then
    // masks into one buffer and writes once, where a zero key costs a writev.
    generateMask: (mask) => MASK.copy(mask),
    handshakeTimeout: TIMEOUT_MS,
};
const SEND_TEXT = { binary: false };

/**
 * A client websocket. `onData(buffer)` gets each data frame but SockJS
 * heartbeats; `onEnd(why)` fires once when the connection goes away.
 * `heartbeats` counts "h" frames and pings (sockjs-node's heartbeat).
 */
class Ws {
    constructor(port, path) {
        this.ws = new WebSocket(`ws://${HOST}:${port}${path}`, WS_OPTIONS);
        this.onData = () => {};
        this.onEnd = () => {};
        this.heartbeats = 0;
        this.ended = null;
        this.ws.on('message', (data) => {
            if (data.length === 1 && data[0] === H) this.heartbeats++;
            else this.onData(data);
        });
        this.ws.on('ping', () => this.heartbeats++); // sockjs-node's websocket heartbeat (ws answers it)
        this.ws.on('error', (err) => this.end(err.message));
        this.ws.on('close', (code, reason) => this.end(`closed ${code} ${reason}`));
    }

    end(why) {
        if (this.ended !== null) return;
        this.ended = why;
        this.onEnd(why);
    }

    send(buffer) {
        this.ws.send(buffer, SEND_TEXT);
    }

    terminate() {
        this.ws.terminate();
    }

    /** Resolves once open: with `sockjs`, once the "o" frame came. */
    opened(sockjs) {
        return new Promise((resolve, reject) => {
            const ready = () => {
                this.onData = () => {};
                this.onEnd = () => {};
                resolve(this);
            };
            this.onEnd = (why) => reject(new Error(`before the open frame: ${why}`));
            if (!sockjs) {
                this.ws.once('open', ready);
                return;
            }
            this.onData = (data) => {
                if (data.length === 1 && data[0] === 0x6f) ready();
                else reject(new Error(`expected the open frame, got ${data.toString('latin1', 0, 40)}`));
            };
        });
    }

    /** The close handshake; the connection is cut after `waitMs` regardless. */
    close(waitMs = 2000) {
        this.onData = () => {};
        this.onEnd = () => {};
        if (this.ended !== null) return Promise.resolve();
        return new Promise((resolve) => {
            const timer = setTimeout(() => {
                this.ws.terminate();
                resolve();
            }, waitMs);
            this.ws.once('close', () => {
                clearTimeout(timer);
                resolve();
            });
            this.ws.close(1000);
        });
    }
}

// -- A lean websocket on net ---------------------------------------------------

const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const WS_ACCEPT = crypto.createHash('sha1').update(WS_KEY + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
const TEXT = 0x1, CLOSE = 0x8, PING = 0x9, PONG = 0xa;

/** A client frame: FIN, `opcode`, masked with MASK. */
function clientFrame(opcode, payload) {
    const n = payload.length;
    const offset = n < 126 ? 6 : n < 65536 ? 8 : 14;
    const frame = Buffer.allocUnsafe(offset + n);
    frame[0] = 0x80 | opcode;
    if (n < 126) {
        frame[1] = 0x80 | n;
    } else if (n < 65536) {
        frame[1] = 0x80 | 126;
        frame.writeUInt16BE(n, 2);
    } else {
        frame[1] = 0x80 | 127;
        frame.writeUInt32BE(0, 2);
        frame.writeUInt32BE(n, 6);
    }
    MASK.copy(frame, offset - 4);
    for (let i = 0; i < n; i++) frame[offset + i] = payload[i] ^ MASK[i & 3];
    return frame;
}

const CLOSE_FRAME = clientFrame(CLOSE, Buffer.from([0x03, 0xe8])); // 1000

/**
 * Ws's interface on a bare net socket: the upgrade request as bytes (its
 * Sec-WebSocket-Accept checked), a frame parser for unfragmented server
 * frames, pongs to pings, and prebuilt frames for a payload sent again and
 * again (send() keeps the last one). Measured against sockjs-node, the
 * generator's CPU per echo round trip was 10.8 us with it and 14.9 us with
 * ws, per broadcast delivery 9.4 against 11.1, per session opened 164
 * against 377 (ws's http.ClientRequest handshake): with ws, (a) would have
 * its generator near 80% of its core where the server saturates its own.
 */
class LeanWs {
    constructor(port, path) {
        this.sock = connectLean(port, (data) => this.feed(data));
        this.buf = EMPTY;
        this.upgraded = false;
        this.onData = () => {};
        this.onEnd = () => {};
        this.onOpen = null;
        this.heartbeats = 0;
        this.ended = null;
        this.lastPayload = null;
        this.lastFrame = null;
        this.sock.on('error', (err) => this.end(err.message));
        this.sock.on('close', () => this.end('connection closed'));
        this.sock.write(
            `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
    }

    end(why) {
        if (this.ended !== null) return;
        this.ended = why;
        this.sock.destroy();
        this.onEnd(why);
    }

    send(payload) {
        if (payload !== this.lastPayload) {
            this.lastPayload = payload;
            this.lastFrame = clientFrame(TEXT, payload);
        }
        this.sock.write(this.lastFrame);
    }

    feed(data) {
        let buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
        if (!this.upgraded) {
            const end = buf.indexOf('\r\n\r\n');
            if (end < 0) {
                this.buf = Buffer.from(buf);
                if (buf.length > MAX_HEAD) this.end('handshake head too long');
                return;
            }
            const head = buf.toString('latin1', 0, end);
            buf = buf.subarray(end + 4);
            if (!head.startsWith('HTTP/1.1 101')) return this.end(`handshake answered ${head.slice(9, 12)}`);
            if (!head.includes(WS_ACCEPT)) return this.end('wrong Sec-WebSocket-Accept');
            this.upgraded = true;
            if (this.onOpen) this.onOpen();
        }
        let at = 0;
        while (buf.length - at >= 2 && this.ended === null) {
            const b0 = buf[at];
            let length = buf[at + 1];
            let start = at + 2;
            if (length & 0x80) return this.end('a masked frame from the server');
            if (!(b0 & 0x80)) return this.end('a fragmented frame: not expected from these servers');
            if (length === 126) {
                if (buf.length - at < 4) break;
                length = buf.readUInt16BE(at + 2);
                start = at + 4;
            } else if (length === 127) {
                if (buf.length - at < 10) break;
                length = buf.readUInt32BE(at + 2) * 2 ** 32 + buf.readUInt32BE(at + 6);
                start = at + 10;
            }
            if (buf.length < start + length) break;
            const payload = buf.subarray(start, start + length);
            at = start + length;
            const opcode = b0 & 0x0f;
            if (opcode === TEXT || opcode === 0x2) {
                if (length === 1 && payload[0] === H) this.heartbeats++;
                else this.onData(payload);
            } else if (opcode === PING) { // sockjs-node's websocket heartbeat
                this.heartbeats++;
                this.sock.write(clientFrame(PONG, payload));
            } else if (opcode === CLOSE) {
                if (this.closing) this.closing();
                else this.sock.write(CLOSE_FRAME);
                return this.end(`closed ${length >= 2 ? payload.readUInt16BE(0) : ''} ${payload.toString('latin1', 2)}`);
            }
        }
        this.buf = at < buf.length ? Buffer.from(buf.subarray(at)) : EMPTY;
    }

    /** Resolves once open: with `sockjs`, once the "o" frame came. */
    opened(sockjs) {
        return new Promise((resolve, reject) => {
            const ready = () => {
                this.onData = () => {};
                this.onEnd = () => {};
                this.onOpen = null;
                resolve(this);
            };
            this.onEnd = (why) => reject(new Error(`before the open frame: ${why}`));
            if (!sockjs) {
                this.onOpen = ready;
                return;
            }
            this.onData = (data) => {
                if (data.length === 1 && data[0] === 0x6f) ready();
                else reject(new Error(`expected the open frame, got ${data.toString('latin1', 0, 40)}`));
            };
        });
    }

    terminate() {
        this.end('terminated');
    }

    /** Send a close frame, wait for the server's (at most `waitMs`), hang up. */
    close(waitMs = 2000) {
        this.onData = () => {};
        this.onEnd = () => {};
        if (this.ended !== null) return Promise.resolve();
        return new Promise((resolve) => {
            const timer = setTimeout(() => {
                this.end('closing timed out');
                resolve();
            }, waitMs);
            this.closing = () => {
                clearTimeout(timer);
                resolve();
            };
            this.onEnd = this.closing; // the server may hang up without its close frame
            this.sock.write(CLOSE_FRAME);
        });
    }
}

/** A websocket of either kind (`lean` or `ws`), resolved once open. */
function openWs(port, path, { sockjs = true, kind = 'lean' } = {}) {
    const ws = kind === 'ws' ? new Ws(port, path) : new LeanWs(port, path);
    return deadline(ws.opened(sockjs), TIMEOUT_MS, 'opening a websocket').catch((err) => {
        ws.terminate();
        throw err;
    });
}

// -- HTTP/1.1 -------------------------------------------------------------------

/** A POST to send again and again: its path and body, and the whole request as bytes. */
function postRequest(port, path, body = EMPTY) {
    const head =
        `POST ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nContent-Length: ${body.length}\r\n` +
        (body.length ? 'Content-Type: text/plain;charset=UTF-8\r\n' : '') + '\r\n';
    return { path, body, bytes: Buffer.concat([Buffer.from(head, 'latin1'), body]) };
}

const HEAD = 0, BODY = 1, CHUNK_SIZE = 2, CHUNK_DATA = 3, CHUNK_END = 4, TRAILER = 5;

/**
 * One keep-alive HTTP/1.1 connection, one request at a time:
 * request(req, {head(status), data(text), done(err, status, body)}). With
 * `data`, the body (Content-Length or chunked) goes there as it arrives
 * instead of to `done`; `head` sees the status first. The request goes out
 * as the prebuilt bytes of postRequest(); the parser knows the status line,
 * Content-Length, chunked and Connection: close, nothing more.
 */
class HttpConn {
    constructor(port) {
        this.port = port;
        this.sock = null;
        this.handlers = null;
    }

    connect() {
        const sock = connectLean(this.port, (data) => this.sock === sock && this.feed(data));
        sock.on('error', (err) => this.sock === sock && this.fail(err));
        sock.on('close', () => this.sock === sock && this.fail(new Error('connection closed')));
        this.sock = sock;
        this.buf = EMPTY;
        this.state = HEAD;
        this.closeAfter = false;
    }

    request(req, handlers) {
        if (this.sock === null || this.closeAfter) {
            if (this.sock) this.sock.destroy();
            this.connect();
        }
        this.handlers = handlers;
        this.body = '';
        this.sock.write(req.bytes);
    }

    fail(err) {
        const handlers = this.handlers;
        this.handlers = null;
        if (this.sock) this.sock.destroy();
        this.sock = null;
        if (handlers) handlers.done(err);
    }

    close() {
        this.handlers = null;
        if (this.sock) this.sock.destroy();
        this.sock = null;
    }

    complete() {
        const handlers = this.handlers;
        this.handlers = null;
        this.state = HEAD;
        if (handlers) handlers.done(null, this.status, this.body); // may send the next request
    }

    feed(data) {
        this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
        try {
            while (this.sock !== null && this.step());
        } catch (err) {
            this.fail(err);
        }
        if (this.buf.length) this.buf = Buffer.from(this.buf); // off the shared read buffer
    }

    deliver(text) {
        if (this.handlers && this.handlers.data) this.handlers.data(text);
        else this.body += text;
    }

    /** Parse what the buffer holds for the current state; false when it needs more bytes. */
    step() {
        const buf = this.buf;
        switch (this.state) {
            case HEAD: {
                const end = buf.indexOf('\r\n\r\n');
                if (end < 0) {
                    if (buf.length > MAX_HEAD) throw new Error('HTTP head too long');
                    return false;
                }
                const head = buf.toString('latin1', 0, end).toLowerCase();
                this.buf = buf.subarray(end + 4);
                this.status = Number(head.slice(9, 12));
                this.closeAfter = /\r\nconnection: *close/.test(head);
                const length = /\r\ncontent-length: *(\d+)/.exec(head);
                if (/\r\ntransfer-encoding: *chunked/.test(head)) this.state = CHUNK_SIZE;
                else if (length) [this.state, this.remaining] = [BODY, Number(length[1])];
                else if (this.status === 204 || this.status === 304) [this.state, this.remaining] = [BODY, 0];
                else throw new Error(`a ${this.status} answer with neither Content-Length nor chunked`);
                if (this.handlers && this.handlers.head) this.handlers.head(this.status);
                return true;
            }
            case BODY: {
                if (buf.length < this.remaining) return false;
                if (this.remaining) this.deliver(buf.toString('latin1', 0, this.remaining));
                this.buf = buf.subarray(this.remaining);
                this.complete();
                return true;
            }
            case CHUNK_SIZE: {
                const end = buf.indexOf('\r\n');
                if (end < 0) return false;
                this.remaining = parseInt(buf.toString('latin1', 0, end), 16);
                this.buf = buf.subarray(end + 2);
                this.state = this.remaining ? CHUNK_DATA : TRAILER;
                return true;
            }
            case CHUNK_DATA: {
                if (!buf.length) return false;
                const n = Math.min(this.remaining, buf.length);
                this.buf = buf.subarray(n);
                this.remaining -= n;
                if (!this.remaining) this.state = CHUNK_END;
                this.deliver(buf.toString('latin1', 0, n));
                return true;
            }
            case CHUNK_END: {
                if (buf.length < 2) return false;
                this.buf = buf.subarray(2);
                this.state = CHUNK_SIZE;
                return true;
            }
            case TRAILER: {
                const end = buf.indexOf('\r\n');
                if (end < 0) return false;
                this.buf = buf.subarray(end + 2);
                if (end === 0) this.complete();
                return true;
            }
        }
        return false;
    }
}

/** HttpConn's interface on Node's http client and a keep-alive Agent (--http node). */
class NodeConn {
    constructor(port, agent) {
        this.port = port;
        this.agent = agent;
        this.req = null;
    }

    request(req, handlers) {
        const headers = req.body.length ? { 'Content-Type': 'text/plain;charset=UTF-8' } : undefined;
        let finished = false;
        const done = (err, status, body) => {
            if (finished) return;
            finished = true;
            handlers.done(err, status, body);
        };
        this.req = http.request({ host: HOST, port: this.port, method: 'POST', path: req.path, agent: this.agent, headers }, (res) => {
            let body = '';
            res.setEncoding('latin1');
            if (handlers.head) handlers.head(res.statusCode);
            res.on('data', handlers.data || ((text) => { body += text; }));
            res.on('end', () => done(null, res.statusCode, body));
            res.on('error', done);
        });
        this.req.on('error', done);
        this.req.end(req.body);
    }

    close() {
        if (this.req) this.req.destroy();
    }
}

/** A connection maker: `--http lean` (HttpConn) or `--http node` (NodeConn on one keep-alive Agent). */
function connector(port, kind) {
    if (kind === 'lean') return () => new HttpConn(port);
    if (kind !== 'node') throw new Error(`--http is lean or node, not ${kind}`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
    return () => new NodeConn(port, agent);
}

// -- xhr-streaming --------------------------------------------------------------

/**
 * The receiving side of an xhr-streaming session: POST .../xhr_streaming on
 * its own connection, split the answer into frames (the prelude and "h"
 * skipped) for `onFrame(line)`. When the server ends the answer (its
 * response_limit) the stream is opened again and counted in `reopens`.
 */
class XhrStream {
    constructor(conn, port, url) {
        this.conn = conn;
        this.req = postRequest(port, url + '/xhr_streaming');
        this.onFrame = () => {};
        this.onEnd = () => {};
        this.pending = '';
        this.reopens = 0;
        this.closed = false;
        this.handlers = {
            head: (status) => status !== 200 && this.fail(`xhr_streaming answered ${status}`),
            data: (text) => this.feed(text),
            done: (err) => {
                if (this.closed) return;
                if (err) return this.fail(err.message);
                this.reopens++;
                this.conn.request(this.req, this.handlers);
            },
        };
        this.conn.request(this.req, this.handlers);
    }

    feed(text) {
        if (this.pending) text = this.pending + text;
        let start = 0;
        for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
            if (end > start && text.charCodeAt(start) !== H) this.onFrame(text.slice(start, end));
            start = end + 1;
        }
        this.pending = start < text.length ? text.slice(start) : '';
    }

    fail(why) {
        if (this.closed) return;
        this.close();
        this.onEnd(why);
    }

    /** Resolves on the "o" frame. */
    opened() {
        return new Promise((resolve, reject) => {
            this.onEnd = (why) => reject(new Error(`before the open frame: ${why}`));
            this.onFrame = (line) => {
                this.onFrame = () => {};
                this.onEnd = () => {};
                if (line === 'o') resolve(this);
                else reject(new Error(`expected the open frame, got ${line.slice(0, 40)}`));
            };
        });
    }

    close() {
        this.closed = true;
        this.conn.close();
    }
}

function openStream(conn, port, url) {
    const stream = new XhrStream(conn, port, url);
    return deadline(stream.opened(), TIMEOUT_MS, 'opening an xhr stream').catch((err) => {
        stream.close();
        throw err;
    });
}

/** One request on `conn`, as a promise of [status, body]. */
function send(conn, req) {
    return new Promise((resolve, reject) => {
        conn.request(req, { done: (err, status, body) => (err ? reject(err) : resolve([status, body])) });
    });
}

module.exports = {
    HOST, TIMEOUT_MS, pool, deadline, openWs, postRequest, HttpConn, connector, openStream, send,
};
