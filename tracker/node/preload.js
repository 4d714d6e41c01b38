// tidemark tracker preload (`node -r preload.js`, or NODE_OPTIONS="--require preload.js"): decides
// whether this JS thread is tracked (TIDEMARK_SOCKET set, claim rule, not a package manager),
// connects the addon (tidemark_node.node) and installs the tracker (tracker.js: stream hooks,
// aggregates, sampling). Runs on the main thread and again in every worker thread (node applies
// preloads there too); each thread gets its own connection, tagged with its threadId.
// Everything is wrapped in try/catch: the app must never notice.
'use strict';

// Entry scripts of package managers and launchers (basename of process.argv[1]).
const LAUNCHERS = new Set(['npm', 'npm-cli.js', 'npx', 'npx-cli.js', 'yarn', 'yarn.js', 'yarn.cjs',
  'yarnpkg', 'pnpm', 'pnpm.cjs', 'pnpm.mjs', 'pnpx', 'corepack', 'corepack.cjs']);

// `tidemark run --native` runs node with --perf-basic-prof (docs/NATIVE.md), with which V8 also
// opens isolate-0x…-PID-v8.log in the working directory, one per isolate (worker threads too).
// tidemark needs only /tmp/perf-PID.map: the log is unlinked (V8 writes on into the unlinked file).
function removeIsolateLogs() {
  try {
    const fs = require('fs');
    const pattern = new RegExp(`^isolate-0x[0-9a-f]+-${process.pid}-v8\\.log$`);
    for (const name of fs.readdirSync('.')) if (pattern.test(name)) fs.unlinkSync(name);
  } catch (_) { /* an unreadable directory: the log stays */ }
}

(function tidemarkPreload() {
  try {
    const env = process.env;
    if (!env.TIDEMARK_SOCKET) return;
    // Before any rule that leaves this process untracked: a child the claim rule skips (a node
    // the tracked program spawns) inherits --perf-basic-prof through NODE_OPTIONS and opens a log too.
    if (env.TIDEMARK_NATIVE) removeIsolateLogs();
    const loaded = Symbol.for('tidemark.tracker');
    if (process[loaded]) return;  // preloaded twice (-r and NODE_OPTIONS)
    Object.defineProperty(process, loaded, { value: true });
    // node 20 wraps process.chdir on the main thread only; loading worker_threads costs ~8 ms, so
    // the main thread is recognised by that first.
    const chdirName = typeof process.chdir === 'function' ? process.chdir.name : '';
    const threadId = chdirName === 'wrappedChdir' ? 0 : require('worker_threads').threadId;
    if (env.TIDEMARK_FOLLOW_CHILDREN !== '1') {
      // A package manager (`tidemark run -- npm start`) is not the program the user means: it
      // neither claims nor is tracked, so the first node process it starts is.
      const main = require('path').basename(process.argv[1] || '');
      if (LAUNCHERS.has(main)) return;
      const claimed = env.TIDEMARK_CLAIMED_PID;
      if (claimed && claimed !== String(process.pid)) return;  // an ancestor owns tracking
      if (threadId === 0) env.TIDEMARK_CLAIMED_PID = String(process.pid);
    }
    if (threadId !== 0 && env.TIDEMARK_WORKERS === '0') return;
    const path = require('path');
    const addon = require(path.join(__dirname, 'tidemark_node.node'));
    let interval = Number.parseInt(env.TIDEMARK_INTERVAL_MS || '100', 10);
    if (!(interval >= 10 && interval <= 60000)) interval = 100;
    const queueBytes = Number.parseInt(env.TIDEMARK_QUEUE_BYTES || '0', 10) || 0;  // 0: default 8 MiB
    if (!addon.start(env.TIDEMARK_SOCKET, interval, process.version, queueBytes, threadId)) return;
    require(path.join(__dirname, 'tracker.js')).install(addon, interval, threadId);
  } catch (_) { /* never break the app */ }
})();
