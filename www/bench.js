// Per-stage timings of generation on each backend, as a table and as `window.benchResult`
// (read by tests-web/run.mjs and scripts/test-web.sh).
import { MoMask } from 'momask';

const params = new URLSearchParams(location.search);
const modelUrl = params.get('model') || 'assets/momask-demo.safetensors';
const frames = params.get('frames') === 'auto' ? 'auto' : Number(params.get('frames') || 40);
const runs = Math.max(1, Number(params.get('runs') || 3));
const steps = Number(params.get('steps') || 10);
const text = params.get('text') || 'a person walks forward and turns around';
// `cpu`: the CPU backend with the package's defaults (the guidance worker where it pays off);
// `cpu1`: without the guidance worker (one worker); `cpu2`: with it; `webgpu`: the GPU;
// `-simd128` after a CPU one: the SIMD128 wasm module instead of the relaxed-SIMD one.
const backends = (params.get('backends') || 'cpu1,cpu,webgpu').split(',').map((s) => s.trim()).filter(Boolean);
const LOAD = { cpu: { backend: 'cpu' }, cpu2: { backend: 'cpu', guidanceWorker: true }, cpu1: { backend: 'cpu', guidanceWorker: false }, webgpu: { backend: 'webgpu' }, auto: { backend: 'auto' } };
for (const cpu of ['cpu', 'cpu1', 'cpu2']) LOAD[`${cpu}-simd128`] = { ...LOAD[cpu], relaxedSimd: false };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Stage durations from the progress events of one generation. */
function stages(events, wallMs) {
  const at = (pred) => events.filter(pred).map((e) => e.t);
  const text = at((e) => e.stage === 'text')[0];
  const length = at((e) => e.stage === 'length')[0];
  const mask = at((e) => e.stage === 'mask');
  const residual = at((e) => e.stage === 'residual');
  const decode = at((e) => e.stage === 'decode')[0];
  const done = at((e) => e.stage === 'done')[0];
  const lastMask = mask[mask.length - 1];
  const lastRes = residual.length ? residual[residual.length - 1] : lastMask;
  return {
    'text encoder + length estimator': length - text,
    'mask-predict (all steps)': lastMask - length,
    'mask-predict per step': (lastMask - length) / mask.length,
    'residual layers': lastRes - lastMask,
    'VQ decode + joints': done - decode,
    'generate (worker)': done - text,
    'generate (page, incl. messaging)': wallMs,
  };
}

/** Resolves once the guidance worker has started or failed (it loads after `load` resolves). */
async function guidanceSettled(model, timeoutMs = 600_000) {
  const t0 = performance.now();
  while (model.info.guidanceWorker === 'starting' && performance.now() - t0 < timeoutMs) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - t0;
}

async function benchBackend(spec) {
  const options = LOAD[spec];
  if (!options) throw new Error(`unknown backend '${spec}' (expected one of ${Object.keys(LOAD).join(', ')})`);
  const t0 = performance.now();
  const model = await MoMask.load(modelUrl, options);
  const loadWall = performance.now() - t0;
  const helperWait = await guidanceSettled(model);
  const info = model.info;
  const samples = [];
  let bvhMs = 0;
  let firstMs = 0;
  for (let r = 0; r <= runs; r++) {
    const events = [];
    const start = performance.now();
    const motion = await model.generate(text, { frames, steps, seed: 1 + r, onProgress: (e) => events.push(e) });
    const wall = performance.now() - start;
    if (r === 0) {
      firstMs = wall; // includes compiling the WebGPU kernels (once per kernel and shape)
      const b0 = performance.now();
      await motion.toBVH();
      bvhMs = performance.now() - b0;
      continue; // warm-up
    }
    samples.push(stages(events, wall));
  }
  const guidance = await model._guidanceStats();
  model.dispose();
  const result = {
    'load (page: worker + fetch/cache + init)': loadWall,
    'load (worker: device + verify + upload)': info.loadMs,
    'guidance worker ready after load': info.guidanceWorker === 'ready' ? helperWait : null,
  };
  for (const key of Object.keys(samples[0])) result[key] = median(samples.map((s) => s[key]));
  result['first generate (page, warm-up)'] = firstMs;
  result['toBVH (foot IK)'] = bvhMs;
  return { backend: info.backend, requested: spec, wasm: info.wasm, guidanceWorker: info.guidanceWorker, guidanceAnswers: guidance.answers, adapter: info.adapterName, fallbackReason: info.fallbackReason, stages: result };
}

async function main() {
  const out = { model: modelUrl, frames, runs, steps, userAgent: navigator.userAgent, crossOriginIsolated: globalThis.crossOriginIsolated, backends: {}, rows: [] };
  for (const b of backends) {
    document.getElementById('status').textContent = `running ${b}…`;
    try {
      out.backends[b] = await benchBackend(b);
    } catch (e) {
      out.backends[b] = { error: `${e.name}: ${e.message}` };
    }
  }
  const keys = [...new Set(Object.values(out.backends).flatMap((r) => Object.keys(r.stages || {})))];
  out.rows = keys.map((k) => ({ stage: k, ...Object.fromEntries(backends.map((b) => [b, out.backends[b].stages?.[k] ?? null])) }));
  const table = document.getElementById('table');
  const head = `<tr><th>stage (ms)</th>${backends.map((b) => `<th>${b}${out.backends[b].backend && out.backends[b].backend !== b ? ` → ${out.backends[b].backend}` : ''}</th>`).join('')}</tr>`;
  const body = out.rows.map((r) => `<tr><td>${r.stage}</td>${backends.map((b) => `<td>${r[b] == null ? '–' : r[b].toFixed(1)}</td>`).join('')}</tr>`).join('');
  table.innerHTML = head + body;
  document.getElementById('info').textContent = JSON.stringify(Object.fromEntries(backends.map((b) => [b, { ...out.backends[b], stages: undefined }])), null, 2);
  document.getElementById('status').textContent = 'done';
  console.table(out.rows);
  window.benchResult = out;
}

main();
