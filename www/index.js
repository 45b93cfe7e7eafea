// The momask page: prompt → MoMask in a Web Worker (WebGPU or CPU) → three.js viewer, with
// playback, export (BVH / JSON / GLB) and share links whose query string reproduces the motion.
import { MoMask } from 'momask';
import { MotionViewer, defineElement } from 'momask/viewer';
import { BVHLoader } from 'three/addons/loaders/BVHLoader.js';
import { readSettings, settingsToQuery, framesFor, EXAMPLES, DEFAULTS, SAMPLING } from './settings.js';

defineElement();
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const modelUrl = params.get('model') || 'assets/momask-demo.safetensors';

const state = { model: null, motions: [], settings: null, busy: false, controller: null, loadError: null };
let resolveReady;
const page = {
  state,
  viewer: null,
  ready: new Promise((r) => (resolveReady = r)),
  generations: 0,
  MoMask,
  /** Parses BVH text with three's BVHLoader: joint count (no end sites) and frames. */
  parseBVH(text) {
    const { skeleton, clip } = new BVHLoader().parse(text);
    const joints = skeleton.bones.filter((b) => b.name !== 'ENDSITE' && !/^ENDSITE|End Site/i.test(b.name));
    const track = clip.tracks.find((t) => t.name.endsWith('.position')) || clip.tracks[0];
    return { joints: joints.length, names: joints.map((b) => b.name), frames: track.times.length, duration: clip.duration };
  },
};
window.momaskPage = page;
window.MoMask = MoMask;

// ---- form ----------------------------------------------------------------------------------

const fields = { prompt: $('prompt'), seconds: $('seconds'), auto: $('auto-length'), seed: $('seed'), steps: $('steps'), cond: $('cond'), rescond: $('rescond'), temp: $('temp'), topk: $('topk'), backend: $('backend') };
let samples = 1;

function setSamples(n) {
  samples = n;
  for (const b of $('samples').querySelectorAll('button')) b.setAttribute('aria-pressed', String(Number(b.dataset.n) === n));
}

function syncLength() {
  fields.seconds.disabled = fields.auto.checked;
  if (fields.auto.checked) fields.seconds.value = '';
  else if (!fields.seconds.value) fields.seconds.value = '4';
}

/** Takes a loaded model's sampling defaults (`info.defaults`: the paper's, with the guidance
 * its bundle recommends) as the page's: fields still at the previous default follow, while a
 * value the visitor or a share link set stays; share links leave out what equals them. */
const fromLink = new Set();
function adoptDefaults(defaults) {
  for (const { key, field } of SAMPLING) {
    const value = defaults?.[key];
    if (!Number.isFinite(value)) continue;
    if (!fromLink.has(key) && Number(fields[field].value) === DEFAULTS[key]) fields[field].value = String(value);
    DEFAULTS[key] = value;
  }
}

function applyQuery(q) {
  const s = readSettings(q);
  if (s.prompt) fields.prompt.value = s.prompt;
  if (s.seed !== undefined) fields.seed.value = String(s.seed);
  fields.auto.checked = s.seconds === 'auto';
  if (s.seconds !== 'auto') fields.seconds.value = String(s.seconds);
  setSamples(s.samples);
  fields.steps.value = String(s.steps);
  fields.cond.value = String(s.condScale);
  fields.rescond.value = String(s.resCondScale);
  fields.temp.value = String(s.temperature);
  fields.topk.value = String(s.topk);
  for (const { key, param } of SAMPLING) if (q.has(param)) fromLink.add(key);
  if (q.get('backend')) fields.backend.value = q.get('backend');
  if (['steps', 'cfg', 'rcfg', 'temp', 'topk'].some((k) => q.has(k))) $('advanced').open = true;
  syncLength();
}

/** Reads and checks the form; shows errors inline; returns the settings or null. */
function collect() {
  const errors = { prompt: '', seconds: '', seed: '', advanced: [] };
  for (const el of Object.values(fields)) el.classList.remove('invalid');
  const bad = (el, key, msg) => {
    el.classList.add('invalid');
    if (Array.isArray(errors[key])) errors[key].push(msg);
    else errors[key] ||= msg;
  };
  const prompt = fields.prompt.value.trim().replace(/\s+/g, ' ');
  if (!prompt) bad(fields.prompt, 'prompt', 'Describe a motion, e.g. “a person jumps twice”.');
  let seconds = 'auto';
  if (!fields.auto.checked) {
    seconds = Number(fields.seconds.value);
    if (!fields.seconds.value || !Number.isFinite(seconds) || seconds < 0.2 || seconds > 9.8) bad(fields.seconds, 'seconds', 'Length must be between 0.2 and 9.8 seconds (or auto).');
  } else if (state.model && !state.model.info.hasLengthEstimator) {
    bad(fields.seconds, 'seconds', 'This model has no length estimator: untick auto and give seconds.');
  }
  const seed = Number(fields.seed.value);
  if (fields.seed.value === '' || !Number.isInteger(seed) || seed < 0 || seed > 4294967295) bad(fields.seed, 'seed', 'Seed must be a whole number from 0 to 4294967295.');
  const num = (el, name, lo, hi, int = false) => {
    const v = Number(el.value);
    if (el.value === '' || !Number.isFinite(v) || v < lo || v > hi || (int && !Number.isInteger(v))) bad(el, 'advanced', `${name} must be ${int ? 'a whole number ' : ''}between ${lo} and ${hi}.`);
    return v;
  };
  const steps = num(fields.steps, 'Steps', 1, 100, true);
  const condScale = num(fields.cond, 'CFG (mask)', 0, 20);
  const resCondScale = num(fields.rescond, 'CFG (residual)', 0, 20);
  const temperature = num(fields.temp, 'Temperature', 0.01, 5);
  const topk = num(fields.topk, 'Top-k', 0, 0.99);
  $('prompt-err').textContent = errors.prompt;
  $('seconds-err').textContent = errors.seconds;
  $('seed-err').textContent = errors.seed;
  $('advanced-err').textContent = errors.advanced.join(' ');
  if (errors.advanced.length) $('advanced').open = true;
  if (errors.prompt || errors.seconds || errors.seed || errors.advanced.length) return null;
  return { prompt, seconds, seed, samples, steps, condScale, resCondScale, temperature, topk };
}

// ---- status --------------------------------------------------------------------------------

function status(text, fraction) {
  $('status').textContent = text;
  if (fraction !== undefined) $('bar').style.width = `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)}%`;
}

function badge(kind, text, title = '') {
  const b = $('backend-badge');
  b.className = `badge ${kind}`;
  b.lastElementChild.textContent = text;
  b.title = title || text;
}

function showInfo(info) {
  if (info.backend === 'webgpu') badge('gpu', `WebGPU · ${info.adapterName || 'GPU'}`, `WebGPU on ${info.adapterName || 'an adapter'}${info.adapter?.isFallbackAdapter ? ' (software fallback adapter)' : ''}`);
  else badge('cpu', `CPU${info.fallbackReason ? ' · WebGPU unavailable' : ''}`, info.fallbackReason ? `CPU (WebAssembly): ${info.fallbackReason}` : 'CPU (WebAssembly)');
  $('backend-note').textContent = info.backend === 'cpu' && info.fallbackReason ? `Running on the CPU: ${info.fallbackReason}.` : '';
}

function notice(html) {
  $('notice-text').innerHTML = html;
  $('notice').hidden = !html;
}

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const mb = (n) => (n / 1e6).toFixed(1);

// ---- model ---------------------------------------------------------------------------------

// Re-enables the controls after a generation, an edit or a timeline run ends.
function endRun() {
  state.busy = false;
  $('generate').disabled = !state.model;
  $('cancel').disabled = true;
  syncTools();
}

async function load() {
  notice('');
  state.model?.dispose();
  state.model = null;
  state.loadError = null;
  $('generate').disabled = true;
  badge('', 'loading model…');
  const t0 = performance.now();
  try {
    const model = await MoMask.load(modelUrl, {
      backend: fields.backend.value,
      onProgress: (e) => {
        if (e.stage === 'download') status(`${e.cached ? 'Reading the model from the browser cache' : 'Downloading the model'}: ${mb(e.loaded)}${e.total ? ` of ${mb(e.total)}` : ''} MB`, e.total ? (e.loaded / e.total) * 0.9 : 0.05);
        else if (e.stage === 'verify') status('Verifying the model…', 0.92);
        else if (e.stage === 'init') status('Starting the model (compiling kernels, uploading weights)…', 0.95);
      },
    });
    state.model = model;
    const i = model.info;
    adoptDefaults(i.defaults);
    showInfo(i);
    if (!i.hasLengthEstimator && fields.auto.checked) {
      fields.auto.checked = false;
      syncLength();
    }
    status(`Model ready (${mb(i.sizes.bytes)} MB${i.cached ? ', from the browser cache' : ''}, ${((performance.now() - t0) / 1000).toFixed(1)} s). Type a prompt and press Enter.`, 1);
    $('generate').disabled = false;
    syncTools();
    return model;
  } catch (e) {
    state.loadError = e;
    badge('bad', 'no model');
    status('The model could not be loaded.', 0);
    if (/HTTP 404/.test(e.message)) {
      notice(`The model file isn't on this server: <code>${esc(modelUrl)}</code> returned 404. Build a bundle with <code>momask convert …</code> and put it at <code>assets/momask-demo.safetensors</code>, or open this page with <code>?model=&lt;url of a bundle&gt;</code>.`);
    } else if (/could not download|HTTP \d+|network|Failed to fetch/i.test(e.message)) {
      notice(`Downloading the model failed: ${esc(e.message)}. Check your connection and retry.`);
    } else {
      notice(`The model could not start: ${esc(e.name)}: ${esc(e.message)}`);
    }
    throw e;
  }
}

// ---- generation ------------------------------------------------------------------------------

async function generate() {
  const s = collect();
  if (!s || state.busy) return null;
  if (!state.model) {
    status('The model is not loaded yet.', 0);
    return null;
  }
  state.busy = true;
  state.controller = new AbortController();
  $('generate').disabled = true;
  $('cancel').disabled = false;
  const t0 = performance.now();
  const marks = {};
  try {
    const out = await state.model.generate(s.prompt, {
      frames: framesFor(s.seconds),
      seed: s.seed,
      steps: s.steps,
      condScale: s.condScale,
      resCondScale: s.resCondScale,
      temperature: s.temperature,
      topk: s.topk,
      repeat: s.samples,
      signal: state.controller.signal,
      onProgress: (e) => {
        if (e.t !== undefined) {
          marks[e.stage] ??= e.t;
          marks[`${e.stage}:end`] = e.t;
        }
        if (e.stage === 'text') status('Encoding the text…', 0.02);
        else if (e.stage === 'length') status('Estimating the length…', 0.05);
        else if (e.stage === 'mask') status(`Generating: step ${e.step} of ${e.steps}`, 0.05 + (e.step / e.steps) * 0.75);
        else if (e.stage === 'residual') status(`Refining: residual layer ${e.layer} of ${e.layers}`, 0.8 + (e.layer / e.layers) * 0.15);
        else if (e.stage === 'decode') status('Decoding joints…', 0.97);
        else if (e.stage === 'fallback') status(`WebGPU failed; continuing on the CPU…`, 0.05);
      },
    });
    const motions = Array.isArray(out) ? out : [out];
    const total = performance.now() - t0;
    state.motions = motions;
    state.settings = s;
    const labels = motions.map((m, i) => (motions.length > 1 ? `#${i + 1} · seed ${s.seed}` : `${m.text}`));
    page.viewer?.setMotions(motions, { labels });
    setSource(motions[0], null);
    page.viewer?.play();
    showInfo(state.model.info);
    const m0 = motions[0];
    status(`${motions.length > 1 ? `${motions.length} samples, ` : ''}${m0.frames} frames (${m0.duration.toFixed(1)} s at ${m0.fps} fps)`, 1);
    const seg = (a, b) => (marks[a] !== undefined && marks[b] !== undefined ? `${((marks[b] - marks[a]) / 1000).toFixed(2)} s` : null);
    const parts = [`${(total / 1000).toFixed(2)} s total on ${state.model.backend === 'webgpu' ? 'WebGPU' : 'CPU'}`];
    const mask = seg('mask', 'mask:end');
    const res = seg('residual', 'residual:end');
    if (mask) parts.push(`mask-predict ${mask}`);
    if (res) parts.push(`residual ${res}`);
    $('timings').textContent = parts.join(' · ');
    for (const id of ['dl-bvh', 'dl-json', 'dl-glb', 'share']) $(id).disabled = false;
    const url = shareUrl(s);
    $('share-url').value = url;
    history.replaceState(null, '', url);
    page.generations++;
    return motions;
  } catch (e) {
    if (e.name === 'AbortError') status('Cancelled.', 0);
    else status(`Generation failed: ${e.name}: ${e.message}`, 0);
    return null;
  } finally {
    endRun();
  }
}

function shareUrl(s) {
  const q = settingsToQuery(s);
  for (const k of ['model', 'backend']) if (params.get(k)) q.set(k, params.get(k));
  return `${location.origin}${location.pathname}?${q}`;
}

page.generate = generate;
page.shareUrl = () => $('share-url').value;

// ---- export --------------------------------------------------------------------------------

function download(name, data, type) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([data], { type }));
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

const slug = () => (state.settings?.prompt || 'motion').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '').slice(0, 40) || 'motion';
const each = async (fn) => {
  for (let i = 0; i < state.motions.length; i++) await fn(state.motions[i], state.motions.length > 1 ? `_${i + 1}` : '');
};

$('dl-bvh').onclick = () => each(async (m, sfx) => download(`${slug()}${sfx}.bvh`, await m.toBVH(), 'text/plain'));
$('dl-json').onclick = () => each(async (m, sfx) => download(`${slug()}${sfx}.json`, m.toJSONString(), 'application/json'));
$('dl-glb').onclick = async () => {
  if (!page.viewer) return;
  const glb = await page.viewer.toGLB();
  download(`${slug()}.glb`, glb, 'model/gltf-binary');
};
$('share').onclick = async () => {
  const url = $('share-url').value;
  $('share-url').select();
  try {
    await navigator.clipboard.writeText(url);
    $('share').lastElementChild.textContent = 'Copied';
  } catch {
    $('share').lastElementChild.textContent = 'Press Ctrl+C to copy';
  }
  setTimeout(() => ($('share').lastElementChild.textContent = 'Copy share link'), 1800);
};


// ---- edit a span, long timelines, BVH upload ---------------------------------------------------
// The track under the view shows the current motion: timeline segments, the span selected for
// editing (drag on it), seams (yellow ticks) and the playhead.

const edit = { source: null, before: null, showing: 'after', dragging: null, trackSegments: new WeakMap() };

/** The track's segments after regenerating frames [a, b) of `m` as `text`. */
function spliceSegments(m, a, b, text) {
  const segs = m.segments ?? edit.trackSegments.get(m) ?? [{ text: m.text, startFrame: 0, endFrame: m.frames }];
  const out = [];
  for (const s of segs) {
    if (s.startFrame < a) out.push({ ...s, endFrame: Math.min(s.endFrame, a) });
    if (s.endFrame > b) out.push({ ...s, startFrame: Math.max(s.startFrame, b) });
  }
  out.push({ text, startFrame: a, endFrame: b });
  return out.sort((x, y) => x.startFrame - y.startFrame);
}
page.edit = edit;
const FRAME_STEP = 4; // the model edits whole tokens (4 frames = 0.2 s)

function shown() {
  return edit.showing === 'before' && edit.before ? edit.before : edit.source;
}

/** Makes `motion` the one being edited; `before` is what it was made from (or null). */
function setSource(motion, before) {
  edit.source = motion;
  edit.before = before;
  edit.showing = 'after';
  for (const id of ['edit-from', 'edit-to']) $(id).max = String(motion.duration);
  renderTrack();
  syncTools();
}

function syncTools() {
  const ready = Boolean(state.model) && !state.busy;
  $('edit-run').disabled = !ready || !edit.source;
  $('long-run').disabled = !ready;
  $('show-before').disabled = !edit.before;
  $('show-after').disabled = !edit.before;
  $('show-before').setAttribute('aria-pressed', String(edit.showing === 'before'));
  $('show-after').setAttribute('aria-pressed', String(edit.showing === 'after'));
}

function seamReport(m) {
  if (!m?.seams) return '';
  const parts = m.seams.map((x) => `${(x.frame / m.fps).toFixed(1)} s ${x.kind}: jump ${x.jumpMm.toFixed(1)} mm/frame vs ${x.typicalMm.toFixed(1)} nearby (×${x.ratio.toFixed(2)})`);
  if (m.seamBaseline) parts.push(`away from seams: ×${m.seamBaseline.median.toFixed(2)} median, ×${m.seamBaseline.p95.toFixed(2)} p95`);
  if (m.keptErrorMm !== undefined) parts.push(`kept frames moved ${m.keptErrorMm.toFixed(1)} mm (VQ round trip alone ${m.roundTripErrorMm.toFixed(1)} mm)`);
  return `Seams — ${parts.join(' · ')}`;
}

function renderTrack() {
  const m = shown();
  const segs = $('track-segs');
  segs.replaceChildren();
  $('track-seams').replaceChildren();
  if (!m) return;
  const segments = m.segments ?? edit.trackSegments.get(m) ?? [{ text: m.text, startFrame: 0, endFrame: m.frames }];
  for (const seg of segments) {
    const d = document.createElement('div');
    d.style.width = `${((seg.endFrame - seg.startFrame) / m.frames) * 100}%`;
    d.textContent = seg.text;
    d.title = `${(seg.startFrame / m.fps).toFixed(1)}–${(seg.endFrame / m.fps).toFixed(1)} s: ${seg.text}`;
    segs.appendChild(d);
  }
  for (const seam of m.seams ?? []) {
    const t = document.createElement('div');
    t.className = 'seam';
    t.style.left = `${(seam.frame / m.frames) * 100}%`;
    t.title = `seam at ${(seam.frame / m.fps).toFixed(1)} s (${seam.kind}): ×${seam.ratio.toFixed(2)}`;
    $('track-seams').appendChild(t);
  }
  renderSelection();
  $('seam-report').textContent = seamReport(m);
}

function selection() {
  const m = edit.source;
  const from = Number($('edit-from').value);
  const to = Number($('edit-to').value);
  return { from, to, m };
}

function renderSelection() {
  const { from, to, m } = selection();
  const sel = $('track-sel');
  if (!m || !(to > from)) {
    sel.hidden = true;
    return;
  }
  const total = shown().frames / shown().fps;
  sel.hidden = false;
  sel.style.left = `${(Math.max(0, from) / total) * 100}%`;
  sel.style.width = `${((Math.min(total, to) - Math.max(0, from)) / total) * 100}%`;
}

function trackSeconds(e) {
  const r = $('track').getBoundingClientRect();
  const m = shown();
  const f = Math.max(0, Math.min(1, (e.clientX - r.left) / r.width)) * m.frames;
  return (Math.round(f / FRAME_STEP) * FRAME_STEP) / m.fps;
}

$('track').addEventListener('pointerdown', (e) => {
  if (!shown()) return;
  $('track').setPointerCapture(e.pointerId);
  edit.dragging = trackSeconds(e);
  $('edit-from').value = $('edit-to').value = String(edit.dragging);
  renderSelection();
});
$('track').addEventListener('pointermove', (e) => {
  if (edit.dragging === null) return;
  const t = trackSeconds(e);
  $('edit-from').value = String(Math.min(edit.dragging, t));
  $('edit-to').value = String(Math.max(edit.dragging, t));
  renderSelection();
});
$('track').addEventListener('pointerup', (e) => {
  if (edit.dragging === null) return;
  const t = trackSeconds(e);
  edit.dragging = null;
  // A click without a drag seeks instead of selecting.
  if (Number($('edit-from').value) === Number($('edit-to').value)) {
    page.viewer?.setFrame(Math.round(t * shown().fps));
    $('edit-from').value = String(Math.max(0, t - 1));
    $('edit-to').value = String(t + 1);
  }
  renderSelection();
});
for (const id of ['edit-from', 'edit-to']) $(id).addEventListener('input', renderSelection);

function show(which) {
  edit.showing = which;
  const m = shown();
  const frame = page.viewer?.frame ?? 0;
  page.viewer?.setMotions([m], { labels: [which === 'before' ? `before: ${m.text}` : m.text] });
  page.viewer?.setFrame(Math.min(frame, m.frames - 1));
  state.motions = [m];
  renderTrack();
  syncTools();
}
$('show-before').onclick = () => show('before');
$('show-after').onclick = () => show('after');

function progressFor(label) {
  return (e) => {
    if (e.stage === 'window') status(`${label}: window ${e.window} of ${e.windows}`, (e.window - 1) / e.windows);
    else if (e.stage === 'mask') status(`${label}: step ${e.step} of ${e.steps}`);
    else if (e.stage === 'decode') status(`${label}: decoding joints…`, 0.97);
  };
}

/** Runs `body` as the page's one busy operation, with Cancel wired up. */
async function busy(label, errId, body) {
  if (state.busy || !state.model) return null;
  state.busy = true;
  state.controller = new AbortController();
  $('generate').disabled = true;
  $('cancel').disabled = false;
  $(errId).textContent = '';
  syncTools();
  const t0 = performance.now();
  try {
    const out = await body(state.controller.signal);
    $('timings').textContent = `${label}: ${((performance.now() - t0) / 1000).toFixed(2)} s on ${state.model.backend === 'webgpu' ? 'WebGPU' : 'CPU'}`;
    for (const id of ['dl-bvh', 'dl-json', 'dl-glb']) $(id).disabled = false;
    page.generations++;
    return out;
  } catch (e) {
    if (e.name === 'AbortError') status('Cancelled.', 0);
    else {
      status(`${label} failed.`, 0);
      $(errId).textContent = `${e.name}: ${e.message}`;
    }
    return null;
  } finally {
    endRun();
  }
}

/** Regenerates the selected seconds of the current motion from the edit prompt. */
async function runEdit() {
  const { from, to, m } = selection();
  const text = $('edit-prompt').value.trim();
  const err = (msg) => {
    $('edit-err').textContent = msg;
    return null;
  };
  if (!m) return err('Generate a motion (or open a BVH) first.');
  if (!text) return err('Type what the person should do in the selected seconds.');
  const a = Math.round((from * m.fps) / FRAME_STEP) * FRAME_STEP;
  const b = Math.round((to * m.fps) / FRAME_STEP) * FRAME_STEP;
  if (!(b > a) || a < 0 || b > m.frames) return err(`Select a span inside the motion: 0 to ${(m.frames / m.fps).toFixed(1)} s, "to" after "from".`);
  const seed = Number(fields.seed.value) || 0;
  const edited = await busy('Edit', 'edit-err', (signal) => state.model.edit(m, [[a, b]], text, { seed, signal, onProgress: progressFor('Editing') }));
  if (!edited) return null;
  edit.trackSegments.set(edited, spliceSegments(m, a, b, text));
  page.viewer?.setMotions([edited], { labels: [`${m.text} → ${text}`] });
  page.viewer?.setFrame(Math.max(0, a - 20));
  page.viewer?.play();
  state.motions = [edited];
  setSource(edited, m);
  status(`Regenerated ${(a / m.fps).toFixed(1)}–${(b / m.fps).toFixed(1)} s as “${text}”.`, 1);
  return edited;
}
$('edit-run').onclick = runEdit;
page.runEdit = runEdit;

/** Reads a BVH written by momask and makes it the motion to edit (an edit with no span returns
 * its source, decoded to joints in the worker). */
async function openBvh(text, name = 'BVH') {
  const m = await busy('Reading the BVH', 'edit-err', (signal) => state.model.edit(text, [], name, { signal }));
  if (!m) return null;
  page.viewer?.setMotions([m], { labels: [name] });
  page.viewer?.play();
  state.motions = [m];
  setSource(m, null);
  status(`${name}: ${m.frames} frames (${m.duration.toFixed(1)} s). Select seconds on the track and regenerate them.`, 1);
  return m;
}
$('edit-bvh').onchange = async () => {
  const file = $('edit-bvh').files?.[0];
  if (file) await openBvh(await file.text(), file.name);
  $('edit-bvh').value = '';
};
page.openBvh = openBvh;

// Long timelines: rows of prompt + seconds.
const LONG_DEFAULT = [
  ['a person walks forward', 10],
  ['a person jumps up and down', 10],
  ['a person sits down', 10],
];

function addRow(text = '', seconds = 4) {
  const row = document.createElement('div');
  row.className = 'longrow';
  row.innerHTML = `<input type="text" maxlength="300" aria-label="Prompt" placeholder="a person …"><input type="number" min="0.2" max="300" step="0.2" aria-label="Seconds"><button type="button" class="btn icon" aria-label="Remove" title="Remove">✕</button>`;
  const [t, sec, rm] = row.children;
  t.value = text;
  sec.value = String(seconds);
  rm.onclick = () => row.remove();
  $('long-rows').appendChild(row);
}
for (const [t, sec] of LONG_DEFAULT) addRow(t, sec);
$('long-add').onclick = () => addRow('', 4);

/** Generates the timeline in the rows as one motion. */
async function runTimeline() {
  const segments = [...$('long-rows').children].map((r) => ({ text: r.children[0].value.trim(), seconds: Number(r.children[1].value) }));
  const bad = segments.findIndex((s) => !s.text || !Number.isFinite(s.seconds) || s.seconds < 0.2);
  if (!segments.length) return ($('long-err').textContent = 'Add at least one prompt.'), null;
  if (bad >= 0) return ($('long-err').textContent = `Prompt ${bad + 1}: give a text and at least 0.2 seconds.`), null;
  const total = segments.reduce((a, s) => a + s.seconds, 0);
  if (total > 300) return ($('long-err').textContent = `The timeline lasts ${total.toFixed(1)} s; at most 300 s.`), null;
  const s = collect();
  const opts = s ? { seed: s.seed, steps: s.steps, condScale: s.condScale, resCondScale: s.resCondScale, temperature: s.temperature, topk: s.topk } : {};
  const m = await busy('Timeline', 'long-err', (signal) => state.model.generateTimeline(segments, { ...opts, signal, onProgress: progressFor('Timeline') }));
  if (!m) return null;
  page.viewer?.setMotions([m], { labels: [segments.map((x) => x.text).join(' → ')] });
  page.viewer?.play();
  state.motions = [m];
  setSource(m, null);
  status(`${m.frames} frames (${m.duration.toFixed(1)} s) from ${segments.length} prompts. Select seconds on the track to edit them.`, 1);
  return m;
}
$('long-run').onclick = runTimeline;
page.runTimeline = runTimeline;

function tab(which) {
  $('tab-edit').setAttribute('aria-pressed', String(which === 'edit'));
  $('tab-long').setAttribute('aria-pressed', String(which === 'long'));
  $('edit-pane').hidden = which !== 'edit';
  $('long-pane').hidden = which !== 'long';
}
$('tab-edit').onclick = () => tab('edit');
$('tab-long').onclick = () => tab('long');
page.tab = tab;

// ---- viewer and transport --------------------------------------------------------------------

const PLAY_ICON = '<svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true"><path d="M7 4.5v15l12-7.5z" fill="currentColor"/></svg>';
const PAUSE_ICON = '<svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true"><path d="M7 5h3.5v14H7zM13.5 5H17v14h-3.5z" fill="currentColor"/></svg>';

function setupViewer() {
  try {
    page.viewer = new MotionViewer($('stage'));
  } catch (e) {
    $('overlay').textContent = `3D view unavailable: ${e.message}. You can still generate and download motions.`;
    return;
  }
  const v = page.viewer;
  const sync = () => {
    $('play').innerHTML = v.playing ? `${PAUSE_ICON}<span>Pause</span>` : `${PLAY_ICON}<span>Play</span>`;
    $('play').setAttribute('aria-label', v.playing ? 'Pause' : 'Play');
    $('scrub').max = String(Math.max(0, v.frames - 1));
    $('scrub').value = String(Math.round(v.frame));
    $('time').textContent = `frame ${Math.round(v.frame) + 1} / ${v.frames} · ${(v.frame / v.fps).toFixed(2)} s`;
    $('track-head').style.left = `${(v.frame / Math.max(1, v.frames - 1)) * 100}%`;
  };
  v.addEventListener('frame', sync);
  v.addEventListener('state', sync);
  v.addEventListener('motions', sync);
  sync();
  $('play').onclick = () => v.toggle();
  $('prev').onclick = () => v.step(-1);
  $('next').onclick = () => v.step(1);
  $('scrub').oninput = () => {
    const f = Number($('scrub').value);
    v.pause();
    v.setFrame(f);
  };
  $('speed').onchange = () => v.setSpeed(Number($('speed').value));
  $('loop').onchange = () => v.setLoop($('loop').checked);
  $('follow').onchange = () => v.setFollow($('follow').checked);
  // Drop a joints JSON document (CLI --out x.json or the JSON download) to play it.
  const stage = $('stage');
  stage.addEventListener('dragover', (e) => e.preventDefault());
  stage.addEventListener('drop', async (e) => {
    e.preventDefault();
    const file = e.dataTransfer?.files?.[0];
    if (!file) return;
    try {
      const doc = JSON.parse(await file.text());
      v.setMotions([doc], { labels: [file.name] });
      v.play();
    } catch (err) {
      status(`Could not read ${file.name}: ${err.message}`);
    }
  });
}

document.addEventListener('keydown', (e) => {
  const typing = e.target.closest?.('textarea, input[type=text], input[type=number], select');
  if (e.key === 'Enter' && e.target === fields.prompt && !e.shiftKey) {
    e.preventDefault();
    generate();
    return;
  }
  if (typing || !page.viewer || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === ' ' && !e.target.closest('button, input[type=checkbox], summary')) page.viewer.toggle();
  else if (e.key === 'ArrowRight') page.viewer.step(1);
  else if (e.key === 'ArrowLeft') page.viewer.step(-1);
  else return;
  e.preventDefault();
});

// ---- start ---------------------------------------------------------------------------------

for (const text of EXAMPLES) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'chip';
  b.textContent = text;
  b.onclick = () => {
    fields.prompt.value = text;
    collect();
    fields.prompt.focus();
  };
  $('examples').appendChild(b);
}
for (const pre of document.querySelectorAll('section.docs pre')) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'btn';
  b.textContent = 'Copy';
  b.onclick = async () => {
    try {
      await navigator.clipboard.writeText(pre.querySelector('code').textContent);
      b.textContent = 'Copied';
    } catch {
      getSelection().selectAllChildren(pre.querySelector('code'));
      b.textContent = 'Press Ctrl+C';
    }
    setTimeout(() => (b.textContent = 'Copy'), 1600);
  };
  pre.appendChild(b);
}
$('samples').addEventListener('click', (e) => {
  const n = Number(e.target.dataset?.n);
  if (n) setSamples(n);
});
fields.auto.onchange = syncLength;
$('dice').onclick = () => {
  fields.seed.value = String(crypto.getRandomValues(new Uint32Array(1))[0] % 100000);
  $('seed-err').textContent = '';
  fields.seed.classList.remove('invalid');
};
$('form').onsubmit = (e) => {
  e.preventDefault();
  generate();
};
$('cancel').onclick = () => state.controller?.abort();
$('retry').onclick = () => load().catch(() => {});
fields.backend.onchange = () => load().catch(() => {});
applyQuery(params);

function unsupported() {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.instantiate !== 'function') return 'this browser has no WebAssembly';
  if (typeof Worker === 'undefined') return 'this browser has no Web Workers';
  if (typeof BigInt === 'undefined') return 'this browser is too old (no BigInt)';
  return null;
}

setupViewer();
const why = unsupported();
if (why) {
  badge('bad', 'unsupported');
  status('', 0);
  notice(`Sorry — ${esc(why)}. momask needs a current Chrome, Edge, Firefox or Safari.`);
  $('retry').hidden = true;
  resolveReady(false);
} else {
  if (!('gpu' in navigator) && fields.backend.value !== 'cpu') $('backend-note').textContent = 'WebGPU is not available in this browser; the model runs on the CPU (slower, still fine).';
  status('Downloading the model…', 0.02);
  load()
    .then(async () => {
      resolveReady(true);
      if (params.get('prompt')) await generate();
    })
    .catch(() => resolveReady(false));
}
