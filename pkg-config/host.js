// The model host: owns the wasm instance and one loaded model. Runs inside the Web Worker
// (worker.js) by default, or on the page itself with `MoMask.load(src, { worker: false })`.
//
// Protocol (messages from the wrapper): { id, type: 'load' | 'generate' | 'edit' | 'timeline' | 'bvh' | 'cancel' |
// 'destroyDevice' | 'dispose' | 'attachGuidance' | 'serveGuidance' | 'detachGuidance', ... }.
// Replies: { id, type: 'progress', event }, { id, type: 'result', value },
// { id, type: 'error', error: { name, message } }, and { type: 'info', info } when the model
// moved to the CPU after a WebGPU failure or its guidance worker started or stopped.
//
// Guidance worker (CPU backend): a second host ('serveGuidance') loads the same bundle and,
// over a MessagePort, computes the unconditional half of every classifier-free-guidance pass
// while this host computes the conditional half ('attachGuidance'), so a generation uses two
// cores. Results are identical with or without it; if it fails, this host computes both halves.

import init, { Model, forgetGpu, jointsToBvh } from './momask.js';
import { namedError, abortError, serializeError, readResponse, verifyIntegrity, openCache } from './util.js';

/** How long a pass waits for the guidance worker before computing that half itself. */
const GUIDANCE_TIMEOUT_MS = 30_000;

/** `guidanceWorker: "auto"` starts the worker only for models whose half pass costs more than
 * the messaging it adds (~4–10 ms a pass, measured in Chromium on a 2-core VM): official size
 * (550 M multiply-adds a half pass) gains 1.6× per pass, the demo model (25 M) would lose. */
const GUIDANCE_MIN_MACS = 150e6;

/** Multiply-adds of the transformer layers in one half (B = 1) of a guided masked-transformer
 * pass over the longest motion (tokens + the condition token). */
function halfPassMacs(config) {
  const t = config.mask;
  const tokens = Math.floor(config.max_motion_length / 4) + 1;
  return tokens * t.n_layers * (4 * t.latent_dim * t.latent_dim + 2 * t.latent_dim * t.ff_size);
}

/** A one-function module that uses `f32x4.relaxed_madd`: it validates only where the engine
 * has WebAssembly relaxed SIMD (Chromium 114+; not Safari). */
const RELAXED_SIMD_PROBE = (() => {
  const v128Zero = [0xfd, 0x0c, ...new Array(16).fill(0)];
  const body = [0x00, ...v128Zero, ...v128Zero, ...v128Zero, 0xfd, 0x85, 0x02, 0x0b];
  const code = [0x01, body.length, ...body];
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types = [0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b];
  return new Uint8Array([...header, ...types, 0x03, 0x02, 0x01, 0x00, 0x0a, code.length, ...code]);
})();

/** Whether this engine runs WebAssembly relaxed SIMD. */
function hasRelaxedSimd() {
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

/** The wasm instance of this realm (worker or page; the JS glue holds one per realm, shared by
 * every host in it): a promise of which module runs, 'relaxed-simd', 'simd128' (maybe with why
 * the relaxed one failed) or 'custom' (the caller's `wasmUrl`). */
let realmWasm = null;

/** Instantiates the caller's `wasmUrl`, else the relaxed-SIMD build (fused multiply-add in the
 * CPU kernels) where the engine has relaxed SIMD and `relaxedSimd` is not false, else the
 * SIMD128 build. `relaxedSimd: true` insists (an error where missing); on "auto", a relaxed
 * module that fails to load falls back to SIMD128 and says so. */
async function instantiateWasm(wasmUrl, relaxedSimd) {
  if (wasmUrl) {
    await init({ module_or_path: wasmUrl });
    return 'custom';
  }
  const supported = hasRelaxedSimd();
  if (relaxedSimd === true && !supported) throw namedError('MoMaskError', 'relaxedSimd: true, but this browser does not support WebAssembly relaxed SIMD');
  if (relaxedSimd === false || !supported) {
    await init();
    return 'simd128';
  }
  try {
    await init({ module_or_path: new URL('./momask_relaxed_bg.wasm', import.meta.url) });
    return 'relaxed-simd';
  } catch (e) {
    if (relaxedSimd === true) throw namedError('MoMaskError', `could not load the relaxed-SIMD module: ${e.message || e}`);
    await init();
    return `simd128 (the relaxed-SIMD module failed: ${e.message || e})`;
  }
}

/** Creates a host; `post(message, transfer)` delivers replies to the wrapper. */
export function createHost(post) {
  /** The module this host runs (`realmWasm.module`, once `ensureWasm` resolved). */
  let wasmModule = null;
  let model = null;
  let info = null;
  let loadOptions = null;
  /** The bundle bytes, kept while the model is on WebGPU so that it can move to the CPU. */
  let gpuBytes = null;
  /** Set when the wasm instance panicked: it must not be called again. */
  let poisoned = null;
  /** The operation that is running, rejected at once if the wasm instance panics. */
  let running = null;
  const cancelled = new Map();
  let queue = Promise.resolve();
  /** The bundle bytes, kept after a CPU load until a guidance worker takes them. */
  let helperBytes = null;
  /** This host's side of its guidance worker: the port and the requests awaiting answers. */
  let guidance = null;
  /** Answers taken from guidance workers (diagnostics: `guidanceStats`). */
  let guidanceAnswers = 0;

  const onPanic = (message) => {
    poisoned ??= message;
    if (running) running.fail(namedError('MoMaskPanic', `momask panicked: ${message}`));
  };
  globalThis.__momaskOnPanic = onPanic;
  // A trap without a panic message (e.g. a failed allocation) surfaces only as an uncaught
  // WebAssembly.RuntimeError in a microtask: turn it into a rejection too.
  const onTrap = (error) => {
    if (typeof WebAssembly !== 'undefined' && error instanceof WebAssembly.RuntimeError) {
      onPanic(poisoned ?? `the WebAssembly instance trapped (${error.message}); out of memory?`);
      return true;
    }
    return false;
  };
  globalThis.addEventListener?.('error', (ev) => {
    if (onTrap(ev.error)) ev.preventDefault();
  });
  globalThis.addEventListener?.('unhandledrejection', (ev) => {
    if (onTrap(ev.reason)) ev.preventDefault();
  });

  /** Instantiates this realm's wasm module (see `instantiateWasm`); a request that the module
   * already running here cannot meet (only possible with several `worker: false` models on one
   * page) is an error rather than a silent mismatch. */
  async function ensureWasm(wasmUrl, relaxedSimd = 'auto') {
    const attempt = (realmWasm ??= instantiateWasm(wasmUrl, relaxedSimd));
    let running;
    try {
      running = await attempt;
    } catch (e) {
      // Nothing was instantiated: a later load may try again (with other options).
      if (realmWasm === attempt) realmWasm = null;
      throw e;
    }
    const wanted = wasmUrl ? 'custom' : relaxedSimd === true ? 'relaxed-simd' : relaxedSimd === false ? 'simd128' : null;
    if (wanted && wanted !== running && !(wanted === 'simd128' && running.startsWith('simd128'))) {
      throw namedError('MoMaskError', `this page already runs the ${running} wasm module; load with worker: true (the default) to choose another`);
    }
    wasmModule = running;
  }

  function checkUsable() {
    if (poisoned) throw namedError('MoMaskPanic', `the model crashed earlier (${poisoned}); load it again`);
  }

  /** Runs `body` so that a panic inside wasm rejects it instead of leaving it pending. */
  function guarded(body) {
    return new Promise((resolve, reject) => {
      running = { fail: reject };
      Promise.resolve()
        .then(body)
        .then(resolve, reject)
        .finally(() => {
          running = null;
        });
    });
  }

  async function fetchBytes(url, opts, progress, state) {
    const cache = opts.cache === false ? null : await openCache();
    if (cache) {
      const hit = await cache.match(url);
      if (hit) {
        const bytes = await readResponse(hit, (p) => progress({ stage: 'download', cached: true, ...p }), state.signal);
        return { bytes, cached: true, cache };
      }
    }
    const controller = new AbortController();
    state.abort = () => controller.abort();
    let response;
    try {
      response = await fetch(url, { signal: controller.signal, credentials: opts.credentials || 'same-origin' });
    } catch (e) {
      if (state.cancelled) throw abortError('the download was aborted');
      throw namedError('MoMaskError', `could not download ${url}: ${e.message || e}`);
    }
    try {
      const bytes = await readResponse(response, (p) => progress({ stage: 'download', cached: false, ...p }), controller.signal);
      return { bytes, cached: false, cache };
    } catch (e) {
      if (state.cancelled || e.name === 'AbortError') throw abortError('the download was aborted');
      throw e;
    }
  }

  async function load(msg, progress, state) {
    if (model) throw namedError('MoMaskError', 'this host already holds a model');
    const opts = msg.options || {};
    await ensureWasm(msg.wasmUrl, opts.relaxedSimd);
    checkUsable();
    let bytes;
    let cached = false;
    let cache = null;
    if (msg.url) {
      ({ bytes, cached, cache } = await fetchBytes(msg.url, opts, progress, state));
    } else {
      bytes = new Uint8Array(msg.bytes);
      progress({ stage: 'download', cached: false, loaded: bytes.length, total: bytes.length });
    }
    if (state.cancelled) throw abortError();
    if (opts.integrity || opts.sha256) {
      progress({ stage: 'verify' });
      await verifyIntegrity(bytes, opts);
    }
    if (state.cancelled) throw abortError();
    progress({ stage: 'init' });
    const loadOpts = { backend: opts.backend ?? 'auto' };
    if (opts.selfTest !== undefined) loadOpts.selfTest = opts.selfTest;
    model = await guarded(() => Model.load(bytes, loadOpts));
    loadOptions = loadOpts;
    info = { ...model.info, cached, worker: typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope, wasm: wasmModule };
    if (msg.url && cache && !cached) {
      try {
        await cache.put(msg.url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) } }));
        info.cachedNow = true;
      } catch (e) {
        info.cacheError = String(e.message || e);
      }
    }
    gpuBytes = info.backend === 'webgpu' ? bytes : null;
    const wantHelper = opts.guidanceWorker === true || (opts.guidanceWorker === 'auto' && halfPassMacs(info.config) >= GUIDANCE_MIN_MACS);
    helperBytes = wantHelper && info.backend === 'cpu' ? bytes : null;
    info.guidanceWorker = helperBytes ? 'starting' : 'off';
    if (state.cancelled) {
      dispose();
      throw abortError();
    }
    progress({ stage: 'ready' });
    return info;
  }

  /** Moves the model to the CPU after a WebGPU failure; returns false if it cannot. */
  async function fallBackToCpu(reason) {
    if (!gpuBytes || poisoned) return false;
    try {
      model?.free();
    } catch {
      /* the GPU model may already be unusable */
    }
    model = null;
    forgetGpu();
    const bytes = gpuBytes;
    gpuBytes = null;
    model = await guarded(() => Model.load(bytes, { backend: 'cpu' }));
    info = { ...model.info, requestedBackend: loadOptions.backend, adapter: info.adapter, adapterName: info.adapterName, fallbackReason: reason, cached: info.cached, worker: info.worker, wasm: wasmModule };
    post({ type: 'info', info });
    return true;
  }

  async function generate(msg, progress, state) {
    if (!model) throw namedError('MoMaskError', 'no model is loaded (it was disposed or failed to load)');
    checkUsable();
    const shared = msg.cancelBuffer ? new Int32Array(msg.cancelBuffer) : null;
    const isCancelled = () => state.cancelled || (shared !== null && Atomics.load(shared, 0) !== 0);
    const onProgress = (e) => {
      progress(e);
      if (msg.loseDeviceAtStep && e.stage === 'mask' && e.step === msg.loseDeviceAtStep) model.destroyDeviceForTesting();
    };
    const run = () => guarded(() => model.generate(msg.texts, msg.options ?? {}, onProgress, isCancelled));
    try {
      return await run();
    } catch (e) {
      const gpuFailure = info.backend === 'webgpu' && (e.name === 'MoMaskBackendError' || e.name === 'MoMaskPanic');
      if (!gpuFailure || isCancelled()) throw e;
      const reason = `WebGPU failed during generation (${e.message}); switched to the CPU`;
      if (!(await fallBackToCpu(reason))) throw e;
      progress({ stage: 'fallback', reason });
      return await run();
    }
  }

  /** Edits and timelines: the same cancellation and WebGPU → CPU fallback as generate. */
  async function withFallback(msg, progress, state, call) {
    if (!model) throw namedError('MoMaskError', 'no model is loaded (it was disposed or failed to load)');
    checkUsable();
    const shared = msg.cancelBuffer ? new Int32Array(msg.cancelBuffer) : null;
    const isCancelled = () => state.cancelled || (shared !== null && Atomics.load(shared, 0) !== 0);
    const run = () => guarded(() => call(progress, isCancelled));
    try {
      return await run();
    } catch (e) {
      const gpuFailure = info.backend === 'webgpu' && (e.name === 'MoMaskBackendError' || e.name === 'MoMaskPanic');
      if (!gpuFailure || isCancelled()) throw e;
      const reason = `WebGPU failed (${e.message}); switched to the CPU`;
      if (!(await fallBackToCpu(reason))) throw e;
      progress({ stage: 'fallback', reason });
      return await run();
    }
  }

  const edit = (msg, progress, state) =>
    withFallback(msg, progress, state, (onProgress, isCancelled) => model.edit(msg.source, msg.spans, msg.text, msg.options ?? {}, onProgress, isCancelled));

  const timeline = (msg, progress, state) =>
    withFallback(msg, progress, state, (onProgress, isCancelled) => model.generateTimeline(msg.segments, msg.options ?? {}, onProgress, isCancelled));

  async function bvh(msg) {
    await ensureWasm(msg.wasmUrl);
    checkUsable();
    return guarded(() => jointsToBvh(msg.joints, msg.frames, msg.jointCount, msg.footIk));
  }

  function dispose() {
    detachGuidance('the model was disposed', false);
    try {
      model?.free();
    } catch {
      /* already gone */
    }
    model = null;
    gpuBytes = null;
    helperBytes = null;
  }

  /** Reports the guidance worker's state in `info` (`'ready'`, `'off'`, `'failed: …'`). */
  function setGuidanceState(state) {
    if (!info) return;
    info = { ...info, guidanceWorker: state };
    post({ type: 'info', info });
  }

  /** Stops using the guidance worker: its pending answers reject, so running passes compute
   * the unconditional half here instead. */
  function detachGuidance(reason, report = true) {
    if (!guidance) return;
    const { port, pending } = guidance;
    guidance = null;
    try {
      model?.setGuidanceHelper(null);
    } catch {
      /* the model is gone */
    }
    for (const p of pending.values()) p.reject(namedError('MoMaskError', reason));
    pending.clear();
    port.close();
    if (report) setGuidanceState(`failed: ${reason}`);
  }

  /** Hands the bundle to the guidance worker at the other end of `msg.port`; it answers
   * `{ type: 'loaded' }` (from then on, generations use it) or `{ type: 'failed', error }`. */
  async function attachGuidance(msg) {
    const port = msg.port;
    if (!model || !helperBytes || guidance) {
      port.close();
      return false;
    }
    const bytes = helperBytes;
    helperBytes = null;
    const pending = new Map();
    let nextRequest = 1;
    guidance = { port, pending };
    const mine = guidance;
    port.onmessage = (e) => {
      const m = e.data;
      if (guidance !== mine) return;
      if (m.type === 'loaded') {
        model.setGuidanceHelper((req) => {
          if (guidance !== mine) return undefined;
          const id = nextRequest++;
          return new Promise((resolve, reject) => {
            // A worker that died without an error event never answers: stop waiting for it.
            const timer = setTimeout(() => detachGuidance(`no answer from the guidance worker within ${GUIDANCE_TIMEOUT_MS / 1000} s`), GUIDANCE_TIMEOUT_MS);
            const settle = (f) => (v) => {
              clearTimeout(timer);
              f(v);
            };
            pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
            port.postMessage({ id, type: 'uncond', req }, [req.ids.buffer, req.lengths.buffer]);
          });
        });
        setGuidanceState('ready');
      } else if (m.type === 'failed') {
        detachGuidance(m.error?.message || 'the guidance worker failed to load the model');
      } else if (m.type === 'result' || m.type === 'error') {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.type === 'result') {
          guidanceAnswers++;
          p?.resolve(m.value);
        }
        // A request the helper could not answer: something is wrong there; stop using it.
        else detachGuidance(`the guidance worker failed: ${m.error?.message || 'unknown error'}`);
      }
    };
    // The helper must run the very same module: its half of the logits then equals this host's
    // bit for bit (the relaxed build rounds multiply-adds differently).
    const sameModule = wasmModule === 'custom' ? { wasmUrl: msg.wasmUrl } : { relaxedSimd: wasmModule === 'relaxed-simd' };
    port.postMessage({ type: 'load', bytes, ...sameModule }, [bytes.buffer]);
    return true;
  }

  /** The guidance worker's side: loads the bundle sent over `msg.port` on the CPU and answers
   * unconditional-half requests with `Model.uncondLogits`. */
  async function serveGuidance(msg) {
    const port = msg.port;
    port.onmessage = async (e) => {
      const m = e.data;
      if (m.type === 'load') {
        try {
          if (model) throw namedError('MoMaskError', 'this host already holds a model');
          await ensureWasm(m.wasmUrl, m.relaxedSimd ?? false);
          checkUsable();
          model = await guarded(() => Model.load(m.bytes instanceof Uint8Array ? m.bytes : new Uint8Array(m.bytes), { backend: 'cpu' }));
          port.postMessage({ type: 'loaded' });
        } catch (err) {
          port.postMessage({ type: 'failed', error: serializeError(err) });
        }
      } else if (m.type === 'uncond') {
        try {
          checkUsable();
          if (!model) throw namedError('MoMaskError', 'no model is loaded');
          const value = await guarded(() => model.uncondLogits(m.req));
          port.postMessage({ id: m.id, type: 'result', value }, [value.buffer]);
        } catch (err) {
          port.postMessage({ id: m.id, type: 'error', error: serializeError(err) });
        }
      }
    };
    return true;
  }

  function handle(msg) {
    const { id, type } = msg;
    if (type === 'detachGuidance') {
      // Not queued: a generation may be waiting on the guidance worker that just died. A
      // worker that never started will not take the bundle bytes kept for it either.
      helperBytes = null;
      detachGuidance(msg.reason || 'the guidance worker stopped');
      return;
    }
    if (type === 'cancel') {
      const state = cancelled.get(id);
      if (state) {
        state.cancelled = true;
        state.abort?.();
      }
      return;
    }
    const state = { cancelled: false, abort: null };
    cancelled.set(id, state);
    const progress = (event) => post({ id, type: 'progress', event });
    const guidanceStats = async () => ({ state: info?.guidanceWorker ?? 'off', answers: guidanceAnswers });
    const ops = { load, generate, edit, timeline, bvh, attachGuidance, serveGuidance, guidanceStats, destroyDevice: async () => model?.destroyDeviceForTesting() ?? false, dispose: async () => dispose() };
    const op = ops[type];
    // Operations run one at a time, in order; a cancelled one that has not started is skipped.
    queue = queue.then(async () => {
      try {
        if (!op) throw namedError('TypeError', `unknown request '${type}'`);
        if (state.cancelled) throw abortError();
        const value = await op(msg, progress, state);
        if (state.cancelled) throw abortError();
        const transfer = [];
        const motions = type === 'generate' ? value : type === 'edit' || type === 'timeline' ? [value] : [];
        for (const m of motions) transfer.push(m.joints.buffer, m.features.buffer, m.ids.buffer);
        post({ id, type: 'result', value }, transfer);
      } catch (e) {
        post({ id, type: 'error', error: serializeError(e) });
      } finally {
        cancelled.delete(id);
      }
    });
  }

  return handle;
}
