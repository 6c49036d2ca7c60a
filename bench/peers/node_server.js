// sockjs-node 0.3.24 peer for bench/bench.py: SockJS /echo and /broadcast.
//
//   node bench/peers/node_server.js PORT     (0 picks a free port)
//
// Needs the sockjs package installed by bench/peers/install.sh; NODE_PATH (set
// by bench/bench.py) points at its node_modules. Default server options; only
// the per-request log lines are dropped. Prints
// "sockjs-node listening on http://127.0.0.1:PORT" when ready.
'use strict';

const http = require('http');
const sockjs = require('sockjs');

const port = parseInt(process.argv[2] || '0', 10);
const quiet = (severity, message) => {
    if (severity === 'error') console.error(message);
};

// /echo: every message goes back to its sender.
const echo = sockjs.createServer({ log: quiet });
echo.on('connection', (conn) => {
    conn.on('data', (message) => conn.write(message));
});

// /broadcast: every message goes to every open session of /broadcast.
const members = new Set();
const broadcast = sockjs.createServer({ log: quiet });
broadcast.on('connection', (conn) => {
    members.add(conn);
    conn.on('data', (message) => {
        for (const member of members) member.write(message);
    });
    conn.on('close', () => members.delete(conn));
});

const server = http.createServer((req, res) => {
    res.writeHead(404);
    res.end('Not found.\n');
});
echo.installHandlers(server, { prefix: '/echo' });
broadcast.installHandlers(server, { prefix: '/broadcast' });
server.listen(port, '127.0.0.1', () => {
    console.log(`sockjs-node listening on http://127.0.0.1:${server.address().port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
