// Benchmark workload (not a test) for tracker_instructions.sh: an in-process node:http server on
// 127.0.0.1 and a keep-alive client making N requests to ROUTE (/json or /pipe), 10 at a time, then
// exit. Four streams per request on /json (ClientRequest, IncomingMessage twice, ServerResponse).
// Usage: node inproc_http.js [N=5000] [ROUTE=/json]
'use strict';
const http = require('http');
const N = +process.argv[2] || 5000, C = 10, route = process.argv[3] || '/json';
const { Readable, Transform, pipeline } = require('stream');
const CHUNK = Buffer.alloc(4096, 97);
const srv = http.createServer((req, res) => {
  if (route === '/json') { const body = JSON.stringify({ ok: true, n: 1, items: [1, 2, 3], name: 'tidemark' });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); return; }
  let sent = 0;
  const source = new Readable({ read() { this.push(sent++ < 4 ? CHUNK : null); } });
  const count = new Transform({ transform(chunk, enc, cb) { cb(null, chunk); } });
  res.writeHead(200, { 'content-length': 16384 });
  pipeline(source, count, res, () => {});
});
srv.listen(0, '127.0.0.1', () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: C });
  let started = 0, done = 0;
  const go = () => {
    if (started >= N) return; started++;
    http.get({ host: '127.0.0.1', port: srv.address().port, path: route, agent }, (res) => {
      res.resume(); res.on('end', () => { if (++done === N) { agent.destroy(); srv.close(); } else go(); });
    });
  };
  for (let i = 0; i < C; i++) go();
});
