// The plain-HTTP row's Node server for bench/bench.py: Node's own
// http.createServer answering "ok" (2 bytes) to any request, as the
// sockjs-gevent launcher's --app hello does.
//
//   node bench/node/hello_server.js PORT     (0 picks a free port)
//
// Prints "node-http listening on http://127.0.0.1:PORT" when ready.
'use strict';

const http = require('http');

const port = parseInt(process.argv[2] || '0', 10);
const headers = { 'Content-Type': 'text/plain', 'Content-Length': '2' };
const server = http.createServer((req, res) => {
    req.resume(); // a body, if any, is read and dropped
    res.writeHead(200, headers);
    res.end('ok');
});
server.listen(port, '127.0.0.1', 1024, () => {
    console.log(`node-http listening on http://127.0.0.1:${server.address().port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
