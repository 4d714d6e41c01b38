// tidemark tracker preload (`node -r preload.js`, or NODE_OPTIONS="--require preload.js"): sees
// every stream through EventEmitter.init, counts writes/pushes after false by wrapping a few
// prototype methods, samples process memory and stream state on an unref'd timer, and hands
// fixed-width numeric rows to the addon (tidemark_node.node), which encodes and sends them to
// the agent on TIDEMARK_SOCKET. Everything is wrapped in try/catch: the app must never notice.
// Row layout and the cost model are described in addon.cpp and README.md.
'use strict';

// Entry scripts of package managers and launchers (basename of process.argv[1]).
const LAUNCHERS = new Set(['npm', 'npm-cli.js', 'npx', 'npx-cli.js', 'yarn', 'yarn.js', 'yarn.cjs',
  'yarnpkg', 'pnpm', 'pnpm.cjs', 'pnpm.mjs', 'pnpx', 'corepack', 'corepack.cjs']);

(function tidemarkPreload() {
  try {
    const env = process.env;
    if (!env.TIDEMARK_SOCKET) return;
    // Blind spot: worker threads (preloads run there too). Loading worker_threads costs ~8 ms, so
    // the main thread is recognised by node 20's own chdir wrapper first.
    const chdirName = typeof process.chdir === 'function' ? process.chdir.name : '';
    if (chdirName !== 'wrappedChdir' && !require('worker_threads').isMainThread) return;
    const loaded = Symbol.for('tidemark.tracker');
    if (process[loaded]) return;  // preloaded twice (-r and NODE_OPTIONS)
    Object.defineProperty(process, loaded, { value: true });
    if (env.TIDEMARK_FOLLOW_CHILDREN !== '1') {
      // A package manager (`tidemark run -- npm start`) is not the program the user means: it
      // neither claims nor is tracked, so the first node process it starts is.
      const main = require('path').basename(process.argv[1] || '');
      if (LAUNCHERS.has(main)) return;
      const claimed = env.TIDEMARK_CLAIMED_PID;
      if (claimed && claimed !== String(process.pid)) return;  // an ancestor owns tracking
      env.TIDEMARK_CLAIMED_PID = String(process.pid);
    }
    const addon = require(require('path').join(__dirname, 'tidemark_node.node'));
    let interval = Number.parseInt(env.TIDEMARK_INTERVAL_MS || '100', 10);
    if (!(interval >= 10 && interval <= 60000)) interval = 100;
    const queueBytes = Number.parseInt(env.TIDEMARK_QUEUE_BYTES || '0', 10) || 0;  // 0: default 8 MiB
    if (!addon.start(env.TIDEMARK_SOCKET, interval, process.version, queueBytes)) return;
    install(addon, interval);
  } catch (_) { /* never break the app */ }

  function install(addon, intervalMs) {
    const { performance, monitorEventLoopDelay } = require('perf_hooks');
    const EE = require('events');
    const stream = require('stream');
    const { OutgoingMessage } = require('_http_outgoing');
    const { Readable, Writable, Duplex } = stream;

    // Protocol constants (tracker/include/tidemark/protocol.h).
    const ROW_PROCESS = 3, ROW_CREATED = 4, ROW_SAMPLE = 5, ROW_EVENT = 6, ROW_CALLSITE = 8;
    const K_READABLE = 1, K_WRITABLE = 2, K_R_OBJ = 4, K_W_OBJ = 8, K_HTTP_OUT = 16;
    const F_NEED_DRAIN = 4, F_R_ENDED = 8, F_W_ENDED = 16, F_FINISHED = 32, F_DESTROYED = 64,
      F_ERRORED = 128, F_WRITING = 256, F_CLOSED = 512;
    const EV_PIPE = 1, EV_UNPIPE = 2, EV_ERROR = 3, EV_DESTROY = 4, EV_GONE = 5, EV_END = 6,
      EV_FINISH = 7, EV_CLOSE = 8;
    const SITE_WRITE_AFTER_FALSE = 1, SITE_PUSH_AFTER_FALSE = 2;

    const W = 12, ROWS = 2048;
    const MAX_SITES_PER_STREAM = 4;
    const COLD_PERIOD_MS = 2000;   // every stream is looked at at least this often
    const MIN_SWEEP_PER_TICK = 64;  // ~15 µs: small sets are swept quickly
    const HOT_IDLE_TICKS = 10;     // unchanged ticks before a buffered stream goes cold
    // Stack captures cost ~10-40 µs each: a token bucket allows bursts (startup) and caps the
    // sustained rate; past it a new stream gets the last site seen for its constructor.
    const SITE_BURST = 2000, SITE_CAPTURES_PER_S = 500;
    const selfFile = __filename;
    const kRec = Symbol('tidemark');
    const timeOrigin = performance.timeOrigin;
    const nowUs = () => Math.round((timeOrigin + performance.now()) * 1000);

    // ---- rows and strings ------------------------------------------------------------------
    const rows = new Float64Array(ROWS * W);
    let nrows = 0;
    function row(type, t) {
      if (nrows === ROWS) flushRows();
      const o = nrows++ * W;
      rows[o] = type; rows[o + 1] = t;
      return o + 2;
    }
    // Once the agent is gone (the addon's transport died) tracking stops doing work: the wrappers
    // stay installed but pass straight through, and the timer stops.
    let enabled = true;
    function flushRows() {
      if (nrows > 0) {
        const n = nrows;
        nrows = 0;
        if (addon.flush(rows, n) === false) stopTracking();
      }
    }
    function event(id, kind, other, strId) {
      if (!enabled) return;
      const o = row(ROW_EVENT, nowUs());
      rows[o] = id; rows[o + 1] = kind; rows[o + 2] = other; rows[o + 3] = strId;
    }

    // Interned strings are bounded in count and bytes; past the bound a string is sent as 0.
    const MAX_STRINGS = 100000, MAX_STRING_CHARS = 1024, MAX_STRING_TOTAL_CHARS = 16 << 20;
    const strings = new Map();
    let nextString = 1, stringChars = 0;
    function str(s) {
      if (!s) return 0;
      if (s.length > MAX_STRING_CHARS) s = s.slice(0, MAX_STRING_CHARS);
      let id = strings.get(s);
      if (id === undefined) {
        if (nextString > MAX_STRINGS || stringChars + s.length > MAX_STRING_TOTAL_CHARS) return 0;
        id = nextString++;
        stringChars += s.length;
        strings.set(s, id);
        addon.defineString(id, s);
      }
      return id;
    }

    // ---- call sites: first user frame "file:line", else the first node: frame -------------
    const holder = {};
    let siteTokens = SITE_BURST, siteRefillAt = Date.now();
    function captureSite(skipFn, forStream) {
      if (siteTokens < 1) {
        const now = Date.now();
        siteTokens = Math.min(SITE_BURST, siteTokens + (now - siteRefillAt) * SITE_CAPTURES_PER_S / 1000);
        siteRefillAt = now;
        if (siteTokens < 1) return '';
      }
      siteTokens--;
      // Structured frames (V8 CallSite objects) instead of the formatted stack text: formatting
      // every frame was the largest part of a stream's construction cost under churn (http).
      const limit = Error.stackTraceLimit, prepare = Error.prepareStackTrace;
      let frames;
      try {
        Error.stackTraceLimit = 10;
        Error.prepareStackTrace = structuredFrames;
        Error.captureStackTrace(holder, skipFn);
        frames = holder.stack;
      } finally {
        Error.stackTraceLimit = limit;
        Error.prepareStackTrace = prepare;
        holder.stack = undefined;
      }
      // For a stream's creation site, the constructor frames of its own classes are skipped.
      return Array.isArray(frames) ? firstUserFrame(frames, forStream !== undefined ? classNames(forStream) : undefined) : '';
    }
    function structuredFrames(_, callSites) { return callSites; }
    // ownClasses: constructor names of the stream's own classes. Their `new X` frames are the
    // super() chain of a user subclass; the site is where `new` was called, one frame further.
    function firstUserFrame(frames, ownClasses) {
      let internal = '', ownCtor = '';
      for (let i = 0; i < frames.length; i++) {
        const cs = frames[i];
        let file = cs.getFileName();
        const line = cs.getLineNumber();
        if (typeof file !== 'string' || !file || !line) continue;
        if (file.startsWith('file://')) file = file.slice(7);
        const loc = file + ':' + line;
        if (file.startsWith('node:')) {  // fallback: first internal frame past the stream machinery
          if (!internal || (internal.startsWith('node:events') || internal.startsWith('node:internal/streams/')))
            internal = loc;
          continue;
        }
        if (file === selfFile || file.startsWith('<')) continue;
        if (ownClasses !== undefined && cs.isConstructor() && ownClasses.includes(cs.getFunctionName())) {
          ownCtor = loc;
          continue;
        }
        return loc;
      }
      return ownCtor || internal;
    }
    function classNames(s) {  // constructor names along the prototype chain (a few levels)
      const names = [];
      for (let p = Object.getPrototypeOf(s); p !== null && names.length < 8; p = Object.getPrototypeOf(p)) {
        const d = Object.getOwnPropertyDescriptor(p, 'constructor');
        if (d !== undefined && typeof d.value === 'function' && d.value.name) names.push(d.value.name);
      }
      return names;
    }

    // ---- stream registry -----------------------------------------------------------------
    class Rec {
      constructor(id, ref, kind) {
        this.id = id; this.ref = ref; this.kind = kind;
        this.idx = -1; this.hot = false; this.idle = 0; this.gone = false; this.dirty = true;
        this.writeCalls = 0; this.bytesIn = 0; this.waf = 0;
        this.pushCalls = 0; this.bytesPushed = 0; this.paf = 0;
        this.flags = -1; this.rlen = 0; this.wlen = 0;  // last sampled state
        this.destroySent = false; this.sites = null; this.siteCaptures = 0;
      }
    }
    const all = [];      // every live Rec; swap-removed when its stream is gone
    let hot = [];        // touched since the last tick, or still draining
    let cursor = 0;      // round-robin position of the cold sweep
    let sweepPerTick = 0;
    let nextId = 1;
    const lastSiteByType = new Map();  // fallback when the capture budget is spent
    const defaultHwm = typeof stream.getDefaultHighWaterMark === 'function'
      ? stream.getDefaultHighWaterMark(false) : 16384;

    function track(s) {
      const rs = s._readableState, ws = s._writableState;
      let kind = 0, rhwm = 0, whwm = 0;
      if (rs) { kind |= K_READABLE; rhwm = rs.highWaterMark; if (rs.objectMode) kind |= K_R_OBJ; }
      if (ws) { kind |= K_WRITABLE; whwm = ws.highWaterMark; if (ws.objectMode) kind |= K_W_OBJ; }
      if (!rs && !ws) { kind = K_WRITABLE | K_HTTP_OUT; whwm = defaultHwm; }
      const rec = new Rec(nextId++, new WeakRef(s), kind);
      Object.defineProperty(s, kRec, { value: rec, configurable: true });
      rec.idx = all.length;
      all.push(rec);
      const type = (s.constructor && s.constructor.name) || 'Stream';
      let site = captureSite(initWrapper, s);
      if (site) lastSiteByType.set(type, site); else site = lastSiteByType.get(type) || '';
      const o = row(ROW_CREATED, nowUs());
      rows[o] = rec.id; rows[o + 1] = kind; rows[o + 2] = str(type); rows[o + 3] = str(site);
      rows[o + 4] = rhwm; rows[o + 5] = whwm;
      touch(rec);
    }
    function touch(rec) {
      rec.dirty = true;
      if (!rec.hot) { rec.hot = true; hot.push(rec); }
    }
    function noteSite(rec, kind, skipFn) {
      rec.siteCaptures++;
      const site = captureSite(skipFn);
      if (!site) return;
      const id = str(site);
      const sites = rec.sites || (rec.sites = []);
      let entry = sites.find((e) => e.kind === kind && e.id === id);
      if (!entry) { entry = { kind, id, count: 0 }; sites.push(entry); }
      entry.count++;
      const o = row(ROW_CALLSITE, nowUs());
      rows[o] = rec.id; rows[o + 1] = kind; rows[o + 2] = id; rows[o + 3] = entry.count;
    }
    function chunkBytes(chunk, encoding) {
      if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? encoding : 'utf8');
      if (chunk !== null && typeof chunk === 'object' && typeof chunk.byteLength === 'number') return chunk.byteLength;
      return 0;
    }

    // ---- hooks ---------------------------------------------------------------------------
    const origInit = EE.init;
    function initWrapper(opts) {
      const r = origInit.apply(this, arguments);
      try {
        if (enabled && (this._readableState !== undefined || this._writableState !== undefined ||
             this instanceof OutgoingMessage) && this[kRec] === undefined) track(this);
      } catch (_) { /* ignore */ }
      return r;
    }
    EE.init = initWrapper;

    function onWrite(s, chunk, encoding, fn) {
      try {
        const rec = s[kRec];
        if (rec === undefined || !enabled) return;
        const ws = s._writableState;
        rec.writeCalls++;
        rec.bytesIn += (rec.kind & K_W_OBJ) ? 1 : chunkBytes(chunk, encoding);
        if (ws !== undefined ? ws.needDrain : s.writableNeedDrain) {
          rec.waf++;
          if (rec.siteCaptures < MAX_SITES_PER_STREAM) noteSite(rec, SITE_WRITE_AFTER_FALSE, fn);
        }
        touch(rec);
      } catch (_) { /* ignore */ }
    }
    function wrapWrite(proto) {
      const orig = proto.write;
      if (typeof orig !== 'function') return;
      const write = function write(chunk, encoding, cb) {
        onWrite(this, chunk, encoding, write);
        return orig.apply(this, arguments);
      };
      proto.write = write;
    }
    wrapWrite(Writable.prototype);
    wrapWrite(Duplex.prototype);
    wrapWrite(OutgoingMessage.prototype);

    function onPush(s, chunk, encoding, fn) {
      try {
        const rec = s[kRec];
        if (rec === undefined || chunk === null || !enabled) return;
        const rs = s._readableState;
        rec.pushCalls++;
        rec.bytesPushed += (rec.kind & K_R_OBJ) ? 1 : chunkBytes(chunk, encoding);
        const len = rs.length;
        // Pushed while full, and not from a _read() that asked for more (read() calls _read()
        // before it takes data out, so a pull-driven push may see a full buffer legitimately).
        if (len > 0 && len >= rs.highWaterMark && !rs.ended && !rs.reading) {
          rec.paf++;
          if (rec.siteCaptures < MAX_SITES_PER_STREAM) noteSite(rec, SITE_PUSH_AFTER_FALSE, fn);
        }
        touch(rec);
      } catch (_) { /* ignore */ }
    }
    const origPush = Readable.prototype.push;
    const push = function push(chunk, encoding) {
      onPush(this, chunk, encoding, push);
      return origPush.apply(this, arguments);
    };
    Readable.prototype.push = push;

    const origPipe = Readable.prototype.pipe;
    Readable.prototype.pipe = function pipe(dest, options) {
      try {
        const a = this[kRec], b = dest != null ? dest[kRec] : undefined;
        if (a !== undefined) {
          event(a.id, EV_PIPE, b !== undefined ? b.id : 0, 0);
          touch(a);
          if (b !== undefined) touch(b);
        }
      } catch (_) { /* ignore */ }
      return origPipe.apply(this, arguments);
    };
    const origUnpipe = Readable.prototype.unpipe;
    Readable.prototype.unpipe = function unpipe(dest) {
      try {
        const a = this[kRec], pipes = this._readableState && this._readableState.pipes;
        if (a !== undefined && Array.isArray(pipes)) {
          for (const d of pipes) {
            if (dest !== undefined && d !== dest) continue;
            const b = d != null ? d[kRec] : undefined;
            event(a.id, EV_UNPIPE, b !== undefined ? b.id : 0, 0);
          }
          touch(a);
        }
      } catch (_) { /* ignore */ }
      return origUnpipe.apply(this, arguments);
    };

    function wrapDestroy(proto) {
      const orig = proto.destroy;
      if (typeof orig !== 'function') return;
      proto.destroy = function destroy(err, cb) {
        try {
          const rec = this[kRec];
          if (rec !== undefined && !rec.destroySent) {
            rec.destroySent = true;
            event(rec.id, EV_DESTROY, 0, 0);
            touch(rec);
          }
        } catch (_) { /* ignore */ }
        return orig.apply(this, arguments);
      };
    }
    wrapDestroy(Readable.prototype);
    wrapDestroy(Writable.prototype);
    wrapDestroy(Duplex.prototype);
    wrapDestroy(OutgoingMessage.prototype);

    // pipeline(): one Pipeline record per call; non-stream stages get id 0 and a label.
    let nextPipeline = 1;
    function notePipeline(args, hasCallback, fn) {
      if (!enabled) return;
      try {
        let stages = Array.prototype.slice.call(args);
        const last = stages[stages.length - 1];
        if (hasCallback && typeof last === 'function') stages.pop();
        else if (!hasCallback && stages.length > 1 && last !== null && typeof last === 'object' &&
                 typeof last.on !== 'function' && typeof last[Symbol.iterator] !== 'function' &&
                 typeof last[Symbol.asyncIterator] !== 'function') stages.pop();  // options
        if (stages.length === 1 && Array.isArray(stages[0])) stages = stages[0];
        const ids = [], labels = [];
        for (const st of stages) {
          const rec = st != null ? st[kRec] : undefined;
          let label;
          if (rec !== undefined) label = (st.constructor && st.constructor.name) || 'Stream';
          else if (typeof st === 'function') {
            const k = st.constructor && st.constructor.name;
            label = (k === 'AsyncGeneratorFunction' ? 'async generator' : k === 'GeneratorFunction'
              ? 'generator' : k === 'AsyncFunction' ? 'async function' : 'function') + (st.name ? ' ' + st.name : '');
          } else if (st != null && (typeof st[Symbol.asyncIterator] === 'function' ||
                     typeof st[Symbol.iterator] === 'function')) label = 'iterable';
          else label = typeof st;
          ids.push(rec !== undefined ? rec.id : 0);
          labels.push(str(label));
        }
        const site = str(captureSite(fn));
        flushRows();  // stage streams' StreamCreated rows go out before the Pipeline record
        addon.pipeline(nowUs(), nextPipeline++, site, ids, labels);
      } catch (_) { /* ignore */ }
    }
    const streamPromises = require('stream/promises');
    const origPipelineP = streamPromises.pipeline, origPipeline = stream.pipeline;
    const pipelineP = function pipeline() {
      notePipeline(arguments, false, pipelineP);
      return origPipelineP.apply(this, arguments);
    };
    const pipelineCb = function pipeline() {
      notePipeline(arguments, true, pipelineCb);
      return origPipeline.apply(this, arguments);
    };
    const custom = require('util').promisify.custom;
    Object.defineProperty(pipelineCb, custom, { value: pipelineP, configurable: true });
    streamPromises.pipeline = pipelineP;  // also stream.promises.pipeline (same object)
    stream.pipeline = pipelineCb;
    require('module').syncBuiltinESMExports();

    // ---- sampling --------------------------------------------------------------------------
    function sampleStream(rec, t) {  // returns true when the stream should stay hot
      const s = rec.ref.deref();
      if (s === undefined) { gone(rec, t); return false; }
      const rs = s._readableState, ws = s._writableState;
      let flags = 0, rlen = 0, wlen = 0, err = null;
      if (rs) {
        const fl = rs.flowing;
        flags = fl === null ? 0 : fl ? 2 : 1;
        rlen = rs.length;
        if (rs.endEmitted) flags |= F_R_ENDED;
        if (rs.destroyed) flags |= F_DESTROYED;
        if (rs.closed) flags |= F_CLOSED;
        err = rs.errored;
      }
      if (ws) {
        wlen = ws.length;
        if (ws.needDrain) flags |= F_NEED_DRAIN;
        if (ws.ending) flags |= F_W_ENDED;
        if (ws.finished) flags |= F_FINISHED;
        if (ws.destroyed) flags |= F_DESTROYED;
        if (ws.writing) flags |= F_WRITING;
        if (ws.closed) flags |= F_CLOSED;
        err = err || ws.errored;
      } else if (!rs) {  // OutgoingMessage family: public getters only
        wlen = s.writableLength || 0;
        if (s.writableNeedDrain) flags |= F_NEED_DRAIN;
        if (s.writableEnded) flags |= F_W_ENDED;
        if (s.writableFinished) flags |= F_FINISHED;
        if (s.destroyed) flags |= F_DESTROYED;
        if (s.closed) flags |= F_CLOSED;
        err = s.errored;
      }
      if (err) flags |= F_ERRORED;
      const prev = rec.flags < 0 ? 0 : rec.flags, rose = flags & ~prev;
      if (rose & F_ERRORED) {
        const msg = err && typeof err.message === 'string' ? err.message.slice(0, 200) : 'error';
        event(rec.id, EV_ERROR, 0, str(msg));
      }
      if ((rose & F_DESTROYED) && !rec.destroySent) { rec.destroySent = true; event(rec.id, EV_DESTROY, 0, 0); }
      if (rose & F_R_ENDED) event(rec.id, EV_END, 0, 0);
      if (rose & F_FINISHED) event(rec.id, EV_FINISH, 0, 0);
      if (rose & F_CLOSED) event(rec.id, EV_CLOSE, 0, 0);
      if (rec.dirty || flags !== rec.flags || rlen !== rec.rlen || wlen !== rec.wlen) {
        rec.dirty = false; rec.flags = flags; rec.rlen = rlen; rec.wlen = wlen; rec.idle = 0;
        const o = row(ROW_SAMPLE, t);
        rows[o] = rec.id; rows[o + 1] = flags; rows[o + 2] = rlen; rows[o + 3] = wlen;
        rows[o + 4] = rec.bytesIn; rows[o + 5] = rec.bytesPushed; rows[o + 6] = rec.waf;
        rows[o + 7] = rec.paf; rows[o + 8] = rec.writeCalls; rows[o + 9] = rec.pushCalls;
      } else {
        rec.idle++;
      }
      return (rlen > 0 || wlen > 0 || (flags & (F_WRITING | F_NEED_DRAIN)) !== 0) &&
        rec.idle < HOT_IDLE_TICKS;
    }
    function sampleSafely(rec, t) {  // one odd stream (throwing getters…) must not stop the sweep
      try { return sampleStream(rec, t); } catch (_) { return false; }
    }
    function gone(rec, t) {
      rec.gone = true;
      const o = row(ROW_EVENT, t);
      rows[o] = rec.id; rows[o + 1] = EV_GONE; rows[o + 2] = 0; rows[o + 3] = 0;
      const last = all.pop();
      if (last !== rec) { all[rec.idx] = last; last.idx = rec.idx; }
      rec.ref = null;
    }

    // The histogram's own timer costs ~0.7 % of a core at 10 ms resolution, ~0.3 % at 50 ms.
    // Node 20's histogram records the whole period between its timer's wake-ups (resolution
    // included), so an idle loop reads ≈ resolution; subtract it to report the delay itself.
    const delayResolutionMs = Math.max(20, Math.min(50, intervalMs >> 1));
    const delay = monitorEventLoopDelay({ resolution: delayResolutionMs });
    delay.enable();
    const lateUs = (ns) => Math.max(0, ns / 1000 - delayResolutionMs * 1000);
    function sampleProcess(t) {
      const m = process.memoryUsage();
      const mean = delay.count > 0 ? lateUs(delay.mean) : 0, max = delay.count > 0 ? lateUs(delay.max) : 0;
      delay.reset();
      const o = row(ROW_PROCESS, t);
      rows[o] = m.rss; rows[o + 1] = m.heapUsed; rows[o + 2] = m.heapTotal; rows[o + 3] = m.external;
      rows[o + 4] = m.arrayBuffers; rows[o + 5] = mean; rows[o + 6] = max;
    }

    function tick() {
      try {
        const t = nowUs();
        sampleProcess(t);
        const current = hot;
        hot = [];
        for (let i = 0; i < current.length; i++) {
          const rec = current[i];
          rec.hot = false;
          if (!rec.gone && sampleSafely(rec, t) && !rec.hot) { rec.hot = true; hot.push(rec); }
        }
        // Each tick sweeps 1/(COLD_PERIOD/interval) of the list, never less than the share set at
        // the start of the pass (the list shrinks as streams go) nor than a small minimum.
        let budget = Math.max(MIN_SWEEP_PER_TICK, sweepPerTick, Math.ceil(all.length * intervalMs / COLD_PERIOD_MS));
        while (budget-- > 0 && all.length > 0) {
          if (cursor >= all.length) {
            cursor = 0;
            sweepPerTick = Math.ceil(all.length * intervalMs / COLD_PERIOD_MS);
          }
          const rec = all[cursor];
          if (rec.hot) { cursor++; continue; }
          if (sampleSafely(rec, t)) { rec.hot = true; hot.push(rec); }
          if (!rec.gone) cursor++;  // a gone rec's slot now holds another rec
        }
        flushRows();
      } catch (_) { nrows = 0; }
    }
    // Ticks are scheduled against absolute times (not setInterval, whose period stretches by each
    // callback's lateness), so a loaded loop still gets one sample per interval on average; ticks
    // missed while the loop was blocked are skipped, not bunched.
    let timer = null;
    let nextTickAt = performance.now() + intervalMs;
    function scheduleTick() {
      timer = setTimeout(onTimer, Math.max(1, nextTickAt - performance.now()));
      timer.unref();
    }
    function onTimer() {
      if (!enabled) return;
      tick();
      const now = performance.now();
      nextTickAt += intervalMs;
      if (nextTickAt <= now) nextTickAt = now + intervalMs - ((now - nextTickAt) % intervalMs);
      scheduleTick();
    }
    tick();  // a first sample as soon as the tracker is in, so the trace starts with the process
    scheduleTick();
    function stopTracking() {
      enabled = false;
      clearTimeout(timer);
      delay.disable();
      all.length = 0;
      hot = [];
    }
    process.on('exit', (code) => {
      try {
        if (!enabled) return;
        clearTimeout(timer);
        tick();
        addon.goodbye(nowUs(), typeof code === 'number' ? code : 0);
      } catch (_) { /* ignore */ }
    });
  }
})();
