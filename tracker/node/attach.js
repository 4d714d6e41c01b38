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

// Worker threads started while attached. An in-process inspector session on this thread (it opens
// no port) has NodeWorker announce each new worker without pausing it (waitForDebuggerOnStart
// false: a worker never waits on this thread). The worker is loaded once it is also online (its
// Worker object, from the 'worker_threads' diagnostics channel, says so): an evaluation that
// arrives during the worker's bootstrap would run inside node's own start-up code, where require()
// does not work yet. The same attach() is evaluated in it, following its own new workers in turn,
// and its session is detached once it answers. Workers announced while NodeWorker.enable is
// dispatched (before its reply: they were running already) are left to the agent, which reaches
// them itself through its inspector session, unless includeRunning (the ptrace route has no such
// session): then they are loaded here too, once enable has answered. Returns { stop(), running }
// (running: how many running workers were asked to load), or null if the inspector is unavailable.
function followNewWorkers(expression, includeRunning) {
  let inspector, dc;
  try { inspector = require('inspector'); dc = require('diagnostics_channel'); } catch (_) { return null; }
  if (typeof inspector.Session !== 'function' || typeof dc.channel !== 'function') return null;
  const session = new inspector.Session();
  session.connect();
  let enabled = false;
  let nextId = 1;
  const announced = new Map();  // threadId -> worker sessionId, announced and not yet online
  const waiting = [];           // WeakRefs of the Workers given an 'online' listener, for stop()
  const online = new Set();     // threadIds online before their announcement
  const pending = new Map();    // evaluation id -> worker sessionId
  const running = [];           // sessionIds of the workers running before enable answered
  const ignore = () => {};
  const MAX_WAITING = 1024;     // a worker seen on one side only (it failed to start) is forgotten
  function load(sessionId) {
    const id = nextId++;
    pending.set(id, sessionId);
    const message = JSON.stringify({ id, method: 'Runtime.evaluate',
      params: { expression, includeCommandLineAPI: true, returnByValue: true, silent: true } });
    session.post('NodeWorker.sendMessageToWorker', { sessionId, message }, ignore);
  }
  session.on('NodeWorker.attachedToWorker', (m) => {
    try {
      const sessionId = m.params.sessionId;
      // Running before the attach: the agent loads it, or this does once enable has answered.
      if (!enabled) {
        if (includeRunning === true && running.length < MAX_WAITING) running.push(sessionId);
        return;
      }
      // workerInfo.workerId is this session's own counter, not the thread's id: that is in the
      // title, "[worker N]" then the worker's name.
      const id = /^\[worker (\d+)\]/.exec(String(m.params.workerInfo.title));
      if (id === null) return;
      const thread = Number(id[1]);
      if (online.delete(thread)) return load(sessionId);
      if (announced.size >= MAX_WAITING) announced.clear();
      announced.set(thread, sessionId);
    } catch (_) { /* ignore */ }
  });
  session.on('NodeWorker.receivedMessageFromWorker', (m) => {
    try {
      const reply = JSON.parse(m.params.message);
      const sessionId = pending.get(reply.id);
      if (sessionId === undefined || sessionId !== m.params.sessionId) return;
      pending.delete(reply.id);
      session.post('NodeWorker.detach', { sessionId }, ignore);
    } catch (_) { /* ignore */ }
  });
  session.on('NodeWorker.detachedFromWorker', (m) => {
    try {
      const sessionId = m.params.sessionId;
      for (const [id, sid] of pending) if (sid === sessionId) pending.delete(id);
      for (const [thread, sid] of announced) if (sid === sessionId) announced.delete(thread);
    } catch (_) { /* ignore */ }
  });
  function onOnline() {
    try {
      const thread = this.threadId, sessionId = announced.get(thread);
      if (sessionId !== undefined) {
        announced.delete(thread);
        load(sessionId);
      } else {
        if (online.size >= MAX_WAITING) online.clear();
        online.add(thread);
      }
    } catch (_) { /* ignore */ }
  }
  const onWorker = (msg) => {
    try {
      if (!enabled) return;
      msg.worker.once('online', onOnline);
      if (waiting.length >= MAX_WAITING) waiting.splice(0, waiting.length >> 1);
      waiting.push(new WeakRef(msg.worker));  // weak: a worker the app dropped before it started is not kept
    } catch (_) { /* ignore */ }
  };
  const channel = dc.channel('worker_threads');
  let ok = false;
  session.post('NodeWorker.enable', { waitForDebuggerOnStart: false }, (err) => { ok = !err; });
  // The in-process dispatch is synchronous: the reply came before post returned.
  if (!ok) {
    try { session.disconnect(); } catch (_) { /* ignore */ }
    return null;
  }
  enabled = true;
  channel.subscribe(onWorker);
  for (const sessionId of running) load(sessionId);
  return {
    running: running.length,
    stop() {
      enabled = false;
      try { channel.unsubscribe(onWorker); } catch (_) { /* ignore */ }
      for (const ref of waiting) {  // the 'online' listeners of workers not yet online
        const w = ref.deref();
        if (w !== undefined) try { w.removeListener('online', onOnline); } catch (_) { /* ignore */ }
      }
      waiting.length = 0;
      announced.clear();
      online.clear();
      session.disconnect();  // detaches every worker session it still has open
    },
  };
}

// followWorkers: also load the tracker into every worker thread this thread starts from now on;
// runningWorkers: and into those running now (the ptrace route; the inspector route's agent
// reaches those itself).
exports.attach = function attach(socketPath, intervalMs, gcProbe, followWorkers, runningWorkers) {
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
        // This very attach reached it already: a worker started between the main thread's load
        // (which follows new workers from then on) and the agent's own round of the workers.
        if (current.value.socket === String(socketPath))
          return JSON.stringify({ ok: true, pid: process.pid, thread: require('worker_threads').threadId, version: process.version, already: true });
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
    if (!addon.start(String(socketPath), interval, process.version, 0, threadId)) {
      const why = typeof addon.startError === 'function' ? addon.startError() : '';
      return JSON.stringify({ ok: false, error: 'the tracker could not connect to the agent socket' + (why ? ' (' + why + ')' : '') });
    }
    const handle = { attachedAt: Date.now(), tracker: null, workers: null, socket: String(socketPath) };
    Object.defineProperty(process, KEY, { value: handle, configurable: true, enumerable: false });
    handle.tracker = require(path.join(__dirname, 'tracker.js')).install(addon, interval, threadId, {
      attached: true,
      gcProbe: gcProbe !== false,
      onUninstall() {
        if (handle.workers !== null) try { handle.workers.stop(); } catch (_) { /* ignore */ }
        handle.workers = null;
        delete process[KEY];
      },
    });
    if (followWorkers === true) {
      const expression = 'require(' + JSON.stringify(path.join(__dirname, 'attach.js')) + ').attach(' +
        JSON.stringify(String(socketPath)) + ', ' + interval + ', ' + (gcProbe !== false) + ', true)';
      try { handle.workers = followNewWorkers(expression, runningWorkers === true); } catch (_) { handle.workers = null; }
      // The tracker may have gone already (its first flush found the agent gone): then so does this.
      const now = Object.getOwnPropertyDescriptor(process, KEY);
      if (handle.workers !== null && (now === undefined || now.value !== handle)) {
        try { handle.workers.stop(); } catch (_) { /* ignore */ }
        handle.workers = null;
      }
    }
    return JSON.stringify({ ok: true, pid: process.pid, thread: threadId, version: process.version,
      followsWorkers: handle.workers !== null, runningWorkers: handle.workers !== null ? handle.workers.running : 0 });
  } catch (e) {
    try { delete process[KEY]; } catch (_) { /* ignore */ }
    return JSON.stringify({ ok: false, error: 'the tracker failed to load: ' + String(e && e.message || e) });
  }
};

// `tidemark attach --route ptrace --existing`: the heap walk the inspector route asks for over its
// WebSocket, made here through an in-process inspector session (no port; its calls are dispatched
// synchronously on this thread, which the walk pauses). The streams are those whose prototype chain
// holds Stream.prototype, as on the inspector route. Returns { adopted, pauseMs } (adopted -1 and
// error when the walk failed). Called after attach() in the same evaluation.
exports.adoptExisting = function adoptExisting() {
  let session = null;
  try {
    const inspector = require('inspector');
    session = new inspector.Session();
    session.connect();
    const post = (method, params) => {
      let out, err, done = false;
      session.post(method, params, (e, r) => { err = e; out = r; done = true; });
      if (!done) throw new Error(method + ' did not answer synchronously');
      if (err) throw err;
      return out;
    };
    const proto = post('Runtime.evaluate', { expression: "process.getBuiltinModule('stream').Stream.prototype",
      objectGroup: 'tidemark', silent: true });
    if (!proto.result || !proto.result.objectId) throw new Error('could not reach Stream.prototype');
    const t0 = process.hrtime.bigint();
    const found = post('Runtime.queryObjects', { prototypeObjectId: proto.result.objectId, objectGroup: 'tidemark' });
    const pauseMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (!found.objects || !found.objects.objectId) throw new Error('the heap walk returned no array');
    const adopted = post('Runtime.callFunctionOn', { objectId: found.objects.objectId,
      functionDeclaration: "function () { const h = process[Symbol.for('tidemark.tracker')]; return h && h.tracker ? h.tracker.adopt(this) : -1; }",
      returnByValue: true, silent: true });
    try { post('Runtime.releaseObjectGroup', { objectGroup: 'tidemark' }); } catch (_) { /* ignore */ }
    const n = adopted.result && typeof adopted.result.value === 'number' ? adopted.result.value : -1;
    return { adopted: n, pauseMs };
  } catch (e) {
    return { adopted: -1, pauseMs: 0, error: String(e && e.message || e) };
  } finally {
    if (session !== null) try { session.disconnect(); } catch (_) { /* ignore */ }
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
