// tidemark tracker, attach entry: `tidemark attach PID` loads this file into a running node process
// through its inspector (Runtime.evaluate with the command-line API's require, on the main thread
// and in each worker thread running then), and calls attach(). It connects the addon to the
// agent's socket and installs the same tracker preload.js installs, in attached mode: when the
// agent closes the connection (the attach ended: duration, Ctrl-C, the agent died), the tracker
// undoes every change it made and closes the connection, so the process is left as it was and a
// later attach starts afresh.
// Returns a JSON string the agent reads: {"ok":true,"pid":N,"thread":T,"version":"v20…"} or
// {"ok":false,"error":"…"}. Never throws into the app.
'use strict';

const KEY = Symbol.for('tidemark.tracker');

exports.attach = function attach(socketPath, intervalMs, gcProbe) {
  try {
    const path = require('path');
    const addon = require(path.join(__dirname, 'tidemark_node.node'));
    const current = Object.getOwnPropertyDescriptor(process, KEY);
    if (current !== undefined && current.value === true)
      return JSON.stringify({ ok: false, error: 'the process is already tracked by `tidemark run` (its preload); attach is not needed' });
    if (current !== undefined) {
      // An earlier attach whose agent has gone but whose tracker has not yet noticed (it does at
      // its next tick): finish its detach now. One still connected is another live attach.
      if (addon.connected()) {
        return JSON.stringify({ ok: false, busy: true, error: 'the process is already tracked by another `tidemark attach` that is still running' });
      }
      try { current.value.tracker.uninstall(); } catch (_) { /* ignore */ }
      try { delete process[KEY]; } catch (_) { /* ignore */ }
    }
    // On a worker thread (reached through NodeWorker.sendMessageToWorker) the tracker connects on a
    // connection of its own, tagged with the thread's id, as `run` tracks workers.
    const threadId = require('worker_threads').threadId;
    let interval = Number(intervalMs);
    if (!(interval >= 10 && interval <= 60000)) interval = 100;
    if (!addon.start(String(socketPath), interval, process.version, 0, threadId))
      return JSON.stringify({ ok: false, error: 'the tracker could not connect to the agent socket' });
    const handle = { attachedAt: Date.now(), tracker: null };
    Object.defineProperty(process, KEY, { value: handle, configurable: true, enumerable: false });
    handle.tracker = require(path.join(__dirname, 'tracker.js')).install(addon, interval, threadId, {
      attached: true,
      gcProbe: gcProbe !== false,
      onUninstall() { delete process[KEY]; },
    });
    return JSON.stringify({ ok: true, pid: process.pid, thread: threadId, version: process.version });
  } catch (e) {
    try { delete process[KEY]; } catch (_) { /* ignore */ }
    return JSON.stringify({ ok: false, error: 'the tracker failed to load: ' + String(e && e.message || e) });
  }
};

// Called by `tidemark attach --existing` with the streams a heap walk (Runtime.queryObjects)
// found: returns how many it now tracks.
exports.adopt = function adopt(list) {
  try {
    const handle = Object.getOwnPropertyDescriptor(process, KEY);
    if (handle === undefined || handle.value === true || handle.value.tracker === null) return 0;
    return handle.value.tracker.adopt(list);
  } catch (_) {
    return 0;
  }
};
