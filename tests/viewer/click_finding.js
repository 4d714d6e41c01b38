// Drives a real tidemark-viewer window as a person would, under Xvfb (run by CTest through
// xvfb-run): records the upload incident with the real `tidemark run`, opens the trace in the
// viewer, clicks each finding with xdotool (real X pointer events, at the place the viewer drew
// it — read from its --state-dump), and checks that the selected stream and the time cursor
// followed: the finding's stream is selected and the cursor sits at its onset. Then clicks Play
// and checks the cursor moves on, and taps space (while frames are being drawn: a tap shorter than
// a frame once got lost) to pause and play again. Bounded: every wait has a timeout; the viewer
// is killed at the end whatever happens.
//   node click_finding.js TIDEMARK TIDEMARK_VIEWER EXAMPLES_DIR
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { harness } = require('./harness');

const [tidemark, viewer, examples] = process.argv.slice(2);
const h = harness('tidemark-click-');
const { tmp, dump, fail, cleanup, sleep, state, waitFor, xdo } = h;
const trace = path.join(tmp, 'incident.tidemark');

// 0. A random file is refused: exit 2 and a message naming the problem.
const junk = path.join(tmp, 'random.bin');
fs.writeFileSync(junk, require('crypto').randomBytes(4096));
const bad = spawnSync(viewer, [junk, '--screenshot', path.join(tmp, 'x.png'), '--at', '1'], { timeout: 30000 });
if (bad.status !== 2) fail('a random file: exit ' + bad.status + ', not 2');
if (!/not a tidemark trace/.test(bad.stderr.toString())) fail('a random file: no clear message: ' + bad.stderr);
console.log('random file: exit 2, ' + bad.stderr.toString().trim());

// 1. Record the incident (it stops itself after ~6 s).
const rec = spawnSync(tidemark, ['run', '--out', trace, '--', 'node', path.join(examples, 'upload-incident.js')],
  { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60000 });
if (rec.status !== 0) fail('tidemark run exited ' + rec.status + ': ' + (rec.stderr || '').toString().slice(-500));

// 2. Open it in a real window.
h.child = spawn(viewer, [trace, '--state-dump', dump, '--width', '1600', '--height', '900',
  '--recent-file', path.join(tmp, 'recent')], { stdio: ['ignore', 'inherit', 'inherit'] });
let s = waitFor('the analysis and the findings to be drawn', (st) => {
  const v = st.sessions && st.sessions[0];
  return v && v.analysis && v.analysis.done && v.findings.length >= 2 &&
    v.hits.some((h) => h.what === 'finding:1');
}, 30000);
const wid = xdo('search', '--sync', '--name', '^tidemark$').split('\n')[0];
if (!wid) fail('no window named tidemark');
console.log(`window ${wid}; findings: ${s.sessions[0].findings.map((f) => f.kind).join(', ')}`);

// 3. Click each finding, last first (the cursor starts at 0; each click must move it).
const findings = s.sessions[0].findings;
for (let i = findings.length - 1; i >= 0; --i) {
  const f = findings[i];
  const v = state().sessions[0];
  const hit = v.hits.find((h) => h.what === 'finding:' + i);
  if (!hit) fail('finding ' + i + ' is not on screen');
  const x = Math.round(hit.x + Math.min(hit.w / 2, 120)), y = Math.round(hit.y + hit.h / 2);
  xdo('mousemove', '--window', wid, String(x), String(y));
  sleep(150);
  xdo('click', '1');
  s = waitFor(`finding ${i} (${f.kind}) to be selected`, (st) => st.sessions[0].selected_finding === i, 5000);
  const now = s.sessions[0];
  if (f.stream !== undefined && now.selected_stream !== f.stream)
    fail(`clicking ${f.kind} selected stream ${now.selected_stream}, not its stream ${f.stream}`);
  if (Math.abs(now.cursor.t - f.onset) > 1e-3)
    fail(`clicking ${f.kind} left the cursor at ${now.cursor.t} s, not its onset ${f.onset} s`);
  // The table's state follows the cursor: the state read at the onset time is the one shown.
  s = waitFor('the state at the onset', (st) => st.sessions[0].cursor_state &&
    Math.abs(st.sessions[0].cursor_state.t - f.onset) < 1e-3, 5000);
  console.log(`clicked finding ${i} at (${x}, ${y}): stream ${now.selected_stream} selected, cursor at ${now.cursor.t.toFixed(3)} s`);
}

// 4. Play (clicked at the place it was drawn) moves the cursor on from the last finding's onset.
function click(what) {
  const hit = state().sessions[0].hits.find((x) => x.what === what);
  if (!hit) fail(what + ' is not on screen');
  const x = Math.round(hit.x + hit.w / 2), y = Math.round(hit.y + hit.h / 2);
  xdo('mousemove', '--window', wid, String(x), String(y));
  sleep(150);
  xdo('click', '1');
  return [x, y];
}
let at = state().sessions[0].cursor.t;
const [px, py] = click('play');
s = waitFor('playback from Play to move the cursor', (st) => st.sessions[0].cursor.playing &&
  st.sessions[0].cursor.t > at + 0.2, 5000);
console.log(`clicked Play at (${px}, ${py}): playing, the cursor moved from ${at.toFixed(3)} to ${s.sessions[0].cursor.t.toFixed(3)} s`);

// 5. Space pauses and plays again, tapped while playback keeps frames coming.
for (let k = 0; k < 4; ++k) {
  const was = state().sessions[0].cursor.playing;
  at = state().sessions[0].cursor.t;
  xdo('key', '--window', wid, 'space');
  s = waitFor(`space tap ${k + 1} to ${was ? 'pause' : 'play'}`, (st) => st.sessions[0].cursor.playing === !was, 3000);
  if (!was) {
    s = waitFor('playback from space to move the cursor', (st) => st.sessions[0].cursor.t > at + 0.1, 3000);
  } else {
    const paused_at = s.sessions[0].cursor.t;
    sleep(300);
    if (state().sessions[0].cursor.t !== paused_at) fail('the cursor moved while paused');
  }
  console.log(`space tap ${k + 1}: ${was ? 'paused' : 'playing'} at ${state().sessions[0].cursor.t.toFixed(3)} s`);
}

h.child.kill('SIGTERM');
cleanup();
console.log('PASS');
