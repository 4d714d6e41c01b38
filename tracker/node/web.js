// WHATWG streams (ReadableStream, WritableStream, TransformStream) for the tracker: they do not
// go through EventEmitter.init, so the global and `stream/web` constructors are replaced by
// Proxies (instanceof, statics and subclassing keep working) that register each new stream, and
// streams node makes internally (fetch bodies, Readable.toWeb, a TransformStream's two sides)
// are registered the first time a hooked method touches them. Counted like node streams:
//   - a writer.write() made while desiredSize <= 0 is a write after false;
//   - a controller.enqueue() made while desiredSize <= 0 is a push after false;
//   - pipeTo / pipeThrough are pipe edges (a TransformStream's writable side feeds its readable);
//   - queue size against the strategy's highWaterMark is sampled from node's internal state.
// Queue sizes are in the strategy's units: chunks (object mode) unless the stream is a byte
// stream or uses a ByteLengthQueuingStrategy. Everything here is node-20-specific and defensive:
// if node's internals are not where they are expected, web streams are simply not tracked.
'use strict';

// What install() returns when web streams cannot be tracked here.
const none = { readState: (s, st) => { st.flags = 0; st.rlen = 0; st.wlen = 0; st.err = null; return st; } };
exports.NONE = none;

exports.install = function install(api) {
  const g = globalThis;
  if (typeof g.ReadableStream !== 'function' || typeof g.WritableStream !== 'function') return none;
  const webMod = require('stream/web');
  const { K_READABLE, K_WRITABLE, K_R_OBJ, K_W_OBJ, K_WEB, RETIRED } = api;
  const { F_NEED_DRAIN, F_R_ENDED, F_FINISHED, F_ERRORED, F_WRITING, F_CLOSED } = api;

  // node keeps each web stream's state under a module-private symbol described 'kState'.
  let kState;
  try {
    const probe = new g.WritableStream();
    kState = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'kState');
    const c = kState && probe[kState].controller;
    if (!c || !c[kState] || typeof c[kState].queueTotalSize !== 'number') return none;
  } catch (_) { return none; }
  const OrigRS = g.ReadableStream, OrigWS = g.WritableStream, OrigTS = g.TransformStream;
  const ByteLength = g.ByteLengthQueuingStrategy, Count = g.CountQueuingStrategy;
  // node's strategies hand out one shared size function each.
  let byteSize = null, countSize = null;
  try { byteSize = ByteLength ? new ByteLength({ highWaterMark: 1 }).size : null; } catch (_) { /* ignore */ }
  try { countSize = Count ? new Count({ highWaterMark: 1 }).size : null; } catch (_) { /* ignore */ }

  function controllerState(s) {
    const st = s[kState];
    return st && st.controller ? st.controller[kState] : undefined;
  }
  // Units: bytes for byte streams and byte-length strategies, chunks otherwise.
  function objectKind(s, readable, strategy) {
    if (readable && s[kState] && s[kState].controller && s[kState].controller.constructor &&
        s[kState].controller.constructor.name === 'ReadableByteStreamController') return 0;
    const objects = readable ? K_R_OBJ : K_W_OBJ;
    // The size function the stream was made with, from its controller: known even for a stream
    // first met after it was made (its strategy argument never seen).
    const cs = controllerState(s), size = cs !== undefined ? cs.sizeAlgorithm : undefined;
    if (typeof size === 'function') {
      if (size === byteSize) return 0;
      if (size === countSize) return objects;
      try { if (String(size) === '() => 1') return objects; } catch (_) { /* ignore */ }  // no strategy: node's default counts chunks
      return 0;  // a custom size: its own units
    }
    if (strategy === undefined || strategy === null) return objects;  // the default counts chunks
    if (ByteLength && strategy instanceof ByteLength) return 0;
    if (Count && strategy instanceof Count) return objects;
    return typeof strategy.size === 'function' ? 0 : objects;  // a custom size: its own units
  }
  // made: called from a constructor's trap (the stream is being made: its site is captured).
  // Otherwise the stream is met at its first hooked call — node made it internally, or the app
  // made it before web streams were hooked — and its creation site is reported as not seen
  // rather than as that call's line (the call's own site is still recorded when it matters).
  function track(s, readable, strategy, skipFn, made) {
    const known = api.recOf(s);
    if (known !== undefined) return known;
    const cs = controllerState(s);
    const hwm = cs && typeof cs.highWaterMark === 'number' && Number.isFinite(cs.highWaterMark) ? cs.highWaterMark : 0;
    const kind = K_WEB | (readable ? K_READABLE : K_WRITABLE) | objectKind(s, readable, strategy);
    return api.register(s, kind, readable ? hwm : 0, readable ? 0 : hwm, skipFn,
      made === true ? undefined : api.unseenSite(), made !== true);
  }

  // Constructors: Proxies whose construct trap registers the new stream.
  function proxied(Orig, readable, wrap) {
    const p = new Proxy(Orig, {
      construct(target, args, newTarget) {
        const s = Reflect.construct(target, args, newTarget);
        try { if (api.enabled()) wrap(s, args); } catch (_) { /* ignore */ }
        return s;
      },
    });
    return p;
  }
  let RS = OrigRS, WS = OrigWS, TS = OrigTS;
  RS = proxied(OrigRS, true, (s, args) => track(s, true, args[1], RS, true));
  WS = proxied(OrigWS, false, (s, args) => track(s, false, args[1], WS, true));
  if (typeof OrigTS === 'function') {
    TS = proxied(OrigTS, false, (t, args) => {
      const w = track(t.writable, false, args[1], TS, true), r = track(t.readable, true, args[2], TS, true);
      if (w !== undefined && r !== undefined) api.noteEdge(w, r, t.readable);
    });
  }
  for (const [name, P] of [['ReadableStream', RS], ['WritableStream', WS], ['TransformStream', TS]]) {
    if (P === undefined) continue;
    try { api.patch(g, name, P, false); } catch (_) { /* ignore */ }
    try { if (webMod[name] !== undefined) api.patch(webMod, name, P); } catch (_) { /* ignore */ }
  }

  const chunkSize = (c) => (c !== null && typeof c === 'object' && typeof c.byteLength === 'number' ? c.byteLength
    : typeof c === 'string' ? c.length : 0);
  function wrap(proto, name, make) {
    const orig = proto && proto[name];
    if (typeof orig === 'function') api.patch(proto, name, make(orig));
  }

  // Writers: a write while desiredSize <= 0 did not wait for writer.ready.
  const Writer = g.WritableStreamDefaultWriter || webMod.WritableStreamDefaultWriter;
  wrap(Writer && Writer.prototype, 'write', (orig) => {
    const write = function write(chunk) {
      try {
        const ws = api.enabled() && this[kState] ? this[kState].stream : undefined;
        const rec = ws !== undefined ? track(ws, false, undefined, write) : undefined;
        if (rec !== undefined && rec.state !== RETIRED) {
          const desired = this.desiredSize;
          api.countWrite(rec, ws, chunkSize(chunk), typeof desired === 'number' && desired <= 0, write);
          const r = orig.apply(this, arguments);
          if (rec.state === api.YOUNG) { const cs = controllerState(ws); if (cs) api.afterYoung(rec, ws, 0, cs.queueTotalSize, false); }
          return r;
        }
      } catch (_) { /* ignore */ }
      return orig.apply(this, arguments);
    };
    return write;
  });
  // Controllers: an enqueue while desiredSize <= 0 ignored the stream's backpressure.
  for (const C of [g.ReadableStreamDefaultController || webMod.ReadableStreamDefaultController,
    g.ReadableByteStreamController || webMod.ReadableByteStreamController]) {
    wrap(C && C.prototype, 'enqueue', (orig) => {
      const enqueue = function enqueue(chunk) {
        try {
          const rs = api.enabled() && this[kState] ? this[kState].stream : undefined;
          const rec = rs !== undefined ? track(rs, true, undefined, enqueue) : undefined;
          if (rec !== undefined && rec.state !== RETIRED) {
            const desired = this.desiredSize;
            api.countPush(rec, rs, chunkSize(chunk), typeof desired === 'number' && desired <= 0, enqueue);
            const r = orig.apply(this, arguments);
            if (rec.state === api.YOUNG) { const cs = controllerState(rs); if (cs) api.afterYoung(rec, rs, cs.queueTotalSize, 0, false); }
            return r;
          }
        } catch (_) { /* ignore */ }
        return orig.apply(this, arguments);
      };
      return enqueue;
    });
  }
  const RSP = OrigRS.prototype;
  wrap(RSP, 'pipeTo', (orig) => function pipeTo(dest) {
    try {
      if (api.enabled() && dest instanceof OrigWS) {
        const a = track(this, true, undefined, pipeTo), b = track(dest, false, undefined, pipeTo);
        if (a !== undefined && b !== undefined) { if (b.state === api.TRACKED) api.promote(a, this); api.noteEdge(a, b, dest); }
      }
    } catch (_) { /* ignore */ }
    return orig.apply(this, arguments);
  });
  wrap(RSP, 'pipeThrough', (orig) => function pipeThrough(pair) {
    try {
      if (api.enabled() && pair && pair.writable instanceof OrigWS) {
        const a = track(this, true, undefined, pipeThrough), b = track(pair.writable, false, undefined, pipeThrough);
        if (a !== undefined && b !== undefined) { if (b.state === api.TRACKED) api.promote(a, this); api.noteEdge(a, b, pair.writable); }
        if (pair.readable instanceof OrigRS) {
          const c = track(pair.readable, true, undefined, pipeThrough);
          if (b !== undefined && c !== undefined) api.noteEdge(b, c, pair.readable);
        }
      }
    } catch (_) { /* ignore */ }
    return orig.apply(this, arguments);
  });
  wrap(OrigWS.prototype, 'getWriter', (orig) => function getWriter() {
    try { if (api.enabled()) track(this, false, undefined, getWriter); } catch (_) { /* ignore */ }
    return orig.apply(this, arguments);
  });

  // Sampled state: queue size; a readable nobody reads (no reader, never disturbed) reads as
  // flowing null, one with a reader as flowing; backpressure is needDrain.
  function readState(s, st) {
    const ss = s[kState], cs = controllerState(s);
    let flags = 0, rlen = 0, wlen = 0, err = null;
    const q = cs && typeof cs.queueTotalSize === 'number' ? cs.queueTotalSize : 0;
    if (s instanceof OrigRS) {
      rlen = q;
      flags = ss.reader !== undefined ? 2 : ss.disturbed ? 1 : 0;
      if (ss.state === 'closed') flags |= F_R_ENDED | F_CLOSED;
    } else {
      wlen = q;
      if (ss.backpressure) flags |= F_NEED_DRAIN;
      if (ss.inFlightWriteRequest && ss.inFlightWriteRequest.promise !== undefined) flags |= F_WRITING;
      if (ss.state === 'closed') flags |= F_FINISHED | F_CLOSED;
    }
    if (ss.state === 'errored') { flags |= F_ERRORED; err = ss.storedError || true; }
    st.flags = flags; st.rlen = rlen; st.wlen = wlen; st.err = err;
    return st;
  }
  return { readState };
};
