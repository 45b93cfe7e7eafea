// momask: MoMask text-to-motion in the browser. The `MoMask` class talks to a Web Worker that
// hosts the WebAssembly module (burn on WebGPU, or on the CPU), so pages never freeze.
//
//   import { MoMask } from 'momask';
//   const model = await MoMask.load('/models/momask.safetensors', { onProgress: console.log });
//   const motion = await model.generate('a person jumps twice', { frames: 120, seed: 1 });
//   motion.joints;            // Float32Array, frames × 22 × 3 (metres, Y up)
//   await motion.toBVH();     // BVH text
//
// The three.js viewer and the <momask-viewer> element are in 'momask/viewer' (viewer.js), kept
// out of this entry so that the core package needs no three.js.

import { CACHE_NAME, abortError, deserializeError, namedError, openCache, readResponse } from './util.js';

export { CACHE_NAME };

const LOAD_KEYS = new Set(['backend', 'onProgress', 'signal', 'integrity', 'sha256', 'cache', 'worker', 'guidanceWorker', 'wasmUrl', 'relaxedSimd', 'selfTest', 'credentials']);
const HOST_KEYS = ['backend', 'integrity', 'sha256', 'cache', 'selfTest', 'credentials', 'relaxedSimd'];
const BACKENDS = ['auto', 'webgpu', 'cpu'];

function checkLoadOptions(options) {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) throw namedError('TypeError', `invalid load options: expected an object, got ${Array.isArray(options) ? 'an array' : typeof options}`);
  for (const key of Object.keys(options)) {
    if (!LOAD_KEYS.has(key)) throw namedError('TypeError', `invalid load options: unknown option '${key}' (expected one of ${[...LOAD_KEYS].join(', ')})`);
  }
  if (options.backend !== undefined && !BACKENDS.includes(options.backend)) {
    throw namedError('TypeError', `invalid load options: backend must be one of ${BACKENDS.map((b) => `"${b}"`).join(', ')}, got ${JSON.stringify(options.backend)}`);
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw namedError('TypeError', 'invalid load options: onProgress must be a function');
  if (options.signal !== undefined && !(options.signal && typeof options.signal.aborted === 'boolean')) throw namedError('TypeError', 'invalid load options: signal must be an AbortSignal');
  for (const key of ['integrity', 'sha256', 'wasmUrl', 'credentials']) {
    if (options[key] !== undefined && typeof options[key] !== 'string' && !(key === 'wasmUrl' && options[key] instanceof URL)) {
      throw namedError('TypeError', `invalid load options: ${key} must be a string`);
    }
  }
  for (const key of ['cache', 'worker', 'selfTest']) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw namedError('TypeError', `invalid load options: ${key} must be a boolean`);
  }
  if (options.guidanceWorker !== undefined && typeof options.guidanceWorker !== 'boolean' && options.guidanceWorker !== 'auto') {
    throw namedError('TypeError', `invalid load options: guidanceWorker must be true, false or "auto", got ${JSON.stringify(options.guidanceWorker)}`);
  }
  if (options.relaxedSimd !== undefined && typeof options.relaxedSimd !== 'boolean' && options.relaxedSimd !== 'auto') {
    throw namedError('TypeError', `invalid load options: relaxedSimd must be true, false or "auto", got ${JSON.stringify(options.relaxedSimd)}`);
  }
  return options;
}

function splitGenerateOptions(options, what = 'generate options') {
  if (options === undefined || options === null) return { rest: {} };
  if (typeof options !== 'object' || Array.isArray(options)) throw namedError('TypeError', `invalid ${what}: expected an object, got ${Array.isArray(options) ? 'an array' : typeof options}`);
  const { onProgress, signal, _loseDeviceAtStep, ...rest } = options;
  if (onProgress !== undefined && typeof onProgress !== 'function') throw namedError('TypeError', `invalid ${what}: onProgress must be a function`);
  if (signal !== undefined && !(signal && typeof signal.aborted === 'boolean')) throw namedError('TypeError', `invalid ${what}: signal must be an AbortSignal`);
  for (const [k, v] of Object.entries(rest)) if (v === undefined) delete rest[k];
  return { onProgress, signal, rest, loseDeviceAtStep: _loseDeviceAtStep };
}

let nextId = 1;

/** A connection to one model host (a Web Worker, or the page itself with `worker: false`). */
class HostConnection {
  constructor() {
    this.pending = new Map();
    this.onInfo = null;
    this.onCrash = null;
    this.closed = null;
  }

  static async open(useWorker) {
    const conn = new HostConnection();
    const receive = (msg) => conn.receive(msg);
    if (useWorker) {
      const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'momask' });
      conn.worker = worker;
      await new Promise((resolve, reject) => {
        const onMessage = (e) => {
          if (e.data?.type === 'ready') {
            worker.removeEventListener('error', onError);
            resolve();
          }
        };
        const onError = (e) => {
          e.preventDefault?.();
          reject(namedError('MoMaskError', `the momask worker failed to start: ${e.message || 'script error'}`));
        };
        worker.addEventListener('message', onMessage, { once: false });
        worker.addEventListener('error', onError);
      });
      worker.addEventListener('message', (e) => receive(e.data));
      worker.addEventListener('error', (e) => {
        // Uncaught errors inside the worker that its host did not turn into a reply.
        e.preventDefault?.();
        conn.failAll(namedError('MoMaskError', `the momask worker crashed: ${e.message || 'unknown error'}`));
        conn.onCrash?.(e.message || 'unknown error');
      });
      conn.send = (msg, transfer) => worker.postMessage(msg, transfer || []);
    } else {
      const { createHost } = await import('./host.js');
      const handle = createHost((msg) => queueMicrotask(() => receive(msg)));
      conn.send = (msg) => handle(msg);
    }
    return conn;
  }

  receive(msg) {
    if (msg.type === 'info') {
      this.onInfo?.(msg.info);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return; // answered already (e.g. cancelled)
    if (msg.type === 'progress') {
      try {
        p.onProgress?.(msg.event);
      } catch (e) {
        console.error('momask: onProgress threw', e);
      }
    } else if (msg.type === 'result') {
      this.pending.delete(msg.id);
      p.resolve(msg.value);
    } else if (msg.type === 'error') {
      this.pending.delete(msg.id);
      p.reject(deserializeError(msg.error));
    }
  }

  /** Sends a request; resolves with its result. `signal` rejects it at once with an AbortError. */
  request(msg, { onProgress, signal, transfer, cancelBuffer } = {}) {
    if (this.closed) return Promise.reject(this.closed);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError());
        return;
      }
      const onAbort = () => {
        if (!this.pending.has(id)) return;
        this.pending.delete(id);
        if (cancelBuffer) Atomics.store(new Int32Array(cancelBuffer), 0, 1);
        this.send({ id, type: 'cancel' });
        reject(abortError());
      };
      const cleanup = () => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        onProgress,
        resolve: (v) => {
          cleanup();
          resolve(v);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.send({ ...msg, id, cancelBuffer }, transfer);
    });
  }

  failAll(error) {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(error);
    }
  }

  close() {
    this.closed = namedError('MoMaskError', 'the model was disposed');
    this.failAll(this.closed);
    if (this.worker) this.worker.terminate();
    else this.send({ id: 0, type: 'dispose' });
  }
}

/** A shared flag the host polls between generation steps (needs cross-origin isolation). */
function cancelBuffer() {
  if (typeof SharedArrayBuffer === 'undefined' || !globalThis.crossOriginIsolated) return undefined;
  return new SharedArrayBuffer(4);
}

/** One generated motion. */
export class Motion {
  /** @internal */
  constructor(data, model) {
    this.text = data.text;
    this.frames = data.frames;
    this.jointCount = data.jointCount;
    this.fps = data.fps;
    this.tokens = data.tokens;
    this.joints = data.joints;
    this.features = data.features;
    this.ids = data.ids;
    // Edits and long motions: where pieces meet and how smoothly (see README, "Seam metrics").
    if (data.seams) this.seams = data.seams;
    if (data.seamBaseline !== undefined) this.seamBaseline = data.seamBaseline;
    if (data.segments) this.segments = data.segments;
    if (data.spans) this.spans = data.spans;
    if (data.keptErrorMm !== undefined) this.keptErrorMm = data.keptErrorMm;
    if (data.roundTripErrorMm !== undefined) this.roundTripErrorMm = data.roundTripErrorMm;
    Object.defineProperty(this, '_json', { value: data.json });
    Object.defineProperty(this, '_model', { value: model });
  }

  /** Length in seconds. */
  get duration() {
    return this.frames / this.fps;
  }

  /** Position `[x, y, z]` of `joint` at `frame`. */
  joint(frame, joint) {
    const i = (frame * this.jointCount + joint) * 3;
    return [this.joints[i], this.joints[i + 1], this.joints[i + 2]];
  }

  /** The joints document written by the CLI's `--out x.json` (fps, names, parents, positions). */
  toJSON() {
    return JSON.parse(this._json);
  }

  /** {@link Motion.toJSON} as text, exactly as the CLI writes it. */
  toJSONString() {
    return this._json;
  }

  /** BVH text (foot IK on by default, as the CLI); computed in the model's worker. */
  toBVH(options = {}) {
    if (options === null || typeof options !== 'object') return Promise.reject(namedError('TypeError', 'toBVH options must be an object'));
    const { footIk = true } = options;
    if (typeof footIk !== 'boolean') return Promise.reject(namedError('TypeError', 'toBVH: footIk must be a boolean'));
    return this._model._bvh(this, footIk);
  }
}

/** A loaded MoMask model. */
export class MoMask {
  /** @internal */
  constructor(conn, info, options) {
    this._conn = conn;
    this._info = info;
    this._options = options;
    conn.onInfo = (next) => {
      this._info = next;
    };
  }

  /**
   * Loads a model bundle from a URL, `Response`, `ArrayBuffer` or `Uint8Array`.
   * URLs are cached in Cache Storage (`cache: false` to skip); `integrity` (`sha256-<base64>`)
   * or `sha256` (hex) are checked with SubtleCrypto before the bytes are used.
   */
  static async load(source, options = {}) {
    options = checkLoadOptions(options);
    const { onProgress, signal } = options;
    if (signal?.aborted) throw abortError();
    const hostOptions = {};
    for (const k of HOST_KEYS) if (options[k] !== undefined) hostOptions[k] = options[k];
    const msg = { type: 'load', options: hostOptions };
    if (options.wasmUrl) msg.wasmUrl = String(options.wasmUrl);
    let transfer;
    if (typeof source === 'string' || source instanceof URL) {
      msg.url = new URL(String(source), globalThis.location?.href).href;
    } else if (typeof Response !== 'undefined' && source instanceof Response) {
      const bytes = await readResponse(source, (p) => onProgress?.({ stage: 'download', cached: false, ...p }), signal);
      msg.bytes = bytes.buffer;
      transfer = [bytes.buffer];
    } else if (source instanceof ArrayBuffer) {
      msg.bytes = source.slice(0);
      transfer = [msg.bytes];
    } else if (ArrayBuffer.isView(source) && source instanceof Uint8Array) {
      msg.bytes = source.slice().buffer;
      transfer = [msg.bytes];
    } else {
      throw namedError('TypeError', 'MoMask.load: source must be a URL, a Response, an ArrayBuffer or a Uint8Array');
    }
    if (signal?.aborted) throw abortError();
    const useWorker = options.worker !== false;
    // A second worker for the unconditional half of guidance (CPU backend, a second copy of the
    // model): "auto" lets the host decide by model size, where there is a second core.
    const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
    let guidanceWorker = options.guidanceWorker ?? 'auto';
    if (!useWorker || (guidanceWorker === 'auto' && cores < 2)) guidanceWorker = false;
    msg.options.guidanceWorker = guidanceWorker;
    const conn = await HostConnection.open(useWorker);
    try {
      const info = await conn.request(msg, { onProgress, signal, transfer });
      info.guidanceWorker ??= 'off';
      const model = new MoMask(conn, info, options);
      if (info.guidanceWorker === 'starting') model._startGuidanceWorker();
      return model;
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  /** @internal Starts the guidance worker and connects it to the model's worker (in the
   * background: until it has loaded, generations compute both halves themselves). */
  async _startGuidanceWorker() {
    const failed = (e) => {
      this._helper?.close();
      this._helper = null;
      if (this._conn.closed) return;
      this._info = { ...this._info, guidanceWorker: `failed: ${e.message || e}` };
      this._conn.send({ id: 0, type: 'detachGuidance', reason: `the guidance worker failed: ${e.message || e}` });
    };
    try {
      const helper = await HostConnection.open(true);
      if (this._conn.closed) {
        helper.close();
        return;
      }
      this._helper = helper;
      // A crashed helper may leave a pass waiting for its answer: tell the model's worker at
      // once (handled outside its queue), which then computes that half itself.
      helper.onCrash = (reason) => {
        if (!this._conn.closed) this._conn.send({ id: 0, type: 'detachGuidance', reason: `the guidance worker crashed: ${reason}` });
        this._helper = null;
        helper.close();
      };
      const channel = new MessageChannel();
      helper.request({ type: 'serveGuidance', port: channel.port1 }, { transfer: [channel.port1] }).catch(failed);
      const wasmUrl = this._options.wasmUrl && String(this._options.wasmUrl);
      const attached = await this._conn.request({ type: 'attachGuidance', port: channel.port2, wasmUrl }, { transfer: [channel.port2] });
      if (!attached) {
        helper.close();
        this._helper = null;
      }
    } catch (e) {
      failed(e);
    }
  }

  /** Backend actually used, adapter, fallback reason, text encoder, sizes, config. */
  get info() {
    return this._info;
  }

  /** `"webgpu"` or `"cpu"`. */
  get backend() {
    return this._info.backend;
  }

  /**
   * Generates a motion for `text` (an array of motions with `repeat > 1` or an array of texts).
   * `frames` above the model's 196 (up to 6000, 5 minutes) gives a long motion made of
   * overlapping windows, with `seams`. Options: frames (number | "auto"), seed, steps, condScale, resCondScale, temperature, topk,
   * greedy, repeat, onProgress, signal.
   */
  async generate(text, options = {}) {
    const { onProgress, signal, rest, loseDeviceAtStep } = splitGenerateOptions(options);
    if (typeof text !== 'string' && !(Array.isArray(text) && text.every((t) => typeof t === 'string'))) {
      throw namedError('TypeError', 'text must be a string or an array of strings');
    }
    const msg = { type: 'generate', texts: text, options: rest };
    if (loseDeviceAtStep) msg.loseDeviceAtStep = loseDeviceAtStep;
    const motions = await this._conn.request(msg, { onProgress, signal, cancelBuffer: cancelBuffer() });
    const out = motions.map((m) => new Motion(m, this));
    const many = Array.isArray(text) || (rest.repeat !== undefined && rest.repeat !== 1);
    return many ? out : out[0];
  }

  /**
   * Regenerates frame spans of a motion from `text`, keeping the rest (temporal inpainting).
   * `source`: a `Motion` from `generate`/`edit` (its features are used as they are), joints as a
   * `Float32Array` (frames × 22 × 3, metres, Y up, 20 fps) or BVH text written by momask;
   * `spans`: `[[start, end], …]` frames, end exclusive. Options: seed, steps (18), condScale,
   * resCondScale (2), temperature, topk, greedy, onProgress, signal. The result has `seams`,
   * `keptErrorMm` and `roundTripErrorMm`.
   */
  async edit(source, spans, text, options = {}) {
    const { onProgress, signal, rest } = splitGenerateOptions(options, 'edit options');
    let wire;
    if (source instanceof Motion || (source && typeof source === 'object' && source.features instanceof Float32Array)) wire = { features: source.features };
    else if (source instanceof Float32Array || typeof source === 'string') wire = source;
    else if (source && typeof source === 'object' && source.joints instanceof Float32Array) wire = { joints: source.joints };
    else throw namedError('TypeError', 'edit: source must be a Motion, joints as a Float32Array (frames × 22 × 3) or BVH text');
    if (!Array.isArray(spans)) throw namedError('TypeError', 'edit: spans must be an array of [start, end] pairs');
    if (typeof text !== 'string') throw namedError('TypeError', 'edit: text must be a string');
    const msg = { type: 'edit', source: wire, spans, text, options: rest };
    const value = await this._conn.request(msg, { onProgress, signal, cancelBuffer: cancelBuffer() });
    return new Motion(value, this);
  }

  /**
   * One long motion from prompts in turn, e.g. `[{ text: 'walk', seconds: 4 }, { text: 'jump',
   * seconds: 2 }]` (up to 5 minutes), generated as overlapping windows whose overlaps are
   * inpainted. Options: seed, steps, condScale, resCondScale, temperature, topk, greedy,
   * context (tokens of overlap, default 12), onProgress, signal. The result has `segments`
   * (start/end frames) and `seams`.
   */
  async generateTimeline(segments, options = {}) {
    const { onProgress, signal, rest } = splitGenerateOptions(options, 'timeline options');
    if (!Array.isArray(segments)) throw namedError('TypeError', 'generateTimeline: segments must be an array of { text, seconds }');
    const msg = { type: 'timeline', segments, options: rest };
    const value = await this._conn.request(msg, { onProgress, signal, cancelBuffer: cancelBuffer() });
    return new Motion(value, this);
  }

  /** @internal */
  _bvh(motion, footIk) {
    return this._conn.request({ type: 'bvh', joints: motion.joints, frames: motion.frames, jointCount: motion.jointCount, footIk, wasmUrl: this._options.wasmUrl && String(this._options.wasmUrl) });
  }

  /** @internal Diagnostics: `{ state, answers }` of the guidance worker (answers taken so far). */
  _guidanceStats() {
    return this._conn.request({ type: 'guidanceStats' });
  }

  /** Test hook: destroys the WebGPU device as a driver reset would. */
  _destroyDevice() {
    return this._conn.request({ type: 'destroyDevice' });
  }

  /** Frees the model and ends its worker; later calls reject. */
  dispose() {
    if (this._conn.closed) return;
    this._conn.close();
    this._helper?.close();
    this._helper = null;
  }

  /** Deletes every cached model bundle; resolves to whether there was a cache. */
  static async clearCache() {
    if (!globalThis.caches) return false;
    return globalThis.caches.delete(CACHE_NAME);
  }

  /** Whether `url` is in the model cache. */
  static async isCached(url) {
    const cache = await openCache();
    if (!cache) return false;
    return Boolean(await cache.match(new URL(String(url), globalThis.location?.href).href));
  }
}

export default MoMask;
