// Stream churn across macrotasks: create, write, end, drop PassThroughs in batches for 2 s.
const { PassThrough } = require('stream');
let n = 0; const t0 = Date.now(); const c0 = process.cpuUsage();
function batch() {
  for (let i = 0; i < 100; i++) { const p = new PassThrough(); p.on('data', () => {}); p.end('x'); n++; }
  if (Date.now() - t0 < 2000) setImmediate(batch);
  else { const c = process.cpuUsage(c0); console.log('streams', n, 'cpu_us_per_stream', ((c.user + c.system) / n).toFixed(2)); }
}
batch();
