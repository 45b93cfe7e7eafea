// The model host: owns the wasm instance and one loaded model. Runs inside the Web Worker
// (worker.js) by default, or on the page itself with `MoMask.load(src, { worker: false })`.
//
// Protocol (messages from the wrapper): { id, type: 'load' | 'generate' | 'edit' | 'timeline' | 'bvh' | 'cancel' |
// 'destroyDevice' | 'dispose', ... }. Replies: { id, type: 'progress', event },
// { id, type: 'result', value }, { id, type: 'error', error: { name, message } }, and
// { type: 'info', info } when the model moved to the CPU after a WebGPU failure.

import init, { Model, forgetGpu, jointsToBvh } from './momask.js';
import { namedError, abortError, serializeError, readResponse, verifyIntegrity, openCache } from './util.js';

/** Creates a host; `post(message, transfer)` delivers replies to the wrapper. */
export function createHost(post) {
  let wasmReady = null;
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

  function ensureWasm(wasmUrl) {
    wasmReady ??= init(wasmUrl ? { module_or_path: wasmUrl } : undefined);
    return wasmReady;
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
    await ensureWasm(msg.wasmUrl);
    checkUsable();
    const opts = msg.options || {};
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
    info = { ...model.info, cached, worker: typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope };
    if (msg.url && cache && !cached) {
      try {
        await cache.put(msg.url, new Response(bytes, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) } }));
        info.cachedNow = true;
      } catch (e) {
        info.cacheError = String(e.message || e);
      }
    }
    gpuBytes = info.backend === 'webgpu' ? bytes : null;
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
    info = { ...model.info, requestedBackend: loadOptions.backend, adapter: info.adapter, adapterName: info.adapterName, fallbackReason: reason, cached: info.cached, worker: info.worker };
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
    try {
      model?.free();
    } catch {
      /* already gone */
    }
    model = null;
    gpuBytes = null;
  }

  function handle(msg) {
    const { id, type } = msg;
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
    const ops = { load, generate, edit, timeline, bvh, destroyDevice: async () => model?.destroyDeviceForTesting() ?? false, dispose: async () => dispose() };
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
