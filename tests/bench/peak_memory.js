// Benchmark helper (not a test), preloaded so that any app can be measured unchanged:
//   node -r ./tests/bench/peak_memory.js app.js
//   NODE_OPTIONS="--require /abs/path/tests/bench/peak_memory.js" node app.js
// Samples process.memoryUsage() every PEAK_MEMORY_INTERVAL_MS (default 20) ms on an unref'd timer
// (it never keeps the process alive) and once more at 'exit', then writes one line to stderr:
//   peak_memory {"pid":…,"script":…,"samples":…,"wall_ms":…,"rss":…,"heapTotal":…,"heapUsed":…,
//                "external":…,"arrayBuffers":…,"vmhwm":…,"vmrss_exit":…}
// All values in bytes: the peaks of the sampled fields, and the kernel's VmHWM (peak resident set
// over the whole life of the process, so also between samples) and VmRSS from /proc/self/status
// at exit (null where /proc is missing). With PEAK_MEMORY_FILE set, the line is appended to that
// file instead. Node children inherit NODE_OPTIONS and print their own line (pid and script tell
// them apart).
'use strict';
const fs = require('fs');

const intervalMs = Math.max(1, +(process.env.PEAK_MEMORY_INTERVAL_MS || 20));
const started = Date.now();
const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
let samples = 0;

function sample() {
  const m = process.memoryUsage();
  samples++;
  for (const k in peak) if (m[k] > peak[k]) peak[k] = m[k];
}

function procStatusBytes(field) {
  try {
    const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s*(\\d+) kB`, 'm'));
    return m ? +m[1] * 1024 : null;
  } catch {
    return null;
  }
}

sample();
setInterval(sample, intervalMs).unref();

process.on('exit', () => {
  sample();
  const line = 'peak_memory ' + JSON.stringify({
    pid: process.pid,
    script: process.argv[1] || null,
    samples,
    wall_ms: Date.now() - started,
    ...peak,
    vmhwm: procStatusBytes('VmHWM'),
    vmrss_exit: procStatusBytes('VmRSS'),
  }) + '\n';
  try {
    if (process.env.PEAK_MEMORY_FILE) fs.appendFileSync(process.env.PEAK_MEMORY_FILE, line);
    else fs.writeSync(2, line);
  } catch {
    // stderr closed or the file unwritable: nothing sensible left to do at exit
  }
});
