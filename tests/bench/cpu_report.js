// Benchmark helper, preloaded with --require: prints the process's CPU time (user+sys µs, all
// threads, so the tracker's sender thread counts) to stderr at exit as "cpu_us=N".
'use strict';
process.on('exit', () => {
  const c = process.cpuUsage();
  process.stderr.write(`cpu_us=${c.user + c.system}\n`);
});
