// The load generator of bench/bench.py: drives one scenario against one
// SockJS server and prints one JSON result on stdout.
//
//   taskset -c 1 node bench/node/loadgen.js SCENARIO --port P --server-pid PID
//       [--sessions N] [--duration S] [--warmup S] [--concurrency N] [--hold S]
//       [--transport websocket|xhr_streaming] [--raw] [--ws lean|ws] [--http lean|node] [--clock-ticks 100]
//
// Scenarios (the letters are bench.py's):
//   ws-echo              (a) N websockets, one 64-byte message in flight each (--raw: no SockJS, path /)
//   broadcast            (b) N websockets on /broadcast; session 0 sends, one message in flight
//   ws-opens             (c) CONCURRENCY workers open websocket sessions back to back
//   xhr-streaming-opens  (c) the same over xhr-streaming
//   xhr-polling-echo     (d) N sessions: xhr_send, then xhr until the echo comes
//   xhr-streaming-echo   (d) N held xhr_streaming answers, each message by xhr_send
//   idle                 (e) server RSS before and after opening N idle sessions of --transport
//   hold                 (f) N idle websockets held --hold seconds, heartbeats counted
//
// Throughput scenarios measure --duration seconds after --warmup seconds
// (see measure.js: CPU of this process and of the server from /proc/PID/stat).
// Every answer is compared with what was sent; anything else is an error.
// WebSocket and HTTP go over the lean clients in clients.js unless --ws ws (npm ws)
// or --http node (Node's http with a keep-alive Agent): those cost the generator
// about twice the CPU per message, and serve to cross-check the lean ones.
'use strict';

const {
    TIMEOUT_MS, pool, deadline, openWs, postRequest, connector, openStream, send,
} = require('./clients');
const { CpuMeter, Window, now, rssKb, round, sleep } = require('./measure');

const MESSAGE = 'sockjs-gevent-bench-'.repeat(4).slice(0, 64);
const PAYLOAD = Buffer.from(JSON.stringify([MESSAGE])); // what a client sends: ["<64 chars>"]
const FRAME = 'a' + PAYLOAD.toString(); // what comes back: a["<64 chars>"]
const OPEN_TIMEOUT_MS = 180000; // opening 10,000 sessions on a slow server
const RUN = process.pid.toString(36); // in every session id: runs against one server never share a session

function parseArgs(argv) {
    const o = {
        scenario: argv[0], port: 0, serverPid: 0, sessions: 100, duration: 5, warmup: 1, concurrency: 50,
        hold: 30, transport: 'websocket', raw: false, ws: 'lean', http: 'lean', clockTicks: 100,
    };
    for (let i = 1; i < argv.length; i++) {
        const name = argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase());
        if (!(name in o) || name === 'scenario') throw new Error(`unknown option ${argv[i]}`);
        if (typeof o[name] === 'boolean') o[name] = true;
        else if (typeof o[name] === 'number') o[name] = Number(argv[++i]);
        else o[name] = argv[++i];
    }
    if (!SCENARIOS[o.scenario]) throw new Error(`unknown scenario ${o.scenario}; one of ${Object.keys(SCENARIOS)}`);
    if (!o.port) throw new Error('--port is required');
    o.connect = connector(o.port, o.http);
    return o;
}

/** Run the loops (promises) while the window is metered; a loop still stuck 2 timeouts later is an error. */
async function runLoops(win, loops) {
    const done = loops.map((loop) => loop.catch((err) => win.error(err)));
    await win.measure();
    try {
        await deadline(Promise.all(done), 2 * TIMEOUT_MS, 'the session loops');
    } catch (err) {
        win.error(err);
    }
}

// -- (a) websocket echo -------------------------------------------------------

async function wsEcho(o) {
    const path = o.raw ? () => '/' : (i) => `/echo/0/${RUN}ws${i}/websocket`;
    const out = o.raw ? Buffer.from(MESSAGE) : PAYLOAD;
    const expected = Buffer.from(o.raw ? MESSAGE : FRAME);
    const clients = await pool(o.sessions, 50, (i) => openWs(o.port, path(i), { sockjs: !o.raw, kind: o.ws }));
    const win = new Window(o);
    const loop = (ws) => new Promise((resolve, reject) => {
        let sent = 0;
        const next = () => {
            sent = now();
            if (sent >= win.end) resolve();
            else ws.send(out);
        };
        ws.onData = (data) => {
            const done = now();
            if (!data.equals(expected)) return reject(new Error(`unexpected echo ${data.toString('latin1', 0, 40)}`));
            win.add(sent, done);
            next();
        };
        ws.onEnd = (why) => reject(new Error(`echo: ${why}`));
        next();
    });
    await runLoops(win, clients.map(loop));
    await Promise.all(clients.map((ws) => ws.close(500)));
    return win.summary();
}

// -- (b) broadcast --------------------------------------------------------------

/**
 * Session 0 sends, every session (0 too) receives; the next message goes once
 * all have the previous one, or after TIMEOUT_MS (the missing deliveries
 * count as "lost"). Latency: from the send to each session's receipt.
 */
async function broadcast(o) {
    const n = o.sessions;
    const clients = await pool(n, 50, (i) => openWs(o.port, `/broadcast/0/${RUN}bc${i}/websocket`, { kind: o.ws }));
    await sleep(500); // every session has joined
    const win = new Window(o);
    const pad = MESSAGE.slice(8);
    const single = 3 + MESSAGE.length + 2; // a["<seq><pad>"]: one message in the frame
    let seq = -1;
    let sentAt = 0;
    let got = 0;
    let complete = null; // resolves the wait for the current message

    const delivered = (s, done) => {
        if (s !== seq) return win.count('stale (after its timeout)');
        win.add(sentAt, done);
        if (++got === n && complete) complete();
    };
    const receive = (data) => {
        const done = now();
        if (data.length === single && data[0] === 0x61) return delivered(Number(data.toString('latin1', 3, 11)), done);
        if (data[0] !== 0x61) return win.error(`unexpected frame ${data.toString('latin1', 0, 40)}`);
        const parts = data.toString('latin1').split('"'); // a["...","..."]: no quotes inside ours
        for (let k = 1; k < parts.length; k += 2) delivered(Number(parts[k].slice(0, 8)), done);
    };
    for (const ws of clients) {
        ws.onData = receive;
        ws.onEnd = (why) => win.error(`broadcast receiver: ${why}`);
    }

    const sender = async () => {
        while (now() < win.end) {
            seq++;
            got = 0;
            const all = new Promise((resolve) => { complete = resolve; });
            sentAt = now();
            clients[0].send(Buffer.from(JSON.stringify([String(seq).padStart(8, '0') + pad])));
            try {
                await deadline(all, TIMEOUT_MS, 'a broadcast');
            } catch (err) {
                win.count('lost', n - got);
            }
            complete = null;
        }
    };
    await runLoops(win, [sender()]);
    await Promise.all(clients.map((ws) => ws.close(500)));
    return win.summary();
}

// -- (c) sessions opened per second ---------------------------------------------

/** `concurrency` workers open sessions back to back: connect until "o", then close. */
async function sessionOpens(o, open) {
    const win = new Window(o);
    const worker = async (w) => {
        for (let i = 0; now() < win.end; i++) {
            const started = now();
            const session = await open(`${w}x${i}`);
            win.add(started, now());
            await session.close();
        }
    };
    await runLoops(win, Array.from({ length: o.concurrency }, (_, w) => worker(w)));
    return win.summary();
}

function wsOpens(o) {
    return sessionOpens(o, (tag) => openWs(o.port, `/echo/0/${RUN}wo${tag}/websocket`, { kind: o.ws }));
}

function xhrStreamingOpens(o) {
    return sessionOpens(o, (tag) => openStream(o.connect(), o.port, `/echo/0/${RUN}xo${tag}`));
}

// -- (d) xhr-polling and xhr-streaming echo -----------------------------------

/**
 * Per round trip, on one keep-alive connection per session: POST xhr_send,
 * then POST xhr until the echo comes. A session the server forgot shows as
 * 404 on xhr_send or as a new "o" on the poll: counted as "expired" and
 * opened again.
 */
async function xhrPollingEcho(o) {
    const expected = FRAME + '\n';
    const poll = async (conn, req) => {
        for (let k = 0; k < 100; k++) { // normally once: "h" comes only after 25 s
            const [status, body] = await send(conn, req);
            if (status !== 200) throw new Error(`xhr answered ${status}`);
            if (body !== 'h\n') return body;
        }
        throw new Error('only heartbeats');
    };
    const sessions = await pool(o.sessions, 50, async (i) => {
        const url = `/echo/0/${RUN}xp${i}`;
        const session = { conn: o.connect(), poll: postRequest(o.port, url + '/xhr'), send: postRequest(o.port, url + '/xhr_send', PAYLOAD) };
        const first = await poll(session.conn, session.poll);
        if (first !== 'o\n') throw new Error(`expected the open frame, got ${first.slice(0, 40)}`);
        return session;
    });
    const win = new Window(o);
    const loop = async ({ conn, poll: pollReq, send: sendReq }) => {
        while (now() < win.end) {
            const sent = now();
            const [status] = await send(conn, sendReq);
            if (status === 404) { // forgotten: open it again
                win.count('expired');
                if ((await poll(conn, pollReq)) !== 'o\n') throw new Error('no open frame after expiry');
                continue;
            }
            if (status !== 204) throw new Error(`xhr_send answered ${status}`);
            const answer = await poll(conn, pollReq);
            const done = now();
            if (answer === 'o\n') { // expired between send and poll: the message is lost
                win.count('expired');
                continue;
            }
            if (answer !== expected) throw new Error(`unexpected poll answer ${answer.slice(0, 40)}`);
            win.add(sent, done);
        }
    };
    await runLoops(win, sessions.map(loop));
    for (const session of sessions) session.conn.close();
    return win.summary();
}

/** A held xhr_streaming answer per session; each message goes by xhr_send on a second connection. */
async function xhrStreamingEcho(o) {
    const streams = await pool(o.sessions, 50, (i) => openStream(o.connect(), o.port, `/echo/0/${RUN}xs${i}`));
    const win = new Window(o);
    const senders = [];
    const loop = (stream, i) => new Promise((resolve, reject) => {
        const conn = o.connect();
        senders.push(conn);
        const req = postRequest(o.port, `/echo/0/${RUN}xs${i}/xhr_send`, PAYLOAD);
        let sent = 0;
        let waiting = 0; // halves of the round trip still missing: the 204 and the frame
        const half = () => {
            if (--waiting) return;
            win.add(sent, now());
            next();
        };
        const answered = {
            done: (err, status) => {
                if (err) return reject(err);
                if (status !== 204) return reject(new Error(`xhr_send answered ${status}`));
                half();
            },
        };
        const next = () => {
            sent = now();
            if (sent >= win.end) return resolve();
            waiting = 2;
            conn.request(req, answered);
        };
        stream.onFrame = (line) => {
            if (line !== FRAME || waiting === 0) return reject(new Error(`unexpected frame ${line.slice(0, 40)}`));
            half();
        };
        stream.onEnd = (why) => reject(new Error(`stream: ${why}`));
        next();
    });
    await runLoops(win, streams.map(loop));
    const result = win.summary();
    result.reopens = streams.reduce((sum, s) => sum + s.reopens, 0);
    for (const c of [...streams, ...senders]) c.close();
    return result;
}

// -- (e) and (f): idle sessions -----------------------------------------------

function tally(counter, key, n = 1) {
    counter[key] = (counter[key] || 0) + n;
}

/** Open `count` sessions 50 at a time; failures are tallied in `errors`, not raised. */
async function openTolerant(count, open, errors) {
    const attempt = (i) => open(i).catch((err) => {
        tally(errors, `open: ${err.message.slice(0, 80)}`);
        return null;
    });
    try {
        const opened = await deadline(pool(count, 50, attempt), OPEN_TIMEOUT_MS, 'opening the sessions');
        return opened.filter((s) => s !== null);
    } catch (err) {
        tally(errors, err.message);
        return [];
    }
}

/** How many websockets still echo a message (200 at a time). */
async function wsAlive(clients, errors) {
    const echoed = await pool(clients.length, 200, (i) => {
        const ws = clients[i];
        if (ws.ended !== null) return false;
        return deadline(new Promise((resolve) => {
            ws.onData = (data) => resolve(data.toString('latin1') === FRAME);
            ws.onEnd = () => resolve(false);
            ws.send(PAYLOAD);
        }), TIMEOUT_MS, 'an echo').catch((err) => {
            tally(errors, `echo: ${err.message}`);
            return false;
        });
    });
    return echoed.filter(Boolean).length;
}

/** How many xhr-streaming sessions still echo (their xhr_send on 50 keep-alive connections). */
async function xhrAlive(o, streams, urls, errors) {
    const conns = Array.from({ length: 50 }, () => o.connect());
    const echoed = await pool(streams.length, 50, (i, w) => deadline(new Promise((resolve, reject) => {
        let frame = null;
        let status = null;
        const both = () => frame !== null && status !== null && resolve(status === 204 && frame === FRAME);
        streams[i].onFrame = (line) => { frame = line; both(); };
        streams[i].onEnd = (why) => reject(new Error(`stream: ${why}`));
        conns[w].request(postRequest(o.port, urls[i] + '/xhr_send', PAYLOAD), {
            done: (err, s) => (err ? reject(err) : (status = s, both())),
        });
    }), TIMEOUT_MS, 'an echo').catch((err) => {
        tally(errors, `echo: ${err.message}`);
        return false;
    }));
    for (const conn of conns) conn.close();
    return echoed.filter(Boolean).length;
}

/** Server RSS before and after opening `sessions` idle sessions of `transport` (a fresh server). */
async function idle(o) {
    const errors = {};
    const ws = o.transport === 'websocket';
    if (!ws && o.transport !== 'xhr_streaming') throw new Error(`--transport websocket or xhr_streaming, not ${o.transport}`);
    const url = (tag, i) => `/echo/0/${RUN}${tag}${i}`;
    const open = (tag) => (i) => (ws ? openWs(o.port, url(tag, i) + '/websocket', { kind: o.ws }) : openStream(o.connect(), o.port, url(tag, i)));
    const close = (s) => (ws ? s.close(500) : s.close());
    const warm = await openTolerant(50, open('warm'), errors); // the first sessions' one-time allocations
    await Promise.all(warm.map(close));
    await sleep(500);
    const before = rssKb(o.serverPid);
    const cpu = new CpuMeter(o);
    cpu.start();
    const opened = await openTolerant(o.sessions, open('mem'), errors);
    cpu.stop();
    await sleep(1000);
    const after = rssKb(o.serverPid);
    let alive = 0;
    if (ws) alive = await wsAlive(opened, errors);
    else if (opened.length === o.sessions) alive = await xhrAlive(o, opened, opened.map((_, i) => url('mem', i)), errors);
    await Promise.all(opened.map(close));
    return {
        sessions: o.sessions,
        opened: opened.length,
        alive,
        rss_before_kb: before,
        rss_after_kb: after,
        kb_per_session: round((after - before) / Math.max(1, opened.length), 2),
        cpu_cores_opening: cpu.cores,
        errors,
        error_count: Object.values(errors).reduce((a, b) => a + b, 0),
    };
}

/** Hold `sessions` idle websockets `hold` seconds (past the 25 s heartbeat), then echo on each. */
async function hold(o) {
    const errors = {};
    const before = rssKb(o.serverPid);
    const started = now();
    const cpu = new CpuMeter(o);
    cpu.start();
    const clients = await openTolerant(o.sessions, (i) => openWs(o.port, `/echo/0/${RUN}hold${i}/websocket`, { kind: o.ws }), errors);
    cpu.stop();
    const openSeconds = (now() - started) / 1000;
    const closed = {};
    for (const ws of clients) {
        ws.onData = (data) => tally(closed, `unexpected frame: ${data.toString('latin1', 0, 40)}`);
        ws.onEnd = (why) => tally(closed, why.slice(0, 80));
    }
    await sleep(1000);
    const openedRss = rssKb(o.serverPid);
    await sleep(Math.max(0, o.hold - 1) * 1000);
    const heldRss = rssKb(o.serverPid);
    for (const [why, n] of Object.entries(closed)) tally(errors, why, n);
    const alive = await wsAlive(clients, errors);
    await Promise.all(clients.map((ws) => ws.close(1000)));
    return {
        sessions: o.sessions,
        opened: clients.length,
        open_seconds: round(openSeconds, 1),
        hold_s: o.hold,
        with_heartbeat: clients.filter((ws) => ws.heartbeats > 0).length,
        alive,
        rss_before_kb: before,
        rss_opened_kb: openedRss,
        rss_held_kb: heldRss,
        kb_per_session: round((heldRss - before) / Math.max(1, clients.length), 2),
        cpu_cores_opening: cpu.cores,
        errors,
        error_count: Object.values(errors).reduce((a, b) => a + b, 0),
    };
}

// -- Main -----------------------------------------------------------------------

const SCENARIOS = {
    'ws-echo': wsEcho,
    broadcast,
    'ws-opens': wsOpens,
    'xhr-streaming-opens': xhrStreamingOpens,
    'xhr-polling-echo': xhrPollingEcho,
    'xhr-streaming-echo': xhrStreamingEcho,
    idle,
    hold,
};

async function main() {
    const o = parseArgs(process.argv.slice(2));
    const result = await SCENARIOS[o.scenario](o);
    result.generator = { pid: process.pid, node: process.version, ws: require('ws/package.json').version, http: o.http };
    process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
    () => process.exit(0),
    (err) => {
        process.stdout.write(JSON.stringify({ failed: String(err && err.stack ? err.stack : err).slice(0, 400) }) + '\n');
        process.exit(1);
    },
);
