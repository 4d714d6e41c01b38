// Shared by the viewer's window tests (click_finding.js, native_view.js): a scratch directory with
// the path of the viewer's --state-dump, waiting on that dump with a timeout, xdotool, and a fail()
// that prints the dump and kills the viewer. Bounded: every wait has a timeout.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function harness(prefix) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const h = {
    tmp,
    dump: path.join(tmp, 'state.json'),
    child: null,  // the viewer under test, once spawned
    cleanup() {
      if (h.child && h.child.exitCode === null) h.child.kill('SIGKILL');
      fs.rmSync(tmp, { recursive: true, force: true });
    },
    fail(msg) {
      console.error('FAIL: ' + msg);
      try { console.error(fs.readFileSync(h.dump, 'utf8').slice(0, 4000)); } catch (_) {}
      h.cleanup();
      process.exit(1);
    },
    sleep(ms) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); },
    state() {
      try { return JSON.parse(fs.readFileSync(h.dump, 'utf8')); } catch (_) { return null; }
    },
    // The dump once pred(dump) holds; fails on timeout or when the viewer exits.
    waitFor(what, pred, timeoutMs) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const s = h.state();
        if (s && pred(s)) return s;
        if (h.child && h.child.exitCode !== null) h.fail(`viewer exited (${h.child.exitCode}) while waiting for ${what}`);
        if (Date.now() > end) h.fail('timed out waiting for ' + what);
        h.sleep(100);
      }
    },
    xdo(...args) { return execFileSync('xdotool', args, { encoding: 'utf8', timeout: 10000 }).trim(); },
  };
  return h;
}

module.exports = { harness };
