// Benchmark workload (not a test): a "WebSocket-style broadcast" on 127.0.0.1 for
// tracker_memory.sh. A net server accepts CLIENTS clients — opened by this same process, loopback
// only — and broadcasts a message every MESSAGE_MS ms to every connected socket with
// socket.write(), never looking at write()'s return value or at writableLength (the classic chat /
// ticker server). Each client gets its own frame (a 12-byte header with its id and sequence
// number, then the 4–16 KiB payload), as a server that frames or personalises per client does, so
// a slow client's backlog is memory of its own (Buffers: external / arrayBuffers; the queued write
// entries: heap). Most clients read everything at once; SLOW_RATES.length of them read slowly
// (pause, then resume after a delay that limits them to a byte rate) or not at all, so the
// server-side sockets' write buffers grow.
//
// Bounded:
//   - MESSAGES messages (default 2400, one per 2.5 ms: 6 s), or BROADCAST_SECONDS (default 6)
//     of broadcasting, whichever comes first; a late timer catches up by at most 8 messages;
//   - a socket whose writableLength passes SOCKET_CAP (32 MiB) gets no more messages; all
//     broadcasting stops if the sum passes TOTAL_CAP (192 MiB). With the defaults ~100–150 MiB sit
//     in the buffers at the end, and the process stays under ~300 MiB rss;
//   - then every client reads at full speed for at most 1.5 s (drain), everything is closed and
//     the process exits by itself; a 15 s watchdog exits (code 3) if anything hangs.
// Prints one line on stdout at the end:
//   broadcast {"clients":…,"slow":…,"messages":…,"bytes_queued":…,"peak_buffered":…,
//              "capped_sockets":…,"skipped_writes":…,"broadcast_ms":…,"drained":…,"wall_ms":…}
// bytes_queued: bytes handed to socket.write() in all; peak_buffered: the largest sum of the
// server sockets' writableLength seen (sampled at every broadcast tick).
//
// Usage: node tests/bench/broadcast.js   (env: BROADCAST_CLIENTS, BROADCAST_MESSAGES,
//        BROADCAST_SECONDS override the defaults)
'use strict';
const net = require('net');

const KiB = 1024;
const MiB = 1024 * KiB;
const CLIENTS = Math.max(8, +(process.env.BROADCAST_CLIENTS || 16));
const MESSAGES = Math.max(1, +(process.env.BROADCAST_MESSAGES || 2400));
const BROADCAST_MS = Math.min(20, Math.max(1, +(process.env.BROADCAST_SECONDS || 6))) * 1000;
const MESSAGE_MS = 2.5;        // one message every 2.5 ms (400/s)
const TICK_MS = 5;             // timer period; each tick sends what is due, at most MAX_BURST
const MAX_BURST = 8;
const MIN_BYTES = 4 * KiB;
const MAX_BYTES = 16 * KiB;
const HEADER_BYTES = 12;
const SOCKET_CAP = 32 * MiB;
const TOTAL_CAP = 192 * MiB;
const DRAIN_MS = 1500;
const WATCHDOG_MS = 15000;
// Read rates of the slow clients in bytes/s; 0: never reads until the drain phase.
const SLOW_RATES = [0, 0, 100e3, 250e3, 500e3, 1e6];

const started = Date.now();
const watchdog = setTimeout(() => {
  process.stderr.write('broadcast: watchdog fired, exiting\n');
  process.exit(3);
}, WATCHDOG_MS);
watchdog.unref();

// The payload: JSON-looking text, built once; message i sends its first size(i) bytes.
const PAYLOAD = Buffer.alloc(MAX_BYTES, '{"type":"tick","symbol":"TDMK","price":1234.5678,"qty":42},');
const sizeOf = (i) => MIN_BYTES + ((i * 4099) % (MAX_BYTES - MIN_BYTES + 1));

// --- server ---
const conns = [];  // server-side sockets, in accept order
let messages = 0;
let bytesQueued = 0;
let peakBuffered = 0;
let skippedWrites = 0;
const capped = new Set();

function frameFor(id, seq, size) {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + size);
  frame[0] = 0x82;                     // FIN + binary, as a WebSocket frame starts
  frame[1] = 126;                      // 16-bit extended length follows
  frame.writeUInt16BE(size + 8, 2);
  frame.writeUInt32BE(id, 4);          // per client: its id and its sequence number
  frame.writeUInt32BE(seq, 8);
  PAYLOAD.copy(frame, HEADER_BYTES, 0, size);
  return frame;
}

function broadcastOne() {
  const size = sizeOf(messages);
  for (let id = 0; id < conns.length; id++) {
    const s = conns[id];
    if (s.destroyed) continue;
    if (s.writableLength > SOCKET_CAP) { capped.add(id); skippedWrites++; continue; }
    s.write(frameFor(id, messages, size));  // return value ignored: that is the workload
    bytesQueued += HEADER_BYTES + size;
  }
  messages++;
}

function bufferedNow() {
  let sum = 0;
  for (const s of conns) sum += s.writableLength;
  return sum;
}

const server = net.createServer((socket) => {
  socket.on('error', () => {});
  conns.push(socket);
  if (conns.length === CLIENTS) startBroadcast();
});

// --- clients (same process, loopback) ---
const clients = [];  // { socket, rate, timer, received }

function startClient(port, index) {
  const slowIndex = index - (CLIENTS - SLOW_RATES.length);
  const rate = slowIndex >= 0 ? SLOW_RATES[slowIndex] : Infinity;
  const c = { socket: net.connect({ host: '127.0.0.1', port }), rate, timer: null, received: 0 };
  c.socket.on('error', () => {});
  if (rate === 0) {
    c.socket.pause();  // reads nothing until the drain phase
  } else if (rate === Infinity) {
    c.socket.on('data', (chunk) => { c.received += chunk.length; });
  } else {
    c.socket.on('data', (chunk) => {
      c.received += chunk.length;
      if (c.rate === Infinity) return;
      c.socket.pause();
      c.timer = setTimeout(() => { c.timer = null; c.socket.resume(); }, (chunk.length / c.rate) * 1000);
    });
  }
  clients.push(c);
}

let broadcastStarted = 0;
let broadcastMs = 0;
function startBroadcast() {
  broadcastStarted = Date.now();
  const tick = setInterval(() => {
    const elapsed = Date.now() - broadcastStarted;
    const due = Math.min(MESSAGES, Math.floor(elapsed / MESSAGE_MS) + 1);
    for (let n = 0; n < MAX_BURST && messages < due; n++) broadcastOne();
    const buffered = bufferedNow();
    if (buffered > peakBuffered) peakBuffered = buffered;
    if (messages >= MESSAGES || elapsed >= BROADCAST_MS || buffered > TOTAL_CAP) {
      clearInterval(tick);
      broadcastMs = Date.now() - broadcastStarted;
      drain();
    }
  }, TICK_MS);
}

function drain() {
  for (const c of clients) {
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
    c.rate = Infinity;
    if (c.socket.listenerCount('data') === 0) c.socket.on('data', (chunk) => { c.received += chunk.length; });
    c.socket.resume();
  }
  const drainStarted = Date.now();
  const check = setInterval(() => {
    const buffered = bufferedNow();
    if (buffered === 0 || Date.now() - drainStarted >= DRAIN_MS) {
      clearInterval(check);
      finish(buffered === 0);
    }
  }, 20);
}

function finish(drained) {
  for (const s of conns) s.destroy();
  for (const c of clients) c.socket.destroy();
  server.close();
  process.stdout.write('broadcast ' + JSON.stringify({
    clients: CLIENTS,
    slow: SLOW_RATES.length,
    messages,
    bytes_queued: bytesQueued,
    peak_buffered: peakBuffered,
    capped_sockets: capped.size,
    skipped_writes: skippedWrites,
    broadcast_ms: broadcastMs,
    drained,
    wall_ms: Date.now() - started,
  }) + '\n', () => process.exit(0));
}

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  for (let i = 0; i < CLIENTS; i++) startClient(port, i);
});
