// The tracker proper, installed by preload.js on each tracked JS thread. It sees every stream,
// pays per *interesting* stream rather than per stream, and hands fixed-width numeric rows to the
// addon (row layouts in addon.cpp, README.md explains the cost model):
//
//  - Construction (EventEmitter.init) costs a few hundred ns: a Rec hung off the stream in a
//    private field (invisible to inspect, keys and symbols), a WeakRef, and now and then a
//    budgeted creation-site capture. Nothing is sent.
//  - A young stream that is born and retires (destroyed, ended and finished, or collected) before
//    it outlives a sampling interval, with nothing notable on the way, is folded into an aggregate
//    per (constructor, creation site): count, bytes, peaks, lifetime histogram.
//  - It is promoted to individual tracking (StreamCreated, samples, events) the moment it becomes
//    interesting (a write or push after false, a buffer far past its highWaterMark, an error, a
//    pipe partner or pipeline stage promoted) or when it outlives an interval; a tracked stream is
//    retired with one final sample when it reaches a terminal state.
//  - Node's stream prototypes are wrapped once; userland `readable-stream` classes (v2-v4, any
//    copy under node_modules) are found on the prototype chain of their first instance and wrapped
//    the same way. web.js adds WHATWG streams through the same registry.
//
// The tracker keeps alive nothing the app released: streams are held by WeakRef only, chunks are
// never referenced, and every wrapper passes straight through once the agent is gone.
'use strict';

const ROW_PROCESS = 3, ROW_CREATED = 4, ROW_SAMPLE = 5, ROW_EVENT = 6, ROW_CALLSITE = 8;
const K_READABLE = 1, K_WRITABLE = 2, K_R_OBJ = 4, K_W_OBJ = 8, K_HTTP_OUT = 16, K_WEB = 64,
  K_USERLAND = 128, K_SITE_INFERRED = 256, K_HANDLE = 512;
const F_NEED_DRAIN = 4, F_R_ENDED = 8, F_W_ENDED = 16, F_FINISHED = 32, F_DESTROYED = 64,
  F_ERRORED = 128, F_WRITING = 256, F_CLOSED = 512;
const EV_PIPE = 1, EV_UNPIPE = 2, EV_ERROR = 3, EV_DESTROY = 4, EV_GONE = 5, EV_END = 6,
  EV_FINISH = 7, EV_CLOSE = 8, EV_DRAIN_WAIT = 9;
const DRAIN_OWN_PENDING = 1, DRAIN_NOT_NEEDED = 2;  // DrainWait reasons (protocol.h DrainWaitReason)
const SITE_WRITE_AFTER_FALSE = 1, SITE_PUSH_AFTER_FALSE = 2;
const YOUNG = 0, TRACKED = 1, RETIRED = 2;

const W = 12, ROWS = 2048;
const MAX_SITES_PER_STREAM = 4;
const COLD_PERIOD_MS = 2000;    // every tracked stream is looked at at least this often
const MIN_SWEEP_PER_TICK = 64;  // ~15 us: small sets are swept quickly
const HOT_IDLE_TICKS = 10;      // unchanged ticks before a buffered stream goes cold
const WATCH_TURNS = 3;          // event-loop turns a pending young stream is held before a WeakRef
const OVERFILL_FACTOR = 2;      // a young stream buffering past this times its highWaterMark is promoted
const MAX_YOUNG = 200000;       // past this many unsettled streams new ones are counted, not watched
const MAX_AGGREGATES = 10000;   // past this many (type, site) keys new sites fold into site 0
// Stack captures cost ~10-40 µs each. A global token bucket caps the sustained rate, and each
// constructor has its own smaller bucket so one busy type cannot starve the others; past either a
// stream gets the last site captured for its constructor and is marked as inferred.
const SITE_BURST = 1000, SITE_CAPTURES_PER_S = 300;
const CTOR_SITE_BURST = 32, CTOR_SITE_CAPTURES_PER_S = 20;
const INTERNAL_ONLY_AFTER = 8;  // captures that found no user frame before a type stops capturing
// Lifetime histogram bounds (ms) of retired aggregated streams; the last bucket is open.
const LIFETIME_BOUNDS_MS = [1, 10, 100, 1000, 10000];

// options.attached: loaded by `tidemark attach` (attach.js); when the agent goes, every change
// made to node's objects is undone and the addon's connection closed (uninstall), so the process
// is left as it was and a later attach installs afresh.
// The brand every install stamps streams with: one private field for the thread's lifetime.
// A brand per install would add a field (a hidden-class transition) to every long-lived object
// at each attach, so node's own code would see ever more shapes of its sockets, requests and
// responses and its inline caches would go megamorphic: measured, throughput after 20 attach
// cycles fell to 0.76x. A private field is invisible to util.inspect, Object.keys,
// getOwnPropertySymbols and proxies' traps, and cheaper than defineProperty.
class BrandBase { constructor(o) { return o; } }
class Brand extends BrandBase {
  #rec;
  constructor(o, rec) { super(o); this.#rec = rec; }
  static peek(o) { return #rec in o ? o.#rec : undefined; }
  static read(o) { return o.#rec; }  // throws if o carries no brand
  static write(o, rec) { o.#rec = rec; }
}
let installs = 0;

// Records and aggregates are made at module level, not inside install(): an object keeps its
// class's constructor, and with it the constructor's closure, alive. A class declared in
// install() would let one long-lived stream an install stamped (a keep-alive socket that no later
// install touches) keep that whole install — its row buffer, strings, maps — alive after detach.
class Agg {
  constructor(ti, siteId, kind, rhwm, whwm) {
    this.typeId = ti.nameId; this.siteId = siteId; this.kind = kind; this.rhwm = rhwm; this.whwm = whwm;
    this.created = 0; this.promoted = 0; this.retired = 0; this.inferred = 0;
    this.bytesIn = 0; this.bytesPushed = 0; this.writeCalls = 0; this.pushCalls = 0;
    this.peakR = 0; this.peakW = 0;
    this.hist = [0, 0, 0, 0, 0, 0];
    this.dirty = false;
  }
}
class Rec {
  constructor(ti, kind, rhwm, whwm, siteId, internal, bornMs, gen, epoch) {
    this.state = YOUNG; this.ti = ti; this.kind = kind; this.rhwm = rhwm; this.whwm = whwm;
    this.gen = gen;  // the install it belongs to (Stamp)
    this.siteId = siteId; this.internal = internal; this.ref = null; this.born = bornMs; this.epoch = epoch;
    this.agg = null; this.settled = false; this.watched = false; this.turns = 0;
    this.id = 0; this.idx = -1; this.hot = false; this.idle = 0; this.dirty = true;
    this.writeCalls = 0; this.bytesIn = 0; this.waf = 0;
    this.pushCalls = 0; this.bytesPushed = 0; this.paf = 0;
    this.peakR = 0; this.peakW = 0;
    this.flags = -1; this.rlen = 0; this.wlen = 0;  // last sampled state
    this.destroySent = false; this.sites = null; this.siteCaptures = 0;
    this.pipeline = null;  // a pipeline() it is a stage of, sent when a stage is promoted
    this.lifeBucket = -1;  // once folded: its lifetime bucket in the aggregate
    this.drainWaits = 0;   // DrainWait reasons already sent (bits)
  }
}
const DETACHED = Object.freeze({ state: RETIRED, gen: 0 });  // what a detached install leaves behind

exports.install = function install(addon, intervalMs, threadId, options) {
  const attached = options !== undefined && options.attached === true;
  const gen = ++installs;
  // A stream's Rec hangs off it in Brand's private field, shared by every install in this thread.
  // A Rec of an earlier install (gen differs) reads as unstamped, so that stream is new to this
  // one and is stamped again in place.
  // Under attach, a stream made before this install (a keep-alive socket, a long-lived pipe) is
  // never given the brand: adding a field to an object that already has its others changes its
  // hidden class at whatever point of its life it is met, so after a few attaches node's own code
  // would see sockets of many shapes and its inline caches would go megamorphic — measured: after
  // 50 attach cycles under load, 208 megamorphic property sites in the service instead of 112, and
  // the service stayed slower after detaching. Such streams' Recs live in this install's WeakMap
  // instead (gone with the install), and the wrappers check the brand with `in` (no exception).
  // Under `run` nearly every stream is made after the tracker loaded and branded at construction.
  const late = attached ? new WeakMap() : null;
  const Stamp = {
    get(o) {
      const r = Brand.peek(o);
      if (r !== undefined) return r.gen === gen ? r : undefined;
      return late !== null ? late.get(o) : undefined;
    },
    // For `this` in the stream wrappers: every stream made after the tracker loaded carries a Rec,
    // so the brand check (a megamorphic keyed `in`, ~150 instructions a call) is skipped and an
    // unbranded one costs an exception instead — once: unstamped() stamps it (see there).
    of: late === null ? function of(o) {
      let r;
      try { r = Brand.read(o); } catch (_) { return unstamped(o); }
      return r.gen === gen ? r : unstamped(o);
    } : function of(o) {
      const r = Brand.peek(o);
      if (r !== undefined) return r.gen === gen ? r : unstamped(o);
      const l = late.get(o);
      return l !== undefined ? l : unstamped(o);
    },
    // false if o already carries this install's stamp (a second init of the same object). A
    // stream met after its construction (lateOne) is branded only if it has a brand already (an
    // earlier install's: rewritten in place) or under `run`; else its Rec goes into `late`.
    put(o, rec, lateOne) {
      const had = Brand.peek(o);
      if (had !== undefined) {
        if (had.gen === gen) return false;
        Brand.write(o, rec);
        return true;
      }
      if (lateOne === true && late !== null) {
        if (late.has(o)) return false;
        late.set(o, rec);
        return true;
      }
      new Brand(o, rec);
      return true;
    },
  };
  // Clocks without perf_hooks (loading it, or touching globalThis.performance, costs the target
  // ~72 KB of heap): process.hrtime's monotonic milliseconds, anchored once to the wall clock
  // (within a millisecond). Taken now, so fake timers installed later by the app do not reach it.
  const hrtime = process.hrtime;
  const monoMs = () => { const t = hrtime(); return t[0] * 1e3 + t[1] / 1e6; };
  const EE = require('events');
  const stream = require('stream');
  // http and net are hooked once the app loads them (hookNet, hookHttp): requiring them here
  // would load ~360 KB of node's heap into every tracked process that never opens a socket.
  let OutgoingMessage = null;
  const { Readable, Writable, Duplex } = stream;
  const selfDir = __dirname + '/';
  const timeOrigin = Date.now() - monoMs();
  const nowUs = () => Math.round((timeOrigin + monoMs()) * 1000);
  const recOf = (o) => {
    const r = o !== null && typeof o === 'object' ? Stamp.get(o) : undefined;
    return r === NOT_TRACKED ? undefined : r;
  };

  // ---- changes to node's objects, undone at detach ----------------------------------------
  // Every property the tracker replaces goes through patch(); unpatchAll() puts back what was
  // there (or removes what was not) — unless someone replaced our value since, in which case
  // ours stays, passing straight through (enabled is false by then), so their wrapper lives on.
  const patches = [];
  function patch(obj, key, value, enumerable) {
    const own = Object.getOwnPropertyDescriptor(obj, key);
    Object.defineProperty(obj, key, { value, writable: true, configurable: true,
      enumerable: enumerable !== undefined ? enumerable : own !== undefined ? own.enumerable : false });
    patches.push({ obj, key, own, value, accessor: false });
  }
  // The same for an accessor (value is its getter); returns the patch, for restore().
  function patchAccessor(obj, key, get, set, enumerable) {
    const own = Object.getOwnPropertyDescriptor(obj, key);
    Object.defineProperty(obj, key, { get, set, configurable: true, enumerable });
    const p = { obj, key, own, value: get, accessor: true };
    patches.push(p);
    return p;
  }
  function restore({ obj, key, own, value, accessor }) {
    try {
      const cur = Object.getOwnPropertyDescriptor(obj, key);
      if (cur === undefined || (accessor ? cur.get : cur.value) !== value) return;
      if (own !== undefined) Object.defineProperty(obj, key, own);
      else delete obj[key];
    } catch (_) { /* ignore */ }
  }
  function unpatchAll() {
    for (let i = patches.length - 1; i >= 0; i--) restore(patches[i]);
    patches.length = 0;
  }

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

  // ---- call sites (sites.js) -------------------------------------------------------------
  const { bucket, refillBuckets, take, captureSite, captureDirectSite, captureNow, classNames } =
    require('./sites.js').create(selfDir, intervalMs, SITE_CAPTURES_PER_S, SITE_BURST);

  // ---- types, aggregates and records -----------------------------------------------------
  // Per constructor: its name, capture budget, last captured site and its aggregates by site.
  const types = new Map();
  let aggregateCount = 0;
  // The last two constructors seen, before the Map: a service makes its streams in a few kinds,
  // often alternating (IncomingMessage, ServerResponse), and a Map lookup is the costlier part.
  let ctorA = null, tiA = null, ctorB = null, tiB = null;
  function typeOf(ctor, s) {
    if (ctor === ctorA) return tiA;
    if (ctor === ctorB) { const c = ctorA, t = tiA; ctorA = ctorB; tiA = tiB; ctorB = c; tiB = t; return tiA; }
    let ti = types.get(ctor);
    if (ti === undefined) {  // the prototype and name are read on a constructor's first stream only
      const proto = Object.getPrototypeOf(s), name = ctor.name;
      ti = { nameId: str(name || 'Stream'), classes: classNames(proto), sites: bucket(CTOR_SITE_BURST, CTOR_SITE_CAPTURES_PER_S),
        lastSite: 0, lastInternal: false, internalRun: 0, capture: true, userland: wrapUserland(proto), aggs: new Map(), lastAgg: null, prevAgg: null };
      types.set(ctor, ti);
    }
    ctorB = ctorA; tiB = tiA; ctorA = ctor; tiA = ti;
    return ti;
  }
  let dirtyAggs = [];
  function markAgg(a) { if (!a.dirty) { a.dirty = true; dirtyAggs.push(a); } }
  function aggFor(ti, siteId, rec) {
    // Most streams of a type come from the site its last one came from; two are cached, as a
    // request's streams are registered under node's site and settled under their server's.
    let a = ti.lastAgg;
    if (a !== null && a.siteId === siteId) return a;
    a = ti.prevAgg;
    if (a !== null && a.siteId === siteId) { ti.prevAgg = ti.lastAgg; ti.lastAgg = a; return a; }
    a = ti.aggs.get(siteId);
    if (a === undefined) {
      if (aggregateCount >= MAX_AGGREGATES && siteId !== 0) return aggFor(ti, 0, rec);
      a = new Agg(ti, siteId, rec.kind & ~K_SITE_INFERRED, rec.rhwm, rec.whwm);
      ti.aggs.set(siteId, a);
      aggregateCount++;
    }
    ti.prevAgg = ti.lastAgg; ti.lastAgg = a;
    return a;
  }

  const all = [];      // every tracked Rec; swap-removed when its stream retires or is gone
  let hot = [];        // tracked, touched since the last tick, or still draining
  let young = [];      // young streams held by WeakRef (they were pending work): settled at the tick
  let epoch = 0;       // ticks so far: a young stream seen two epochs after its birth outlived an interval
  let cursor = 0;      // round-robin position of the cold sweep
  let sweepPerTick = 0;
  let nextId = 1;
  const defaultHwm = typeof stream.getDefaultHighWaterMark === 'function'
    ? stream.getDefaultHighWaterMark(false) : 16384;

  // Registers a stream at construction: no weak handle (a live WeakRef costs ~1 µs of GC work per
  // stream), no record sent; counted at once in the aggregate of its site. skipFn is the frame
  // the creation-site capture starts above.
  function register(s, kind, rhwm, whwm, skipFn, knownSite, lateOne) {
    const ctor = s.constructor;
    const ti = typeOf(typeof ctor === 'function' ? ctor : Object, s);
    if (ti.userland) kind |= K_USERLAND;
    let siteId = knownSite !== undefined ? knownSite : ti.lastSite;
    let inferred = knownSite === undefined;
    if (knownSite === undefined && ti.capture && take(ti.sites)) {
      const site = captureSite(skipFn, ti.classes);
      if (site !== null) {
        inferred = false;
        ti.lastInternal = site.startsWith('node:');
        if (ti.lastInternal) {
          if (++ti.internalRun >= INTERNAL_ONLY_AFTER) ti.capture = false;  // resolved per stream later
        } else {
          ti.internalRun = 0;
        }
        siteId = str(site);
        ti.lastSite = siteId;
      }
    }
    if (inferred) kind |= K_SITE_INFERRED;
    const rec = new Rec(ti, kind, rhwm, whwm, siteId, ti.lastInternal || siteId === 0, monoMs(), gen, epoch);
    try { if (!Stamp.put(s, rec, lateOne)) return undefined; } catch (_) { return undefined; }
    const a = aggFor(ti, siteId, rec);
    a.created++;
    if (inferred) a.inferred++;
    rec.agg = a;
    markAgg(a);
    return rec;
  }

  // Once, when a young stream is folded or promoted: a stream whose site is node-internal
  // (IncomingMessage, ServerResponse) moves to the aggregate of the http server it belongs to.
  function settle(rec, s) {
    const a = rec.agg;
    if (rec.settled) return a;
    rec.settled = true;
    if (s === undefined || !(rec.internal || (rec.kind & K_HTTP_OUT))) return a;
    const resolved = serverSite(s);
    if (resolved === 0 || resolved === rec.siteId) return a;
    a.created--;
    if (rec.kind & K_SITE_INFERRED) a.inferred--;
    markAgg(a);
    rec.siteId = resolved;
    rec.kind &= ~K_SITE_INFERRED;
    const b = aggFor(rec.ti, resolved, rec);
    b.created++;
    rec.agg = b;
    markAgg(b);
    return b;
  }
  function lifetimeBucket(ms) {
    let b = 0;
    while (b < LIFETIME_BOUNDS_MS.length && ms >= LIFETIME_BOUNDS_MS[b]) b++;
    return b;
  }
  // A young stream that ended without anything notable: counted in its aggregate, then forgotten.
  // One that lived longer than an interval (it ended between two ticks) is announced instead.
  function fold(rec, s) {
    const lived = monoMs() - rec.born;
    const pipeline = rec.pipeline;
    const a = settle(rec, s);
    a.retired++;
    a.bytesIn += rec.bytesIn; a.bytesPushed += rec.bytesPushed;
    a.writeCalls += rec.writeCalls; a.pushCalls += rec.pushCalls;
    if (rec.peakR > a.peakR) a.peakR = rec.peakR;
    if (rec.peakW > a.peakW) a.peakW = rec.peakW;
    rec.lifeBucket = lifetimeBucket(lived);
    a.hist[rec.lifeBucket]++;
    markAgg(a);
    rec.state = RETIRED; rec.ref = null;
    if (pipeline !== null) { pipeline.streams = null; rec.pipeline = null; }
    // The final state is needed only if it may be announced later (as a pipeline stage, or now).
    if (pipeline !== null || lived >= intervalMs) rec.flags = s !== undefined ? endFlags(s) : F_DESTROYED;
    if (lived >= intervalMs) {
      resurrect(rec);
      if (pipeline !== null) sendPipeline(pipeline);
    }
  }
  function endFlags(s) {  // enough state for the final sample of a resurrected stream
    try {
      const rs = s._readableState, ws = s._writableState;
      let f = 0;
      if ((rs !== undefined && rs.destroyed) || (ws !== undefined && ws.destroyed) || s.destroyed === true) f |= F_DESTROYED;
      if (rs !== undefined && rs.endEmitted) f |= F_R_ENDED;
      if ((ws !== undefined && ws.finished) || s.writableFinished === true) f |= F_FINISHED;
      return f;
    } catch (_) { return F_DESTROYED; }
  }
  // A stage or pipe partner that was folded before the stream it feeds was promoted: announced
  // after the fact from its Rec (created, one final sample, gone), so the chain stays whole.
  function resurrect(rec) {
    if (rec.state !== RETIRED || rec.id !== 0 || !enabled) return;
    const a = rec.agg;
    a.retired--; a.promoted++;
    if (rec.lifeBucket >= 0) a.hist[rec.lifeBucket]--;
    a.bytesIn -= rec.bytesIn; a.bytesPushed -= rec.bytesPushed;
    a.writeCalls -= rec.writeCalls; a.pushCalls -= rec.pushCalls;
    markAgg(a);
    rec.id = nextId++;
    announce(rec);
    const o = row(ROW_SAMPLE, nowUs());
    rows[o] = rec.id; rows[o + 1] = rec.flags < 0 ? F_DESTROYED : rec.flags; rows[o + 2] = 0; rows[o + 3] = 0;
    rows[o + 4] = rec.bytesIn; rows[o + 5] = rec.bytesPushed; rows[o + 6] = rec.waf;
    rows[o + 7] = rec.paf; rows[o + 8] = rec.writeCalls; rows[o + 9] = rec.pushCalls;
    if (rec.flags & F_DESTROYED) event(rec.id, EV_DESTROY, 0, 0);
    event(rec.id, EV_GONE, 0, 0);
  }

  function promote(rec, s) {
    if (rec.state !== YOUNG || !enabled) return;
    const a = settle(rec, s);
    a.promoted++;
    markAgg(a);
    rec.state = TRACKED;
    rec.id = nextId++;
    if (rec.ref === null) rec.ref = new WeakRef(s);
    // readable-stream v2/v3 Duplexes run EventEmitter.init before their writable state exists.
    if (!(rec.kind & (K_WRITABLE | K_WEB)) && s._writableState) {
      const ws = s._writableState;
      rec.kind |= K_WRITABLE | (ws.objectMode ? K_W_OBJ : 0);
      rec.whwm = ws.highWaterMark;
    }
    // Backed by an OS handle or a file (socket, pipe, fs stream): its write callbacks wait on the
    // kernel, so a long-pending one is a slow peer, not an app that forgot to call back.
    if (!(rec.kind & K_WEB) && ('_handle' in s || typeof s.fd === 'number' || (s.fd === null && 'path' in s)))
      rec.kind |= K_HANDLE;
    rec.idx = all.length;
    all.push(rec);
    announce(rec);
    touch(rec);
    linkDownstream(rec, s);
    if (rec.pipeline !== null) sendPipeline(rec.pipeline);
  }
  // StreamCreated stamped with the stream's birth, and a first sample of its state then (nothing
  // buffered, nothing counted), so the trace shows what it did while young: the samples that
  // follow carry everything it wrote and pushed since (a detector can tell it moved, and how much).
  function announce(rec) {
    const born = Math.round((timeOrigin + rec.born) * 1000);
    let o = row(ROW_CREATED, born);
    rows[o] = rec.id; rows[o + 1] = rec.kind; rows[o + 2] = rec.ti.nameId; rows[o + 3] = rec.siteId;
    rows[o + 4] = rec.rhwm; rows[o + 5] = rec.whwm;
    o = row(ROW_SAMPLE, born);
    rows[o] = rec.id;
    for (let i = 1; i < 10; i++) rows[o + i] = 0;
  }
  function promoteVia(rec, strong) {  // a partner, through its WeakRef or a link's strong handle
    if (rec.state !== YOUNG) return;
    const s = rec.ref !== null ? rec.ref.deref() : strong;
    if (s !== undefined && s !== null) promote(rec, s);
  }
  const announced = (rec) => rec.state === TRACKED || (rec.state === RETIRED && rec.id !== 0);
  function touch(rec) {
    rec.dirty = true;
    if (!rec.hot) { rec.hot = true; hot.push(rec); }
  }
  // Pipe edges of young streams cost nothing: a stream's live destinations are in its own state
  // (pipes), read when it is promoted (its destinations are promoted with it). A pipe() from a
  // tracked stream is sent at once.
  function linkDownstream(rec, s) {
    const rs = s._readableState;
    let pipes = rs !== undefined ? rs.pipes : null;
    if (pipes === null || pipes === undefined) return;
    if (!Array.isArray(pipes)) pipes = [pipes];  // readable-stream v2 keeps a single one unwrapped
    for (const d of pipes) noteEdge(rec, recOf(d), d);
  }
  function noteEdge(a, b, bs) {
    if (a.state !== TRACKED) return;
    if (b !== undefined && b.state === YOUNG && bs !== null && bs !== undefined) promote(b, bs);
    event(a.id, EV_PIPE, b !== undefined && announced(b) ? b.id : 0, 0);
    touch(a);
    if (b !== undefined && b.state === TRACKED) touch(b);
  }
  function sendPipeline(p) {
    if (p.sent) return;
    p.sent = true;
    for (let i = 0; i < p.stages.length; i++) {
      const st = p.stages[i];
      if (st === null) continue;
      promoteVia(st, p.streams !== null ? p.streams[i] : null);
      resurrect(st);
    }
    p.streams = null;
    const ids = [];
    for (const st of p.stages) ids.push(st !== null && announced(st) ? st.id : 0);
    flushRows();  // stage streams' StreamCreated rows go out before the Pipeline record
    addon.pipeline(p.t, p.id, p.site, ids, p.labels);
  }

  // ---- node stream hooks -----------------------------------------------------------------
  function isStream(s) {
    return s._readableState !== undefined || s._writableState !== undefined ||
      (OutgoingMessage !== null && s instanceof OutgoingMessage);
  }
  function registerNode(s, skipFn, knownSite, lateOne) {
    const rs = s._readableState, ws = s._writableState;
    let kind = 0, rhwm = 0, whwm = 0;
    if (rs) { kind |= K_READABLE; rhwm = rs.highWaterMark; if (rs.objectMode) kind |= K_R_OBJ; }
    if (ws) { kind |= K_WRITABLE; whwm = ws.highWaterMark; if (ws.objectMode) kind |= K_W_OBJ; }
    if (!rs && !ws) { kind = K_WRITABLE | K_HTTP_OUT; whwm = defaultHwm; }
    return register(s, kind, rhwm, whwm, skipFn, knownSite, lateOne);
  }
  // A stream the tracker did not see being made — it existed before the tracker loaded or before
  // this attach (keep-alive sockets), or carries an earlier attach's stamp — reaching a wrapper:
  // registered now, its creation site unknown, so it is tracked from here on and its later calls
  // take the cheap path. Anything else gets a retired sentinel: one exception per object, never
  // one per call (a throw and catch costs tens of thousands of instructions). Under attach both go
  // into `late` rather than onto the object (see Stamp), and no exception is involved.
  const NOT_TRACKED = Object.freeze({ state: RETIRED, gen });
  let earlierSite = 0;
  function unstamped(o) {
    if (o === null || typeof o !== 'object') return undefined;
    let rec;
    try {
      if (enabled && isStream(o)) {
        if (earlierSite === 0) earlierSite = str(attached ? '(created before tidemark attached)' : '(created before the tracker loaded)');
        rec = registerNode(o, unstamped, earlierSite, true);
      }
    } catch (_) { rec = undefined; }
    if (rec === undefined) {
      try { Stamp.put(o, NOT_TRACKED, true); } catch (_) { return undefined; }
      rec = NOT_TRACKED;
    }
    return rec;
  }
  const origInit = EE.init;
  function initWrapper(opts) {
    const r = origInit.call(this, opts);
    try {
      // A second init of the same object fails to stamp it again and is ignored (register()).
      if (enabled) {
        if (isStream(this)) registerNode(this, initWrapper);
        else if (!httpHooked) netOrHttpMade(this);
      }
    } catch (_) { /* ignore */ }
    return r;
  }
  patch(EE, 'init', initWrapper);

  function chunkBytes(chunk, encoding) {
    if (typeof chunk === 'string') {
      // One byte per character for the single-byte encodings (http writes its headers in latin1).
      if (encoding === 'latin1' || encoding === 'binary' || encoding === 'ascii') return chunk.length;
      return Buffer.byteLength(chunk, typeof encoding === 'string' ? encoding : 'utf8');
    }
    if (chunk !== null && typeof chunk === 'object') {
      const n = chunk.byteLength;  // read once: a getter on every typed array
      return typeof n === 'number' ? n : 0;
    }
    return 0;
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
  // Counting shared by node, userland and web writes: cumulative calls and bytes; a write made
  // while the writable asks for drain promotes the stream and records the caller.
  function countWrite(rec, s, bytes, needDrain, fn) {
    rec.writeCalls++;
    rec.bytesIn += (rec.kind & K_W_OBJ) ? 1 : bytes;
    if (needDrain) {
      rec.waf++;
      if (rec.state === YOUNG) promote(rec, s);
      if (rec.siteCaptures < MAX_SITES_PER_STREAM) noteSite(rec, SITE_WRITE_AFTER_FALSE, fn);
    }
    if (rec.state === TRACKED) touch(rec);
  }
  function countPush(rec, s, bytes, full, fn) {
    rec.pushCalls++;
    rec.bytesPushed += (rec.kind & K_R_OBJ) ? 1 : bytes;
    if (full) {
      rec.paf++;
      if (rec.state === YOUNG) promote(rec, s);
      if (rec.siteCaptures < MAX_SITES_PER_STREAM) noteSite(rec, SITE_PUSH_AFTER_FALSE, fn);
    }
    if (rec.state === TRACKED) touch(rec);
  }
  // After a young stream's write/push: promotion when it has outlived an interval or buffers far
  // past its mark; peaks; and when it is left with work pending, a look at the end of this turn
  // of the event loop (see checkWatched).
  function afterYoung(rec, s, rlen, wlen, busy) {
    if (epoch !== rec.epoch && (epoch - rec.epoch >= 2 || monoMs() - rec.born >= intervalMs)) {
      promote(rec, s);
      return;
    }
    if (rlen > rec.peakR) { rec.peakR = rlen; if (rec.rhwm > 0 && rlen > OVERFILL_FACTOR * rec.rhwm) promote(rec, s); }
    if (wlen > rec.peakW) { rec.peakW = wlen; if (rec.whwm > 0 && wlen > OVERFILL_FACTOR * rec.whwm) promote(rec, s); }
    // Pending: unread data that is not flowing out (or fills the buffer), or a write in progress.
    // Data in a flowing readable below its mark is on its way out and is not watched.
    if (rec.state === YOUNG && !rec.watched && rec.ref === null && watchRecs.length < MAX_YOUNG &&
        ((rlen > 0 && (rlen >= rec.rhwm || !flowingNow(s))) || wlen > 0 || busy)) {
      rec.watched = true;
      watchRecs.push(rec);
      watchStreams.push(s);
      if (!watchScheduled) { watchScheduled = true; setImmediate(checkWatched).unref(); }
    }
  }
  function flowingNow(s) {
    const rs = s._readableState;
    return rs !== undefined && rs.flowing === true;
  }
  // Streams left with buffered data or a pending callback by their last write/push are held
  // strongly until the end of the current turn of the event loop (setImmediate), for at most
  // WATCH_TURNS turns. Most have drained by then and are forgotten; one still pending gets a WeakRef
  // and is settled at the next tick, so a stall or an unread buffer is found even if no hook is
  // called again.
  const watchRecs = [], watchStreams = [];
  let watchScheduled = false;
  // A stream still pending is looked at again at the next turns, up to WATCH_TURNS in all, before
  // it gets a WeakRef: a WeakRef keeps its target through scavenges until the next tick, and a
  // busy service's per-request streams that wait a turn or two for their socket would otherwise
  // reach the old generation and cost major collections.
  function checkWatched() {
    watchScheduled = false;
    const n = watchRecs.length;
    for (let i = 0; i < n; i++) {
      const rec = watchRecs[i], s = watchStreams[i];
      rec.watched = false;
      if (rec.state !== YOUNG || !enabled) continue;
      try {
        const { flags, rlen, wlen } = readState(rec, s);
        if (flags & F_ERRORED) { promote(rec, s); continue; }
        if (terminal(rec, flags)) { fold(rec, s); continue; }
        const flowing = (flags & 3) === 2;
        const pending = (rlen > 0 && (rlen >= rec.rhwm || !flowing)) || wlen > 0 || (flags & (F_WRITING | F_NEED_DRAIN)) !== 0;
        if (!pending || rec.ref !== null) continue;
        if (++rec.turns < WATCH_TURNS) {
          rec.watched = true;
          watchRecs.push(rec);
          watchStreams.push(s);
        } else {
          rec.ref = new WeakRef(s);
          young.push(rec);
        }
      } catch (_) { /* ignore */ }
    }
    watchRecs.splice(0, n);
    watchStreams.splice(0, n);
    if (watchRecs.length > 0 && !watchScheduled) { watchScheduled = true; setImmediate(checkWatched).unref(); }
  }

  const wrapped = new WeakSet();  // our wrapper functions, so a prototype is never wrapped twice
  function wrapMethod(proto, name, make) {
    const orig = proto[name];
    if (typeof orig !== 'function' || wrapped.has(orig)) return;
    const fn = make(orig);
    wrapped.add(fn);
    // Defined as enumerable as the original (own or inherited: EventEmitter's methods are), so
    // for…in sees the same keys as without the tracker.
    let d;
    for (let p = proto; p !== null && d === undefined; p = Object.getPrototypeOf(p)) d = Object.getOwnPropertyDescriptor(p, name);
    patch(proto, name, fn, d !== undefined ? d.enumerable : false);
  }
  // The write, push and destroy wrappers are kept tiny: V8 inlines them into node's own hot
  // callers (onStreamRead, write_, destroy…), and every byte of bytecode inlined there spends the
  // caller's inlining budget — with the counting inline (~250-330 bytes a wrapper, plus helpers),
  // node's callers stopped inlining emit() and its kin, and a busy service lost more to that than
  // to the counting itself. The work is in note(), one function for both sides of all three
  // operations and too big for V8 to inline (over its 460-byte limit): a plain call.
  const OP_WRITE = 0, OP_PUSH = 1, OP_DESTROY = 2;
  // Before the call (young === undefined): counts it and returns the stream's Rec when it is
  // tracked by this install, else undefined. After the call (young: that Rec, still young): a
  // write or push may have left it pending or overfull (afterYoung); a destroy folds it.
  function note(op, s, chunk, encoding, fn, young) {
    if (young !== undefined) {
      try {
        if (op === OP_WRITE) {
          const ws = s._writableState;
          // The OutgoingMessage family counts its socket's pending bytes as its own: pending
          // only once it asks for drain.
          if (ws !== undefined) afterYoung(young, s, 0, ws.length, ws.writing);
          else if (s.writableNeedDrain) afterYoung(young, s, 0, s.writableLength || 0, true);
          else afterYoung(young, s, 0, 0, false);
        } else if (op === OP_PUSH) {
          afterYoung(young, s, s._readableState.length, 0, false);
        } else {
          fold(young, s);
        }
      } catch (_) { /* ignore */ }
      return young;
    }
    const rec = Stamp.of(s);
    if (rec === undefined || rec.state === RETIRED) return undefined;
    try {
      if (op === OP_WRITE) {
        const ws = s._writableState;
        // A string is counted in the unit the stream buffers it in: where it is kept as a string
        // (sockets: decodeStrings false; the OutgoingMessage family) node counts its length in
        // characters, and so does this — measuring its UTF-8 size would flatten and scan every
        // header-plus-body string an http response writes (~1 % of a busy service's CPU).
        countWrite(rec, s, typeof chunk === 'string' && (ws === undefined || ws.decodeStrings === false)
          ? chunk.length : chunkBytes(chunk, encoding), ws !== undefined ? ws.needDrain : s.writableNeedDrain, fn);
      } else if (op === OP_PUSH) {
        const rs = s._readableState;
        const len = rs.length;
        // Pushed while full, and not from a _read() that asked for more (read() calls _read()
        // before it takes data out, so a pull-driven push may see a full buffer legitimately).
        countPush(rec, s, chunkBytes(chunk, encoding),
          len > 0 && len >= rs.highWaterMark && !rs.ended && !rs.reading, fn);
      } else {
        if (rec.state === YOUNG && chunk) promote(rec, s);  // destroy(err): an error is notable
        if (rec.state === TRACKED && !rec.destroySent) {
          rec.destroySent = true;
          event(rec.id, EV_DESTROY, 0, 0);
          touch(rec);
        }
      }
    } catch (_) { /* ignore */ }
    return rec;
  }
  function makeWrite(orig) {
    const write = function write(chunk, encoding, cb) {
      // .call with the named parameters rather than apply(arguments): every write passes here.
      const rec = enabled ? note(OP_WRITE, this, chunk, encoding, write, undefined) : undefined;
      const r = orig.call(this, chunk, encoding, cb);
      if (rec !== undefined && rec.state === YOUNG) note(OP_WRITE, this, undefined, undefined, null, rec);
      return r;
    };
    return write;
  }
  function makePush(orig) {
    const push = function push(chunk, encoding) {
      const rec = enabled && chunk !== null ? note(OP_PUSH, this, chunk, encoding, push, undefined) : undefined;
      const r = orig.call(this, chunk, encoding);
      if (rec !== undefined && rec.state === YOUNG) note(OP_PUSH, this, undefined, undefined, null, rec);
      return r;
    };
    return push;
  }
  function makePipe(orig) {
    return function pipe(dest, options) {
      try {
        const a = enabled ? recOf(this) : undefined;
        if (a !== undefined && a.state !== RETIRED) {
          const b = recOf(dest);
          noteEdge(a, b, dest);
        }
      } catch (_) { /* ignore */ }
      return orig.apply(this, arguments);
    };
  }
  function makeUnpipe(orig) {
    return function unpipe(dest) {
      const r = unpipeBefore(this, dest);
      const out = orig.apply(this, arguments);
      // A young source left holding data and no longer flowing (pipe() unpipes it when its
      // destination errors) gets no further push to look at it: watched like a write left pending.
      if (r !== undefined && r.state === YOUNG) {
        try { const rs = this._readableState; if (rs !== undefined) afterYoung(r, this, rs.length, 0, false); } catch (_) { /* ignore */ }
      }
      return out;
    };
  }
  function unpipeBefore(s, dest) {  // the source's Rec; an unpipe edge if it is tracked
    try {
      const a = enabled ? recOf(s) : undefined;
      const pipes = s._readableState && s._readableState.pipes;
      // A young source unpiped from a tracked destination that errored or was destroyed (pipe()'s
      // own error handling): promoted now, while its pipes still name that destination, so the
      // chain the error broke keeps its first link (a source that outlives it is the finding).
      if (a !== undefined && a.state === YOUNG && dest !== undefined && dest !== null) {
        const b = recOf(dest);
        if (b !== undefined && announced(b) && (dest.destroyed === true || dest.errored != null)) promote(a, s);
      }
      if (a !== undefined && a.state === TRACKED && Array.isArray(pipes)) {
        for (const d of pipes) {
          if (dest !== undefined && d !== dest) continue;
          const b = recOf(d);
          event(a.id, EV_UNPIPE, b !== undefined && b.state === TRACKED ? b.id : 0, 0);
        }
        touch(a);
      }
      return a;
    } catch (_) { return undefined; }
  }
  function makeDestroy(orig) {
    return function destroy(err, cb) {
      const rec = enabled ? note(OP_DESTROY, this, err, undefined, null, undefined) : undefined;
      const r = orig.call(this, err, cb);
      if (rec !== undefined && rec.state === YOUNG) note(OP_DESTROY, this, undefined, undefined, null, rec);
      return r;
    };
  }
  // 'drain' listeners. drain is emitted only after a write() that returned false (needDrain) has
  // drained, and only once the stream's own pending write callback has run. Code that starts
  // waiting for 'drain' when neither holds waits for an event that may never come: the stream is
  // promoted and a DrainWait event records why (its own callback pending, or not in needDrain)
  // and who waits (a budgeted call-site capture). Healthy code waits only after write() returned
  // false, which costs this a string compare; pipe()'s own drain handler is skipped.
  // Listener functions whose adding was seen from node's own code (http's per-socket handlers…):
  // the same function objects come back, and are skipped without another capture.
  const internalDrainHandlers = new WeakSet();
  // Ordered cheapest first: most listeners added are node's own handlers seen before (http's
  // client adds its socket's drain handler at every request), which the WeakSet answers before the
  // name (a native accessor) or the stream's record is read.
  function noteDrainListener(s, fn, skipFn) {
    const f = typeof fn === 'function' && typeof fn.listener === 'function' ? fn.listener : fn;
    if (typeof f !== 'function' || internalDrainHandlers.has(f) || f.name === 'pipeOnDrainFunctionResult') return;
    const rec = Stamp.of(s);
    if (rec === undefined || rec.state === RETIRED) return;
    const ws = s._writableState;
    const needDrain = ws !== undefined ? ws.needDrain : s.writableNeedDrain;
    // Inside its own _write/_transform (waiting on its own drain while its callback is pending can
    // never end, needDrain or not); else waiting while it is not in needDrain ends only if a later
    // write() returns false.
    const own = inOwnWrite(s);
    if (needDrain && !own) return;
    const reason = own ? DRAIN_OWN_PENDING : DRAIN_NOT_NEEDED;
    if ((rec.drainWaits & reason) !== 0) return;  // once per stream and reason
    // node's own modules and libraries add drain handlers at setup (http on every socket,
    // compression middleware on every response, stream adapters): a wait while not in needDrain
    // is noted only when the code adding the listener (the first frame past node:events) is the
    // app's own, so that needs a capture (within budget). Inside its own _write, any code counts.
    let site;
    if (reason === DRAIN_NOT_NEEDED) {
      site = captureDirectSite(skipFn);
      if (site === null) return;  // budget spent: perhaps next time
      if (site === '') { internalDrainHandlers.add(f); return; }
    } else {
      site = captureSite(skipFn);
    }
    rec.drainWaits |= reason;
    if (rec.state === YOUNG) promote(rec, s);
    if (rec.state !== TRACKED) return;
    event(rec.id, EV_DRAIN_WAIT, reason, site ? str(site) : 0);
    touch(rec);
  }
  // Whether the stream is inside its own _write/_transform right now: its writable side is
  // writing synchronously (sync is set around the _write call) — the LineParser shape.
  function inOwnWrite(s) {
    const ws = s._writableState;
    return ws !== undefined && ws.writing === true && ws.sync === true;
  }
  // One wrapper per original: EventEmitter's on and addListener are one function, and stay one
  // (emitter.on === emitter.addListener, as without the tracker).
  const onWrappers = new Map();
  function makeOn(orig) {
    let on = onWrappers.get(orig);
    if (on !== undefined) return on;
    on = function on(ev, fn) {
      if (ev === 'drain' && enabled) { try { noteDrainListener(this, fn, on); } catch (_) { /* ignore */ } }
      return arguments.length > 2 ? orig.apply(this, arguments) : orig.call(this, ev, fn);
    };
    onWrappers.set(orig, on);
    return on;
  }
  // Listener methods are wrapped on EventEmitter.prototype only. Readable's own on/addListener
  // (node's, and every readable-stream version's) add the listener through
  // Stream.prototype.on, which is EventEmitter's: wrapping them too ran the wrapper twice for every
  // listener a readable, duplex or socket gained. The capture of who added a 'drain' listener
  // skips their frames (sites.js, captureDirectSite).
  function wrapPrototype(proto) {
    wrapMethod(proto, 'write', makeWrite);
    wrapMethod(proto, 'push', makePush);
    wrapMethod(proto, 'pipe', makePipe);
    wrapMethod(proto, 'unpipe', makeUnpipe);
    wrapMethod(proto, 'destroy', makeDestroy);
  }
  // node's own: Duplex copies Writable's methods at load time; OutgoingMessage has its own write.
  const nodeProtos = new Set([Readable.prototype, Writable.prototype, Duplex.prototype,
    stream.Transform.prototype, stream.PassThrough.prototype, stream.Stream.prototype, EE.prototype, Object.prototype]);
  wrapMethod(Writable.prototype, 'write', makeWrite);
  wrapMethod(Duplex.prototype, 'write', makeWrite);
  wrapMethod(Readable.prototype, 'push', makePush);
  wrapMethod(Readable.prototype, 'pipe', makePipe);
  wrapMethod(Readable.prototype, 'unpipe', makeUnpipe);
  for (const p of [Readable.prototype, Writable.prototype, Duplex.prototype]) {
    wrapMethod(p, 'destroy', makeDestroy);
  }
  // on/addListener/prependListener (once and prependOnceListener call them): EventEmitter's own,
  // which every stream reaches (see wrapPrototype).
  for (const name of ['on', 'addListener', 'prependListener']) wrapMethod(EE.prototype, name, makeOn);

  // Userland streams (the readable-stream package, any version and copy): their base classes
  // carry their own write/push/pipe/destroy. Found on the prototype chain of a constructor's
  // first instance; base classes are recognised by name, so user subclasses are never rewritten.
  const USERLAND_BASES = new Set(['Readable', 'Writable', 'Duplex', 'Transform', 'PassThrough']);
  function wrapUserland(proto) {
    let found = false;
    for (let p = proto; p !== null; p = Object.getPrototypeOf(p)) {
      if (nodeProtos.has(p)) continue;
      const d = Object.getOwnPropertyDescriptor(p, 'constructor');
      if (d === undefined || typeof d.value !== 'function' || !USERLAND_BASES.has(d.value.name)) continue;
      if (!['write', 'push', 'pipe', 'destroy'].some((m) => Object.prototype.hasOwnProperty.call(p, m))) continue;
      found = true;
      try { wrapPrototype(p); } catch (_) { /* ignore */ }
    }
    return found;
  }

  // http(s) servers: where the app created (or started) them, so the streams node makes for each
  // request are attributed to that line rather than to node:_http_server.
  const serverSites = new WeakMap();
  function noteServer(server, skipFn, ownClasses) {
    if (server === null || typeof server !== 'object' || serverSites.has(server)) return;
    const site = captureNow(skipFn, ownClasses);
    if (site && !site.startsWith('node:')) serverSites.set(server, str(site));
  }
  // net and http are hooked when the app loads them: at install if they are loaded already (an
  // attach), else the moment the first server or outgoing message is made (initWrapper: a
  // non-stream EventEmitter with a listen() method, or with OutgoingMessage's _implicitHeader),
  // else at a tick that finds them in node's module list.
  let netHooked = false, outgoingHooked = false, serverHooked = false, httpHooked = false;
  function loaded(name) {
    const list = process.moduleLoadList;
    return Array.isArray(list) && list.includes('NativeModule ' + name);
  }
  function hookNet() {
    if (netHooked || !loaded('net')) return;
    const net = require('net');
    if (typeof net.Server !== 'function') return;  // still loading
    netHooked = true;
    wrapMethod(net.Server.prototype, 'listen', (orig) => {
      const listen = function listen() {
        try { if (enabled) noteServer(this, listen); } catch (_) { /* ignore */ }
        return orig.apply(this, arguments);
      };
      return listen;
    });
  }
  // Each of http's modules as it is loaded: https loads _http_outgoing, _http_server and
  // _http_client but never http itself.
  function hookHttp() {
    let changed = false;
    if (!outgoingHooked && loaded('_http_outgoing')) {
      const om = require('_http_outgoing').OutgoingMessage;
      if (typeof om === 'function') {
        outgoingHooked = changed = true;
        OutgoingMessage = om;
        nodeProtos.add(om.prototype);
        wrapMethod(om.prototype, 'write', makeWrite);
        wrapMethod(om.prototype, 'destroy', makeDestroy);
      }
    }
    if (!serverHooked && loaded('_http_server')) {
      const sr = require('_http_server').ServerResponse;
      if (typeof sr === 'function') {
        serverHooked = changed = true;
        // ServerResponse is not destroyed when it finishes; its socket is detached then.
        wrapMethod(sr.prototype, 'detachSocket', (orig) => function detachSocket(socket) {
          const r = orig.apply(this, arguments);
          try {
            const rec = enabled ? Stamp.of(this) : undefined;
            if (rec !== undefined) {
              if (rec.state === YOUNG && this.writableFinished) fold(rec, this);
              else if (rec.state === TRACKED) touch(rec);
            }
          } catch (_) { /* ignore */ }
          return r;
        });
      }
    }
    // (https.createServer is not wrapped: requiring https would initialise OpenSSL's certificate
    // store in every tracked process; an https server's site comes from its construction or its
    // listen() call.)
    if (!httpHooked && loaded('http')) {
      const http = require('http');
      if (typeof http.createServer === 'function') {
        httpHooked = changed = true;
        const origCreate = http.createServer;
        const createServer = function createServer() {
          const srv = origCreate.apply(this, arguments);
          try { if (enabled) noteServer(srv, createServer); } catch (_) { /* ignore */ }
          return srv;
        };
        patch(http, 'createServer', createServer);
      }
    }
    if (changed) syncESM();
  }
  // From initWrapper, for an EventEmitter that is not a stream, until http is hooked.
  function netOrHttpMade(o) {
    if (typeof o.listen === 'function') {  // a server (net's, http's, https'), being constructed
      hookNet();
      hookHttp();
      // A subclass's own constructors are skipped: the site is where it is made.
      if (netHooked) noteServer(o, initWrapper, classNames(Object.getPrototypeOf(o)));
    } else if (!outgoingHooked && typeof o._implicitHeader === 'function') {  // an OutgoingMessage (a ClientRequest, say)
      hookHttp();
      if (outgoingHooked && o instanceof OutgoingMessage) registerNode(o, initWrapper);
    }
  }
  // Builtins patched after an ES module imported them: its bindings are node's ESM facades, which
  // copy the exports when made, so they are synced (only if the ESM loader is in use: a facade
  // made later copies the patched exports).
  function syncESM() {
    if (!loaded('internal/modules/esm/translators')) return;
    try { require('module').syncBuiltinESMExports(); } catch (_) { /* ignore */ }
  }
  function serverSite(s) {
    try {
      if (s.server !== undefined && s.server !== null && typeof s.server === 'object') {  // a server's socket
        const site = serverSites.get(s.server);
        if (site !== undefined) return site;
      }
      const sock = s.socket || (s.req && s.req.socket) || null;
      if (sock && sock.server) return serverSites.get(sock.server) || 0;
      const req = s.req;  // a client response: where its request was made
      const r = req && recOf(req);
      if (r !== undefined && (r.kind & K_HTTP_OUT) && !(r.kind & K_SITE_INFERRED)) return r.siteId;
    } catch (_) { /* ignore */ }
    return 0;
  }

  // pipeline(): one Pipeline record per call, sent once one of its stages is tracked (a pipeline
  // of streams that all finish young is folded with them). Non-stream stages get id 0 and a label.
  let nextPipeline = 1;
  const pipelineSites = bucket(64, 20);
  let lastPipelineSite = 0;
  function notePipeline(args, hasCallback, fn) {
    if (!enabled) return;
    try {
      let stages = args.slice();
      const last = stages[stages.length - 1];
      if (hasCallback && typeof last === 'function') stages.pop();
      else if (!hasCallback && stages.length > 1 && last !== null && typeof last === 'object' &&
               typeof last.on !== 'function' && typeof last[Symbol.iterator] !== 'function' &&
               typeof last[Symbol.asyncIterator] !== 'function') stages.pop();  // options
      if (stages.length === 1 && Array.isArray(stages[0])) stages = stages[0];
      const recs = [], labels = [], handles = [];
      let anyTracked = false;
      for (const st of stages) {
        const rec = recOf(st);
        if (rec !== undefined) {  // a stream stage: its rec (and its type's name as the label)
          const live = rec.state !== RETIRED;
          recs.push(live ? rec : null);
          handles.push(live ? st : null);
          labels.push(rec.ti.nameId);
          if (rec.state === TRACKED) anyTracked = true;
          continue;
        }
        let label;
        if (typeof st === 'function') {
          const k = st.constructor && st.constructor.name;
          label = (k === 'AsyncGeneratorFunction' ? 'async generator' : k === 'GeneratorFunction'
            ? 'generator' : k === 'AsyncFunction' ? 'async function' : 'function') + (st.name ? ' ' + st.name : '');
        } else if (st != null && (typeof st[Symbol.asyncIterator] === 'function' ||
                   typeof st[Symbol.iterator] === 'function')) label = 'iterable';
        else label = typeof st;
        recs.push(null);
        handles.push(null);
        labels.push(str(label));
      }
      if (take(pipelineSites)) {
        const site = captureSite(fn);
        if (site !== null) lastPipelineSite = str(site);
      }
      const p = { id: nextPipeline++, t: nowUs(), site: lastPipelineSite, stages: recs, streams: handles, labels, sent: false };
      if (anyTracked) { sendPipeline(p); return; }
      for (const r of recs) if (r !== null) r.pipeline = p;
    } catch (_) { /* ignore */ }
  }
  const streamPromises = require('stream/promises');
  const origPipelineP = streamPromises.pipeline, origPipeline = stream.pipeline;
  const pipelineP = function pipeline(...args) {
    notePipeline(args, false, pipelineP);
    return origPipelineP.apply(this, args);
  };
  const pipelineCb = function pipeline(...args) {
    notePipeline(args, true, pipelineCb);
    return origPipeline.apply(this, args);
  };
  const custom = require('util').promisify.custom;
  Object.defineProperty(pipelineCb, custom, { value: pipelineP, configurable: true });
  patch(streamPromises, 'pipeline', pipelineP);  // also stream.promises.pipeline (same object)
  patch(stream, 'pipeline', pipelineCb);

  hookNet();
  hookHttp();
  syncESM();

  // ---- WHATWG streams (web.js), hooked once the app uses them ----------------------------------
  // node loads its web streams lazily (the globals are accessors until first read), and most
  // services never use them: hooking them at start would load them into every tracked process
  // (~0.3 MiB of heap, and start-up time). Until then the three constructor globals are accessors
  // of ours that hook web streams and hand over, and each tick looks for node having loaded them
  // another way (require('stream/web'), an import, fetch); streams made before that are
  // registered when a hooked method first touches them, their creation site unknown.
  const WEB_GLOBALS = ['ReadableStream', 'WritableStream', 'TransformStream'];
  const WEB_MODULES = new Set(['NativeModule internal/webstreams/readablestream',
    'NativeModule internal/webstreams/writablestream', 'NativeModule internal/webstreams/transformstream']);
  const webJs = require('./web.js');  // loads nothing of node's until install()
  let web = null;  // web.js's API once hooked (webJs.NONE if that failed); K_WEB streams exist only then
  let unseenSiteId = 0;
  function unseenSite() {  // the creation site of a web stream first met after it was made
    if (unseenSiteId === 0) unseenSiteId = str('(not seen being made: made inside node, or before web streams were hooked)');
    return unseenSiteId;
  }
  const webAccessors = [];  // our patches of the constructor globals, undone when web streams are hooked
  let loadListSeen = 0;
  function webModulesLoaded() {
    const list = process.moduleLoadList;
    if (!Array.isArray(list)) return false;
    for (let i = loadListSeen; i < list.length; i++) if (WEB_MODULES.has(list[i])) return true;
    loadListSeen = list.length;
    return false;
  }
  function hookWeb() {
    if (web !== null) return;
    web = webJs.NONE;
    for (const p of webAccessors) restore(p);  // node's lazy globals back first
    webAccessors.length = 0;
    try {
      web = webJs.install({
        register, recOf, promote, countWrite, countPush, afterYoung, noteEdge, chunkBytes,
        K_READABLE, K_WRITABLE, K_R_OBJ, K_W_OBJ, K_WEB, YOUNG, TRACKED, RETIRED,
        F_NEED_DRAIN, F_R_ENDED, F_FINISHED, F_ERRORED, F_WRITING, F_CLOSED, F_DESTROYED,
        enabled: () => enabled, patch, unseenSite,
      });
      syncESM();
    } catch (_) { web = webJs.NONE; }
  }
  if (webModulesLoaded()) {
    hookWeb();
  } else {
    for (const name of WEB_GLOBALS) {
      const own = Object.getOwnPropertyDescriptor(globalThis, name);
      if (own === undefined || !own.configurable) continue;
      const get = function get() { hookWeb(); return globalThis[name]; };
      const set = function set(v) { hookWeb(); globalThis[name] = v; };
      try { webAccessors.push(patchAccessor(globalThis, name, get, set, own.enumerable)); } catch (_) { /* ignore */ }
    }
  }

  // ---- sampling --------------------------------------------------------------------------
  // The state of a stream as flags and lengths, from its state objects (public getters only for
  // the OutgoingMessage family; web.js for WHATWG streams). err is set when it has errored.
  const st = { flags: 0, rlen: 0, wlen: 0, err: null };
  function readState(rec, s) {
    if (rec.kind & K_WEB) return web.readState(s, st);
    const rs = s._readableState, ws = s._writableState;
    let flags = 0, rlen = 0, wlen = 0, err = null;
    if (rs) {
      const fl = rs.flowing;
      flags = fl === null ? 0 : fl ? 2 : 1;
      rlen = rs.length;
      if (rs.endEmitted) flags |= F_R_ENDED;
      if (rs.destroyed) flags |= F_DESTROYED;
      if (rs.closed) flags |= F_CLOSED;
      err = rs.errored || (rs.errorEmitted ? true : null);
    }
    if (ws) {
      wlen = ws.length;
      if (ws.needDrain) flags |= F_NEED_DRAIN;
      if (ws.ending) flags |= F_W_ENDED;
      if (ws.finished) flags |= F_FINISHED;
      if (ws.destroyed) flags |= F_DESTROYED;
      if (ws.writing) flags |= F_WRITING;
      if (ws.closed) flags |= F_CLOSED;
      err = err || ws.errored || (ws.errorEmitted ? true : null);
    } else if (!rs) {  // OutgoingMessage family
      wlen = s.writableLength || 0;
      if (s.writableNeedDrain) flags |= F_NEED_DRAIN;
      if (s.writableEnded) flags |= F_W_ENDED;
      if (s.writableFinished) flags |= F_FINISHED;
      if (s.destroyed) flags |= F_DESTROYED;
      if (s.closed) flags |= F_CLOSED;
      err = s.errored;
    }
    if (err) flags |= F_ERRORED;
    st.flags = flags; st.rlen = rlen; st.wlen = wlen; st.err = err;
    return st;
  }
  // Done for good: destroyed, or every side it has ended (and finished).
  function terminal(rec, flags) {
    if (flags & F_DESTROYED) return true;
    if ((rec.kind & K_READABLE) && !(flags & F_R_ENDED)) return false;
    if ((rec.kind & K_WRITABLE) && !(flags & F_FINISHED)) return false;
    return true;
  }
  function sampleStream(rec, t) {  // returns true when the stream should stay hot
    const s = rec.ref.deref();
    if (s === undefined) { untrack(rec, t); return false; }
    const { flags, rlen, wlen, err } = readState(rec, s);
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
    // Retired with its final sample: a terminal stream changes no more (an errored one stays
    // until collected, so the chain around it can be judged).
    if (terminal(rec, flags) && !(flags & F_ERRORED)) { untrack(rec, t); return false; }
    return (rlen > 0 || wlen > 0 || (flags & (F_WRITING | F_NEED_DRAIN)) !== 0) && rec.idle < HOT_IDLE_TICKS;
  }
  function sampleSafely(rec, t) {  // one odd stream (throwing getters...) must not stop the sweep
    try { return sampleStream(rec, t); } catch (_) { return false; }
  }
  // Collected, or retired: a Gone event ends its record; the Rec stays on a live stream (RETIRED)
  // so later calls pass straight through.
  function untrack(rec, t) {
    rec.state = RETIRED;
    const o = row(ROW_EVENT, t);
    rows[o] = rec.id; rows[o + 1] = EV_GONE; rows[o + 2] = 0; rows[o + 3] = 0;
    const last = all.pop();
    if (last !== rec) { all[rec.idx] = last; last.idx = rec.idx; }
    rec.ref = null;
  }
  // Young streams seen at a tick: collected or finished ones are folded, errored ones and those
  // older than an interval are promoted, the rest wait for the next tick. At exit (final) the
  // ones still waiting are counted in their aggregates as created (not retired).
  function settleYoung(final) {
    const list = young, now = monoMs();
    young = [];
    for (let i = 0; i < list.length; i++) {
      const rec = list[i];
      if (rec.state !== YOUNG) continue;
      try {
        const s = rec.ref.deref();
        if (s === undefined) { fold(rec, undefined); continue; }
        const { flags } = readState(rec, s);
        if (flags & F_ERRORED) promote(rec, s);
        else if (terminal(rec, flags)) fold(rec, s);
        else if (now - rec.born >= intervalMs) promote(rec, s);
        else if (final) settle(rec, s);
        else young.push(rec);
      } catch (_) { rec.state = RETIRED; rec.ref = null; }
    }
  }

  const AW = addon.aggregateWidth || 22;
  let aggRows = new Float64Array(64 * AW);
  function flushAggregates(t) {
    if (dirtyAggs.length === 0) return;
    const list = dirtyAggs;
    dirtyAggs = [];
    if (aggRows.length < list.length * AW) aggRows = new Float64Array(list.length * AW);
    for (let i = 0; i < list.length; i++) {
      const a = list[i], o = i * AW;
      a.dirty = false;
      aggRows[o] = t; aggRows[o + 1] = a.typeId; aggRows[o + 2] = a.siteId; aggRows[o + 3] = a.kind;
      aggRows[o + 4] = a.created; aggRows[o + 5] = a.promoted; aggRows[o + 6] = a.retired; aggRows[o + 7] = a.inferred;
      aggRows[o + 8] = a.bytesIn; aggRows[o + 9] = a.bytesPushed; aggRows[o + 10] = a.writeCalls; aggRows[o + 11] = a.pushCalls;
      aggRows[o + 12] = a.peakR; aggRows[o + 13] = a.peakW; aggRows[o + 14] = a.rhwm; aggRows[o + 15] = a.whwm;
      for (let b = 0; b < 6; b++) aggRows[o + 16 + b] = a.hist[b];
    }
    addon.aggregates(aggRows, list.length);
  }

  // Process counters come from the main thread only (rss and external are process-wide; a
  // worker's heap is its own isolate's and is not sampled yet).
  // Event-loop delay: how late an unref'd probe timer fires (every 20-50 ms), mean and max per
  // interval. monitorEventLoopDelay's histogram cost more than everything else per tick (reading
  // its mean walks every bucket, reset() clears them all: ~0.5 M instructions a tick).
  const delayResolutionMs = Math.max(20, Math.min(50, intervalMs >> 1));
  let lateSumMs = 0, lateMaxMs = 0, lateCount = 0, probeDue = 0, probe = null;
  function onProbe() {
    const now = monoMs(), late = Math.max(0, now - probeDue);
    lateSumMs += late; lateCount++;
    if (late > lateMaxMs) lateMaxMs = late;
    probeDue = now + delayResolutionMs;
  }
  if (threadId === 0) {
    // Garbage collections of the main isolate (kind, pause, heap before/after, external after)
    // from V8's GC callbacks in the addon, sent with each flush; TIDEMARK_GC_PROBE=0 turns off the
    // rare collection request made while memory climbs uncollected (addon.cpp, maybe_probe).
    if (typeof addon.observeGc === 'function') addon.observeGc(attached ? options.gcProbe !== false : process.env.TIDEMARK_GC_PROBE !== '0');
    probeDue = monoMs() + delayResolutionMs;
    probe = setInterval(onProbe, delayResolutionMs);
    probe.unref();
  }
  function sampleProcess(t) {
    if (probe === null) return;
    const m = process.memoryUsage();
    const mean = lateCount > 0 ? Math.round(lateSumMs / lateCount * 1000) : 0, max = Math.round(lateMaxMs * 1000);
    lateSumMs = 0; lateMaxMs = 0; lateCount = 0;
    const o = row(ROW_PROCESS, t);
    rows[o] = m.rss; rows[o + 1] = m.heapUsed; rows[o + 2] = m.heapTotal; rows[o + 3] = m.external;
    rows[o + 4] = m.arrayBuffers; rows[o + 5] = mean; rows[o + 6] = max;
  }

  function tick(final) {
    try {
      const t = nowUs();
      epoch++;
      refillBuckets();
      if (web === null && webModulesLoaded()) hookWeb();
      if (!httpHooked) { hookNet(); hookHttp(); }
      sampleProcess(t);
      settleYoung(final === true);
      const current = hot;
      hot = [];
      for (let i = 0; i < current.length; i++) {
        const rec = current[i];
        rec.hot = false;
        if (rec.state === TRACKED && sampleSafely(rec, t) && !rec.hot) { rec.hot = true; hot.push(rec); }
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
        if (rec.state === TRACKED) cursor++;  // an untracked rec's slot now holds another rec
      }
      flushRows();
      flushAggregates(t);
    } catch (_) { nrows = 0; }
  }
  // Ticks are scheduled against absolute times (not setInterval, whose period stretches by each
  // callback's lateness), so a loaded loop still gets one sample per interval on average; ticks
  // missed while the loop was blocked are skipped, not bunched.
  let timer = null;
  let nextTickAt = monoMs() + intervalMs;
  function scheduleTick() {
    timer = setTimeout(onTimer, Math.max(1, nextTickAt - monoMs()));
    timer.unref();
  }
  function onTimer() {
    if (!enabled) return;
    tick();
    const now = monoMs();
    nextTickAt += intervalMs;
    if (nextTickAt <= now) nextTickAt = now + intervalMs - ((now - nextTickAt) % intervalMs);
    scheduleTick();
  }
  tick();  // a first sample as soon as the tracker is in, so the trace starts with the process
  scheduleTick();
  function stopTracking() {
    enabled = false;
    clearTimeout(timer);
    if (probe !== null) clearInterval(probe);
    if (attached) {  // streams still reachable drop their Recs (and through them this install's state)
      const drop = (s) => { try { if (s !== undefined && Brand.peek(s) !== undefined) Brand.write(s, DETACHED); } catch (_) { /* ignore */ } };
      for (const rec of all) if (rec.ref !== null) drop(rec.ref.deref());
      for (const rec of young) if (rec.ref !== null) drop(rec.ref.deref());
      for (const s of watchStreams) drop(s);
    }
    all.length = 0;
    hot = [];
    young = [];
    watchRecs.length = 0;
    watchStreams.length = 0;
    dirtyAggs = [];
    if (attached) uninstall();  // the agent is gone: leave the process as it was
  }
  function onExit(code) {
    try {
      if (!enabled) return;
      clearTimeout(timer);
      tick(true);
      addon.goodbye(nowUs(), typeof code === 'number' ? code : 0);
    } catch (_) { /* ignore */ }
  }
  process.on('exit', onExit);

  // Detach (attached trackers only): stop, undo every patch, close the connection. Streams
  // stamped meanwhile keep their (retired) Recs until they are collected; nothing else stays.
  let uninstalled = false;
  function uninstall() {
    if (uninstalled) return;
    uninstalled = true;
    stopTracking();
    unpatchAll();
    process.removeListener('exit', onExit);
    syncESM();
    try { if (typeof addon.stop === 'function') addon.stop(); } catch (_) { /* ignore */ }
    if (options !== undefined && typeof options.onUninstall === 'function') try { options.onUninstall(); } catch (_) { /* ignore */ }
  }

  // Streams that existed before an attach (tidemark attach --existing hands them over from a heap
  // walk): tracked from now on, their creation site unknown. Ended or destroyed ones are skipped.
  function adopt(list) {
    let n = 0;
    if (!enabled || list === null || typeof list !== 'object') return 0;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      try {
        if (s === null || typeof s !== 'object' || recOf(s) !== undefined || !isStream(s)) continue;
        const rs = s._readableState, ws = s._writableState;
        if ((rs && (rs.destroyed || rs.endEmitted) && !ws) || (ws && (ws.destroyed || ws.finished) && !rs) ||
            (rs && ws && (rs.destroyed || ws.destroyed || (rs.endEmitted && ws.finished)))) continue;
        if (!rs && !ws && (s.writableFinished || s.destroyed)) continue;
        if (earlierSite === 0) earlierSite = str('(created before tidemark attached)');
        const rec = registerNode(s, adopt, earlierSite, true);
        if (rec !== undefined) { promote(rec, s); n++; }
      } catch (_) { /* ignore */ }
    }
    flushRows();
    return n;
  }
  return { uninstall, adopt };
};
