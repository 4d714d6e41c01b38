// Benchmark workload (not a test): a plain node:http service on 127.0.0.1 for tracker_http.sh.
//   GET /json  JSON.stringify of a small object, res.end() — two streams per request
//              (IncomingMessage, ServerResponse)
//   GET /pipe  16 KiB in 4 chunks: Readable → Transform → res with stream.pipeline() — four
//              streams and one pipeline per request
// Optional "bad job" (--bad-job MS or BENCH_BAD_JOB_MS): every MS ms it writes 1 MiB in 64 KiB
// chunks to a slow Writable side store (drains 64 KiB per 20 ms) ignoring write()'s false, until
// --bad-job-mb MB (BENCH_BAD_JOB_MB, default 32, at most 64) have been written in total: memory
// stays bounded by that total, and the tracker has an ignored-backpressure finding to report.
// With --bad-job-cycle S (BENCH_BAD_JOB_CYCLE_S) the job is periodic instead: 3 s of writes every
// S s for as long as the service runs, its backlog bounded at 16 MiB (agent_long.sh uses it).
//
// Usage: node http_service.js [--port P | P] [--seconds S] [--bad-job MS] [--bad-job-mb MB] [--bad-job-cycle S]
//   port: argv, else BENCH_PORT, else 0 (the kernel picks one). Listens on 127.0.0.1 only.
//   --seconds S (BENCH_SECONDS, default 60): exits by itself after S s; SIGTERM/SIGINT end it sooner.
// Prints exactly two lines on stdout: `listening 127.0.0.1:PORT pid PID` once listening, and at
// exit one JSON line: requests served, wall and CPU time (user+sys µs, all threads), and the peaks
// of process.memoryUsage() (sampled every 50 ms and at exit; rss also from /proc VmHWM).
'use strict';
const http = require('http');
const fs = require('fs');
const { Readable, Transform, Writable, pipeline } = require('stream');

const flags = {};
const positional = [];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a.startsWith('--')) flags[a] = process.argv[++i];
  else positional.push(a);
}
function option(name, envName, fallback) {
  if (flags[name] !== undefined) return flags[name];
  if (process.env[envName] !== undefined && process.env[envName] !== '') return process.env[envName];
  return fallback;
}
const port = +(flags['--port'] ?? positional[0] ?? option('', 'BENCH_PORT', 0));
const seconds = +option('--seconds', 'BENCH_SECONDS', 60);
const badJobMs = +option('--bad-job', 'BENCH_BAD_JOB_MS', 0);
const badJobCycleS = +option('--bad-job-cycle', 'BENCH_BAD_JOB_CYCLE_S', 0);
const badJobBytes = Math.min(64, Math.max(1, +option('--bad-job-mb', 'BENCH_BAD_JOB_MB', 32))) * 1024 * 1024;
if (!Number.isInteger(port) || port < 0 || port > 65535 || !(seconds > 0) || !(badJobMs >= 0)) {
  process.stderr.write('usage: node http_service.js [--port P] [--seconds S] [--bad-job MS] [--bad-job-mb MB]\n');
  process.exit(2);
}

// --- routes ---
let requests = 0;
const PIPE_CHUNK = Buffer.alloc(4096, 'tidemark ');
const PIPE_CHUNKS = 4;
const PIPE_BYTES = PIPE_CHUNK.length * PIPE_CHUNKS;

function jsonRoute(req, res) {
  const body = JSON.stringify({
    id: requests, service: 'tidemark-bench', ok: true, at: Date.now(),
    tags: ['alpha', 'beta', 'gamma'], limits: { rss: 512, growth: 2 },
  });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function pipeRoute(req, res) {
  let sent = 0;
  const source = new Readable({
    read() { this.push(sent++ < PIPE_CHUNKS ? PIPE_CHUNK : null); },
  });
  let bytes = 0;
  const count = new Transform({
    transform(chunk, encoding, callback) { bytes += chunk.length; callback(null, chunk); },
  });
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': PIPE_BYTES });
  pipeline(source, count, res, (err) => { if (err && !res.destroyed) res.destroy(); });
}

// GET /memory: process.memoryUsage() after a full collection when node runs with --expose-gc
// (attach_cycles.sh compares the service's memory before and after its attach cycles).
function memoryRoute(req, res) {
  if (typeof global.gc === 'function') { global.gc(); global.gc(); }
  const body = JSON.stringify({ collected: typeof global.gc === 'function', ...process.memoryUsage() });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  requests++;
  if (req.url === '/json') jsonRoute(req, res);
  else if (req.url === '/pipe') pipeRoute(req, res);
  else if (req.url === '/memory') memoryRoute(req, res);
  else { res.writeHead(404, { 'content-length': 0 }); res.end(); }
});
server.on('clientError', (err, socket) => socket.destroy());

// --- the bad job: a slow side store written to regardless of write()'s false ---
class SlowSideStore extends Writable {
  constructor() { super({ highWaterMark: 16 * 1024 }); }
  _write(chunk, encoding, callback) { setTimeout(callback, 20); }
}
let badJobTimer = null;
let badJobWritten = 0;
let badJobFalse = 0;
if (badJobMs > 0 && badJobCycleS > 0) {
  // Periodic mode (--bad-job-cycle S): for the first 3 s of every S s, a tick every MS ms writes
  // 256 KiB ignoring false; the store drains ~3.2 MB/s, so each burst backs it up by several MiB.
  // Memory stays bounded by the backlog (no write while it is above 16 MiB), not by a total.
  const store = new SlowSideStore();
  const t0 = Date.now();
  badJobTimer = setInterval(() => {
    if (((Date.now() - t0) / 1000) % badJobCycleS >= 3) return;
    for (let i = 0; i < 4 && store.writableLength < 16 * 1024 * 1024; i++) {
      const chunk = Buffer.alloc(64 * 1024, i);
      badJobWritten += chunk.length;
      if (!store.write(chunk)) badJobFalse++;     // the bug: false is ignored, no 'drain' wait
    }
  }, badJobMs);
} else if (badJobMs > 0) {
  const store = new SlowSideStore();
  badJobTimer = setInterval(() => {
    for (let i = 0; i < 16 && badJobWritten < badJobBytes; i++) {
      const chunk = Buffer.alloc(64 * 1024, i);  // fresh memory: the buffered backlog is real
      badJobWritten += chunk.length;
      if (!store.write(chunk)) badJobFalse++;     // the bug: false is ignored, no 'drain' wait
    }
    if (badJobWritten >= badJobBytes) { clearInterval(badJobTimer); badJobTimer = null; }
  }, badJobMs);
}

// --- memory peaks ---
const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
function sample() {
  const m = process.memoryUsage();
  for (const k of Object.keys(peak)) if (m[k] > peak[k]) peak[k] = m[k];
}
const sampler = setInterval(sample, 50);
sample();

function vmHwmBytes() {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? +m[1] * 1024 : 0;
  } catch { return 0; }
}

// --- lifetime ---
const t0 = process.hrtime.bigint();
let stopping = false;
function stop(reason) {
  if (stopping) return;
  stopping = true;
  sample();
  const hwm = vmHwmBytes();
  if (hwm > peak.rss) peak.rss = hwm;
  const cpu = process.cpuUsage();
  clearInterval(sampler);
  if (badJobTimer) clearInterval(badJobTimer);
  server.close();
  server.closeAllConnections();
  process.stdout.write(JSON.stringify({
    reason, requests, wall_ms: Math.round(Number(process.hrtime.bigint() - t0) / 1e6),
    cpu_us: cpu.user + cpu.system, peak, vmhwm: hwm,
    bad_job: badJobMs > 0 ? { every_ms: badJobMs, written: badJobWritten, writes_after_false: badJobFalse } : null,
  }) + '\n');
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
setTimeout(() => stop('timeout'), seconds * 1000);

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening 127.0.0.1:${server.address().port} pid ${process.pid}\n`);
});
