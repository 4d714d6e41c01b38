// Call sites for the tracker: the first frame of the app's own code in a stack, captured within
// budgets. Stack captures cost ~10-40 µs each, so every capture takes a token from a bucket that
// the tracker refills at each tick (no clock read on the hot path); past the budget the caller
// falls back on what it captured before and says so. Frames are read structurally (V8 CallSite
// objects through Error.prepareStackTrace), never by formatting and parsing the stack text.
'use strict';

// The site is the first frame in the app's own code: outside node: internals, the tracker and
// node_modules; else the first node_modules frame (a library the app calls); else the first
// node: frame past the stream machinery. When a library stands between the stream and the app's
// frame, the library frame nearest the stream is kept as secondary evidence:
// "/srv/app/broadcast.js:31 via ws/lib/sender.js:569" (the model splits at " via ").
exports.create = function create(selfDir, intervalMs, siteCapturesPerS, siteBurst) {
  const holder = {};
  // Token buckets refilled at each tick (no clock read on the hot path).
  const buckets = [];
  function bucket(burst, perS) {
    const b = { tokens: burst, burst, perTick: perS * intervalMs / 1000 };
    buckets.push(b);
    return b;
  }
  function refillBuckets() {
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i];
      if (b.tokens < b.burst) b.tokens = Math.min(b.burst, b.tokens + b.perTick);
    }
  }
  const globalSites = bucket(siteBurst, siteCapturesPerS);
  function take(b) {
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }
  function captureSite(skipFn, ownClasses) {
    if (!take(globalSites)) return null;
    return captureNow(skipFn, ownClasses);
  }
  function frames(skipFn, depth) {
    // Structured frames (V8 CallSite objects) instead of the formatted stack text.
    const limit = Error.stackTraceLimit, prepare = Error.prepareStackTrace;
    let out;
    try {
      Error.stackTraceLimit = depth;
      Error.prepareStackTrace = structuredFrames;
      Error.captureStackTrace(holder, skipFn);
      out = holder.stack;
    } finally {
      Error.stackTraceLimit = limit;
      Error.prepareStackTrace = prepare;
      holder.stack = undefined;
    }
    return Array.isArray(out) ? out : null;
  }
  function captureNow(skipFn, ownClasses) {
    const fs = frames(skipFn, 16);
    return fs !== null ? firstUserFrame(fs, ownClasses) : '';
  }
  // The direct caller past node:events (once → on): its "file:line" when it is the app's own code,
  // '' when it is node's or a library's, null when the budget is spent.
  function captureDirectSite(skipFn) {
    if (!take(globalSites)) return null;
    const fs = frames(skipFn, 8);  // events.once() alone is five frames of node:events and a Promise
    if (fs === null) return '';
    for (let i = 0; i < fs.length; i++) {
      let file = fs[i].getFileName();
      if (typeof file !== 'string' || !file) continue;
      if (file.startsWith('node:events') || file.startsWith(selfDir)) continue;
      // Readable's own on/addListener (node's and readable-stream's) pass the listener on to
      // EventEmitter's: the code that called them is the one adding it.
      const fn = fs[i].getFunctionName();
      if (fn === 'Readable.on' || fn === 'Readable.addListener') continue;
      if (file.startsWith('node:') || file.startsWith('<') || file.includes('/node_modules/')) return '';
      if (file.startsWith('file://')) file = file.slice(7);
      return file + ':' + fs[i].getLineNumber();
    }
    return '';
  }
  function structuredFrames(_, callSites) { return callSites; }
  // "file:line" of a frame, '' without a line. A line number is asked for only of the frame that
  // is reported: V8 computes a script's line table (kept for the script's lifetime, ~4 bytes a
  // line) the first time one of its lines is asked for, and the frames passed over are mostly
  // node's own big modules, which the app itself may never put in a stack trace.
  function at(cs, file) {
    const line = cs !== null ? cs.getLineNumber() : 0;
    return line ? file + ':' + line : '';
  }
  // ownClasses: constructor names of the stream's own classes. Their `new X` frames are the
  // super() chain of a user subclass; the site is where `new` was called, one frame further.
  function firstUserFrame(frames, ownClasses) {
    let internal = null, internalFile = '', library = null, libraryFile = '', ownCtor = null, ownCtorFile = '';
    let via = null, viaFile = '';
    for (let i = 0; i < frames.length; i++) {
      const cs = frames[i];
      let file = cs.getFileName();
      if (typeof file !== 'string' || !file) continue;
      if (file.startsWith('file://')) file = file.slice(7);
      if (file.startsWith('node:')) {  // fallback: first internal frame past the stream machinery
        if (internal === null || (internalFile.startsWith('node:events') || internalFile.startsWith('node:internal/streams/') ||
            internalFile.startsWith('node:internal/webstreams/'))) {
          internal = cs;
          internalFile = file;
        }
        continue;
      }
      if (file.startsWith(selfDir) || file.startsWith('<')) continue;
      if (ownClasses !== undefined && cs.isConstructor() && ownClasses.includes(cs.getFunctionName())) {
        ownCtor = cs;
        ownCtorFile = file;
        continue;
      }
      const nm = file.lastIndexOf('/node_modules/');
      if (nm >= 0) {
        if (library === null) { library = cs; libraryFile = file; }
        if (via === null) { via = cs; viaFile = file.slice(nm + 14); }
        continue;
      }
      const loc = at(cs, file);
      if (!loc) continue;
      const v = via !== null ? at(via, viaFile) : '';
      return v ? loc + ' via ' + v : loc;
    }
    return at(ownCtor, ownCtorFile) || at(library, libraryFile) || at(internal, internalFile);
  }
  function classNames(proto) {  // constructor names along the prototype chain (a few levels)
    const names = [];
    for (let p = proto; p !== null && names.length < 8; p = Object.getPrototypeOf(p)) {
      const d = Object.getOwnPropertyDescriptor(p, 'constructor');
      if (d !== undefined && typeof d.value === 'function' && d.value.name) names.push(d.value.name);
    }
    return names;
  }


  return { bucket, refillBuckets, take, captureSite, captureDirectSite, captureNow, classNames };
};
