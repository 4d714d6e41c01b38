// The native allocation sites view in a real window under Xvfb (run by CTest through xvfb-run):
// records a native program that leaks (request_loop leak 3) with the real `tidemark run --native
// full`, opens the trace in the viewer and checks through its --state-dump that it opens on the
// Native tab with remember_session's site first (by live bytes); then clicks the tabs and the top
// row with xdotool at the places the viewer drew them and checks that the site is selected with its
// stack and live-bytes series; finally renders a --screenshot of the same trace. Bounded: every wait
// has a timeout; the viewer is killed at the end whatever happens.
//   node native_view.js TIDEMARK TIDEMARK_VIEWER REQUEST_LOOP
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { harness } = require('./harness');

const [tidemark, viewer, requestLoop] = process.argv.slice(2);
const h = harness('tidemark-native-view-');
const { tmp, dump, fail, cleanup, sleep, state, xdo } = h;
const trace = path.join(tmp, 'leak.tidemark');
// The first session of the dump once pred(session) holds.
function waitFor(what, pred, timeoutMs) {
  return h.waitFor(what, (s) => s.sessions && s.sessions[0] && pred(s.sessions[0]), timeoutMs).sessions[0];
}

// 1. Record the leak with native tracking.
const rec = spawnSync(tidemark, ['run', '--native', 'full', '--out', trace, '--', requestLoop, 'leak', '3'],
  { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60000 });
if (rec.status !== 0) fail('tidemark run exited ' + rec.status + ': ' + (rec.stderr || '').toString().slice(-500));

// 2. Open it: a native program's trace (no streams) opens on the Native tab. At t = 0 nothing was
// allocated yet: move the cursor to 70 % of the trace by clicking the scrub slider there.
h.child = spawn(viewer, [trace, '--state-dump', dump, '--width', '1600', '--height', '900',
  '--recent-file', path.join(tmp, 'recent')], { stdio: ['ignore', 'inherit', 'inherit'] });
let v = waitFor('the Native tab to open', (s) => s.panel === 'native' && s.native && s.analysis && s.analysis.done &&
  s.hits.some((h) => h.what === 'scrub'), 30000);
const wid = xdo('search', '--sync', '--name', '^tidemark$').split('\n')[0];
if (!wid) fail('no window named tidemark');
function click(what, fraction) {
  const hit = state().sessions[0].hits.find((x) => x.what === what);
  if (!hit) fail(what + ' is not on screen');
  const x = Math.round(hit.x + (fraction === undefined ? Math.min(hit.w / 2, 30) : fraction * hit.w));
  const y = Math.round(hit.y + hit.h / 2);
  xdo('mousemove', '--window', wid, String(x), String(y));
  sleep(150);
  xdo('click', '1');
  return [x, y];
}
click('scrub', 0.7);
v = waitFor('the native sites at the cursor', (s) => s.cursor.t > 1 && s.native.top.length > 0 &&
  s.hits.some((h) => h.what.startsWith('native:')), 10000);
const top = v.native.top[0];
if (!/^remember_session \(request_loop\.c:\d+\)$/.test(top.location))
  fail('the first site by live bytes is ' + top.location + ', not remember_session');
if (v.native.processes[0].mode !== 'full') fail('mode ' + v.native.processes[0].mode + ', not full');
if (!(top.live_bytes > 1 << 20)) fail('remember_session holds only ' + top.live_bytes + ' live bytes');
console.log(`native tab: ${v.native.top.map((r) => `${r.location} ${r.live_bytes} B`).join('; ')}`);

// 3. The tabs switch panels.
click('tab:streams');
waitFor('the Streams tab', (s) => s.panel === 'streams', 5000);
click('tab:native');
waitFor('the Native tab', (s) => s.panel === 'native', 5000);

// 4. Clicking the top row selects its site: its stack and its live bytes over time.
const [x, y] = click(`native:${top.pid}:${top.site}`);
v = waitFor('the site to be selected', (s) => s.native.selected && s.native.selected.site === top.site, 5000);
const sel = v.native.selected;
if (!sel.frames.some((f) => f.startsWith('remember_session'))) fail('its stack lacks remember_session: ' + sel.frames.join(' | '));
if (!(sel.points > 5)) fail('its series has ' + sel.points + ' points');
console.log(`clicked site ${top.site} at (${x}, ${y}): ${sel.frames.length} frames (${sel.frames.slice(0, 3).join(' <- ')}), ${sel.points} points`);
h.child.kill('SIGTERM');
h.child = null;

// 5. A screenshot of the moment t = 2 s renders.
const png = path.join(tmp, 'native.png');
const shot = spawnSync(viewer, [trace, '--screenshot', png, '--at', '2'], { timeout: 60000 });
if (shot.status !== 0) fail('--screenshot exited ' + shot.status + ': ' + shot.stderr);
if (!(fs.statSync(png).size > 10000)) fail('the screenshot is too small');
cleanup();
console.log('PASS');
