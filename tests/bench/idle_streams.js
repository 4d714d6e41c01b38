// Benchmark workload: creates N live idle streams (default 10,000: Readables, Writables and
// PassThroughs in equal parts), then idles for S seconds (default 10) and prints one JSON line:
// CPU time (user+sys µs) spent while idling, wall time of the idle window, creation cost, and the
// process's CPU and wall time so far (total_cpu_us, uptime_us: from process start, startup included).
// Usage: node idle_streams.js [N] [SECONDS]
const { Readable, Writable, PassThrough } = require('stream');
const n = +process.argv[2] || 10000;
const seconds = +process.argv[3] || 10;
const keep = [];
const c0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const k = i % 3;
  keep.push(k === 0 ? new Readable({ read() {} }) : k === 1 ? new Writable({ write(c, e, cb) { cb(); } }) : new PassThrough());
}
const createUs = Number(process.hrtime.bigint() - t0) / 1e3;
// Let creation-time work (first samples of every new stream) settle before measuring.
setTimeout(() => {
  const c1 = process.cpuUsage();
  const t1 = process.hrtime.bigint();
  setTimeout(() => {
    const c2 = process.cpuUsage(c1);
    const wallUs = Number(process.hrtime.bigint() - t1) / 1e3;
    const total = process.cpuUsage();
    console.log(JSON.stringify({ streams: keep.length, idle_cpu_us: c2.user + c2.system, idle_wall_us: wallUs,
      create_wall_us: createUs, create_cpu_us: (c1.user + c1.system) - (c0.user + c0.system),
      total_cpu_us: total.user + total.system, uptime_us: Math.round(performance.now() * 1e3) }));
  }, seconds * 1000);
}, 1000);
