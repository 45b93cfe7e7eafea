// Browser tests for the momask package: headless Debian Chromium driven by playwright-core,
// WebGPU through SwiftShader (--enable-unsafe-webgpu). Every test has a time limit; a hang is a
// failure, never a stuck run. Ends with `N passed, M failed` (exit status 1 on failures).
//
//   node tests-web/run.mjs --dist www/dist --fixtures target/web-test [--pkg pkg] [--filter a,b] [--chromium path]
//
// Fixtures (written by scripts/test-web.sh): small.safetensors (the small test model, CLIP),
// demo-q8.safetensors (the demo configuration with MiniLM, random weights, q8) and native
// reference joints from `momask generate --greedy --out ref_*.json`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]?.startsWith('--') ? true : (all[i + 1] ?? true)]] : acc), []),
);
const dist = path.resolve(args.dist || 'www/dist');
const fixtures = path.resolve(args.fixtures || 'target/web-test');
const filter = (args.filter || process.env.MOMASK_WEB_TESTS || '').split(',').filter(Boolean);
const executablePath = args.chromium || process.env.CHROMIUM || '/usr/bin/chromium';
const TOL = 1e-4;

const CHROMIUM_ARGS = ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--headless=new'];

function readRef(name) {
  const doc = JSON.parse(fs.readFileSync(path.join(fixtures, name), 'utf8'));
  return { frames: doc.frames ?? doc.positions.length, joints: doc.positions.flat(2), doc };
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

const requests = new Map();
const countRequests = (pathname) => requests.get(pathname) || 0;

// ---- servers and browser -------------------------------------------------------------------

const plain = await serve({ root: dist, mounts: { '/fixtures': fixtures }, onRequest: (p) => requests.set(p, (requests.get(p) || 0) + 1) });
const isolated = await serve({ root: dist, mounts: { '/fixtures': fixtures }, coi: true });
const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });

const BUNDLE = '/fixtures/small.safetensors';
const lazyRef = (file) => {
  let cached;
  return () => (cached ??= readRef(file));
};
const walkRef = lazyRef('ref_walk_40.json');
const jumpRef = lazyRef('ref_jump_auto.json');
const WALK = { text: 'a person walks forward', frames: 40, get ref() { return walkRef(); } };
const JUMP = { text: 'someone jumps up and down twice', frames: 'auto', get ref() { return jumpRef(); } };
// The demo configuration (MiniLM text encoder, WordPiece tokenizer), random weights, q8.
const DEMO_BUNDLE = '/fixtures/demo-q8.safetensors';
const demoRefs = { walk: lazyRef('ref_demo_walk_40.json'), jump: lazyRef('ref_demo_jump_auto.json'), unicode: lazyRef('ref_demo_unicode_20.json') };
const DEMO = [
  { label: 'walk, 40 frames', text: 'a person walks forward and waves', frames: 40, ref: demoRefs.walk },
  { label: 'jump, auto length', text: 'someone jumps up and down twice', frames: 'auto', ref: demoRefs.jump },
  { label: 'accents, CJK, emoji, a special token', text: 'Ein Mensch läuft VORWÄRTS, dann 跳 — 🙂 [SEP] waves', frames: 20, ref: demoRefs.unicode },
];

/** A fresh browser context (own Cache Storage) with the test page open. */
async function open(t, { server = plain, page: pageName = 'test.html', initScript, query = '' } = {}) {
  const context = await browser.newContext();
  t.cleanup.push(() => context.close());
  const page = await context.newPage();
  page.on('console', (m) => t.log.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => t.log.push(`[pageerror] ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => t.log.push(`[worker.${m.type()}] ${m.text()}`)));
  if (initScript) await page.addInitScript(initScript);
  await page.goto(`${server.url}/${pageName}${query}`);
  if (pageName === 'test.html') await page.waitForFunction(() => window.momaskReady === true, null, { timeout: 20_000 });
  return { context, page };
}

/** Loads the small model in the page as `window.model`; returns its info. */
function loadModel(page, options = {}, source = BUNDLE) {
  return page.evaluate(
    async ({ source, options }) => {
      window.model = await MoMask.load(source, options);
      return window.model.info;
    },
    { source, options },
  );
}

/** Runs a generation in the page; returns joints as a plain array and metadata. */
function generate(page, text, options) {
  return page.evaluate(
    async ({ text, options }) => {
      const m = await window.model.generate(text, options);
      return { frames: m.frames, fps: m.fps, jointCount: m.jointCount, tokens: m.tokens, joints: Array.from(m.joints), backend: window.model.backend, info: window.model.info };
    },
    { text, options },
  );
}

/** Runs `fn` in the page and returns `{ name, message }` of the error it rejects with (or null). */
function rejection(page, fn, arg) {
  return page.evaluate(
    async ({ body, arg }) => {
      try {
        await new Function('arg', `return (async () => { ${body} })()`)(arg);
        return null;
      } catch (e) {
        return { name: e.name, message: e.message };
      }
    },
    { body: fn, arg },
  );
}

function expectParity(result, ref, label) {
  assert(result.frames === ref.frames, `${label}: ${result.frames} frames, the native reference has ${ref.frames}`);
  assert(result.jointCount === 22 && result.fps === 20, `${label}: jointCount ${result.jointCount}, fps ${result.fps}`);
  const d = maxAbsDiff(result.joints, ref.joints);
  assert(d <= TOL, `${label}: joints differ from the native reference by ${d} (> ${TOL})`);
  return d;
}

// ---- tests ---------------------------------------------------------------------------------

const tests = [];
const test = (name, timeoutMs, fn) => tests.push({ name, timeoutMs, fn });
const notes = [];

test('cpu (wasm) joints equal native, fixed length', 120_000, async (t) => {
  const { page } = await open(t);
  const info = await loadModel(page, { backend: 'cpu' });
  assert(info.backend === 'cpu' && info.requestedBackend === 'cpu' && info.fallbackReason === null, `info: ${JSON.stringify(info.backend)} ${info.fallbackReason}`);
  assert(info.worker === true, 'the model should run in a worker by default');
  // "auto": no guidance worker for a model this small (the messaging would cost more).
  assert(info.guidanceWorker === 'off', `guidanceWorker for the small model: ${info.guidanceWorker}`);
  // Chromium has relaxed SIMD: "auto" picks the module with fused multiply-adds.
  assert(info.wasm === 'relaxed-simd', `info.wasm: ${info.wasm}`);
  assert(info.textEncoder === 'clip' && info.sizes.joints === 22 && info.sizes.parameters > 0 && info.sizes.bytes > 0, `info fields: ${JSON.stringify(info.sizes)}`);
  // A bundle without recommended guidance samples with the paper's settings.
  assert(JSON.stringify(info.defaults) === JSON.stringify({ steps: 10, condScale: 4, resCondScale: 5, temperature: 1, topk: 0.9 }), `defaults: ${JSON.stringify(info.defaults)}`);
  const r = await generate(page, WALK.text, { frames: 40, greedy: true });
  const d = expectParity(r, WALK.ref, 'cpu');
  notes.push(`cpu vs native max |Δ| = ${d.toExponential(2)} (walk, 40 frames)`);
  const doc = await page.evaluate(async () => {
    const m = await window.model.generate('a person walks forward', { frames: 40, greedy: true });
    return { json: m.toJSON(), text: m.toJSONString(), stringify: JSON.parse(JSON.stringify(m)), duration: m.duration, joint: m.joint(3, 5), raw: [m.joints[(3 * 22 + 5) * 3], m.joints[(3 * 22 + 5) * 3 + 1], m.joints[(3 * 22 + 5) * 3 + 2]] };
  });
  assert(doc.json.frames === 40 && doc.json.positions.length === 40 && doc.json.joint_names.length === 22 && doc.json.parents[0] === -1, 'toJSON document');
  assert(JSON.stringify(doc.stringify) === JSON.stringify(doc.json), 'JSON.stringify(motion) should give the joints document');
  assert(Object.keys(doc.json).join() === Object.keys(WALK.ref.doc).join(), `toJSON keys ${Object.keys(doc.json)} vs CLI ${Object.keys(WALK.ref.doc)}`);
  assert(doc.duration === 2 && doc.joint.join() === doc.raw.join(), 'duration / joint()');
});

test('cpu (wasm) joints equal native, estimated length', 120_000, async (t) => {
  const { page } = await open(t);
  await loadModel(page, { backend: 'cpu' });
  const r = await generate(page, JUMP.text, { frames: 'auto', greedy: true });
  const d = expectParity(r, JUMP.ref, 'cpu auto');
  notes.push(`cpu vs native max |Δ| = ${d.toExponential(2)} (jump, auto length ${r.frames})`);
});

test('relaxedSimd: false runs the SIMD128 module, equal to native and close to the relaxed one; its guidance worker runs the same module', 180_000, async (t) => {
  const { page } = await open(t);
  const relaxed = await loadModel(page, { backend: 'cpu', guidanceWorker: false });
  assert(relaxed.wasm === 'relaxed-simd', `default module: ${relaxed.wasm}`);
  const fused = await generate(page, WALK.text, { frames: 40, greedy: true });
  await page.evaluate(() => window.model.dispose());
  // A new page: one wasm instance per worker, and the model's worker keeps its module.
  const { page: page2 } = await open(t);
  const info = await loadModel(page2, { backend: 'cpu', relaxedSimd: false, guidanceWorker: true });
  assert(info.wasm === 'simd128', `relaxedSimd: false runs ${info.wasm}`);
  const state = await guidanceSettled(page2);
  assert(state === 'ready', `the guidance worker should be ready, is ${state}`);
  const plain = await generate(page2, WALK.text, { frames: 40, greedy: true });
  const d = expectParity(plain, WALK.ref, 'cpu, SIMD128 module');
  const stats = await page2.evaluate(() => window.model._guidanceStats());
  assert(stats.answers === 12, `the guidance worker answered ${stats.answers} passes, expected 12`);
  // Without the helper: the same module gives the same joints bit for bit.
  await page2.evaluate(() => window.model.dispose());
  await loadModel(page2, { backend: 'cpu', relaxedSimd: false, guidanceWorker: false });
  const alone = await generate(page2, WALK.text, { frames: 40, greedy: true });
  assert(maxAbsDiff(alone.joints, plain.joints) === 0, 'SIMD128 module: joints differ with and without its guidance worker');
  const between = maxAbsDiff(fused.joints, plain.joints);
  assert(between <= TOL, `relaxed vs SIMD128 module: max |Δ| ${between}`);
  // On the page's own thread one module serves every model: a request for the other one is an
  // error, not a silent mismatch; a request it meets loads.
  await page2.evaluate(() => window.model.dispose());
  const onPage = await loadModel(page2, { backend: 'cpu', worker: false });
  assert(onPage.wasm === 'relaxed-simd' && onPage.worker === false, `page thread: ${onPage.wasm}`);
  const e = await withTimeout(rejection(page2, 'await MoMask.load(arg, { backend: "cpu", worker: false, relaxedSimd: false })', BUNDLE), 20_000, 'second module on the page');
  assert(e?.name === 'MoMaskError' && /already runs the relaxed-simd wasm module/.test(e.message), `second module on the page: ${JSON.stringify(e)}`);
  const again = await loadModel(page2, { backend: 'cpu', worker: false, relaxedSimd: true });
  assert(again.wasm === 'relaxed-simd', `page thread, relaxedSimd: true: ${again.wasm}`);
  notes.push(`SIMD128 module vs native max |Δ| = ${d.toExponential(2)}; relaxed-SIMD vs SIMD128 module ${between.toExponential(2)}`);
});

/** Waits until the page's `window.model` has its guidance worker settled; returns the state. */
function guidanceSettled(page) {
  return page.evaluate(async () => {
    for (let i = 0; i < 1200 && window.model.info.guidanceWorker === 'starting'; i++) await new Promise((r) => setTimeout(r, 50));
    return window.model.info.guidanceWorker;
  });
}

test('guidance worker: same joints as one worker, used, survives its crash', 180_000, async (t) => {
  const { page } = await open(t);
  // One worker, for the expected values.
  const single = await loadModel(page, { backend: 'cpu', guidanceWorker: false });
  assert(single.guidanceWorker === 'off', `guidanceWorker: false gives 'off', got ${single.guidanceWorker}`);
  const sampled = { frames: 40, seed: 7, condScale: 4, resCondScale: 5 };
  const want = { greedy: await generate(page, WALK.text, { frames: 40, greedy: true }), sampled: await generate(page, WALK.text, sampled) };
  await page.evaluate(() => window.model.dispose());

  const info = await loadModel(page, { backend: 'cpu', guidanceWorker: true });
  assert(info.guidanceWorker === 'starting', `right after load: ${info.guidanceWorker}`);
  const state = await guidanceSettled(page);
  assert(state === 'ready', `the guidance worker should be ready, is ${state}`);
  const greedy = await generate(page, WALK.text, { frames: 40, greedy: true });
  expectParity(greedy, WALK.ref, 'cpu + guidance worker');
  assert(maxAbsDiff(greedy.joints, want.greedy.joints) === 0, 'greedy joints differ from one worker');
  const got = await generate(page, WALK.text, sampled);
  assert(maxAbsDiff(got.joints, want.sampled.joints) === 0, 'sampled joints differ from one worker');
  const stats = await page.evaluate(() => window.model._guidanceStats());
  // 10 mask steps + 2 residual layers (3 quantizers) per generation, two generations.
  assert(stats.state === 'ready' && stats.answers === 24, `the guidance worker should have answered 24 passes: ${JSON.stringify(stats)}`);

  // The helper crashes mid-generation: the generation finishes alone, with the same joints.
  const crashed = await page.evaluate(async (options) => {
    const m = await window.model.generate('a person walks forward', {
      ...options,
      onProgress: (e) => {
        if (e.stage === 'mask' && e.step === 3) window.model._helper.onCrash('simulated crash');
      },
    });
    return { joints: Array.from(m.joints), info: window.model.info, stats: await window.model._guidanceStats() };
  }, sampled);
  assert(maxAbsDiff(crashed.joints, want.sampled.joints) === 0, 'joints after the crash differ from one worker');
  assert(crashed.info.guidanceWorker.startsWith('failed: the guidance worker crashed'), `info after the crash: ${crashed.info.guidanceWorker}`);
  assert(crashed.stats.answers >= 24 && crashed.stats.answers < 36, `answers: ${crashed.stats.answers}`);
  const after = await generate(page, WALK.text, { frames: 40, greedy: true });
  assert(maxAbsDiff(after.joints, want.greedy.joints) === 0, 'generations after the crash still agree');
  notes.push(`guidance worker: ready, 24 answers over two generations, joints identical to one worker; crash at step 3 survived (${crashed.stats.answers - 24} answers before it)`);
});

test('webgpu (SwiftShader) joints equal native', 300_000, async (t) => {
  const { page } = await open(t);
  const info = await loadModel(page, { backend: 'webgpu' });
  assert(info.backend === 'webgpu', `expected webgpu, got ${info.backend} (${info.fallbackReason})`);
  assert(info.adapter && typeof info.adapter.isFallbackAdapter === 'boolean', 'adapter info');
  notes.push(`WebGPU adapter: ${info.adapterName} (fallback adapter: ${info.adapter.isFallbackAdapter})`);
  const r = await generate(page, WALK.text, { frames: 40, greedy: true });
  const d = expectParity(r, WALK.ref, 'webgpu');
  const r2 = await generate(page, JUMP.text, { frames: 'auto', greedy: true });
  const d2 = expectParity(r2, JUMP.ref, 'webgpu auto');
  notes.push(`webgpu vs native max |Δ| = ${d.toExponential(2)} (walk), ${d2.toExponential(2)} (jump, auto)`);
  assert(r2.backend === 'webgpu', 'still on webgpu');
});

async function demoParity(t, backend) {
  const { page } = await open(t);
  const t0 = Date.now();
  const info = await loadModel(page, { backend }, DEMO_BUNDLE);
  const loadS = (Date.now() - t0) / 1000;
  assert(info.backend === backend, `expected ${backend}, got ${info.backend} (${info.fallbackReason})`);
  assert(info.textEncoder === 'minilm' && info.tokenizer === 'wordpiece' && info.textDim === 384, `text encoder: ${info.textEncoder} / ${info.tokenizer} / ${info.textDim}`);
  assert(info.quantization === 'q8' && info.hasLengthEstimator && info.sizes.joints === 22, `info: ${info.quantization}, estimator ${info.hasLengthEstimator}`);
  const diffs = [];
  for (const c of DEMO) {
    const r = await generate(page, c.text, { frames: c.frames, greedy: true });
    diffs.push(`${expectParity(r, c.ref(), `${backend} ${c.label}`).toExponential(2)} (${c.label})`);
  }
  notes.push(`minilm q8 (${(info.sizes.bytes / 1e6).toFixed(1)} MB) on ${backend}: loaded in ${loadS.toFixed(1)} s; vs native max |Δ| = ${diffs.join(', ')}`);
  return page;
}

test('minilm (demo config, q8): cpu (wasm) joints equal native', 180_000, async (t) => {
  const page = await demoParity(t, 'cpu');
  // Prompts at the tokenizer's edges: far beyond 256 pieces (cut), only control characters,
  // only punctuation. They generate (or reject with a named error), never crash the instance.
  const odd = await page.evaluate(async () => {
    const out = [];
    for (const text of ['a person walks forward and waves '.repeat(200), '\u0000\u0001\u200b\ufffd', '?!…', 'ＡＢＣ ｐｅｒｓｏｎ', '[CLS] [PAD] [MASK] [UNK]']) {
      try {
        const m = await window.model.generate(text, { frames: 8, greedy: true });
        out.push({ ok: m.frames === 8 && m.joints.every(Number.isFinite) });
      } catch (e) {
        out.push({ name: e.name, message: e.message });
      }
    }
    return out;
  });
  assert(odd.every((o) => o.ok === true || (o.name && o.name !== 'MoMaskPanic')), `odd prompts: ${JSON.stringify(odd)}`);
  const again = await generate(page, DEMO[0].text, { frames: 40, greedy: true });
  expectParity(again, DEMO[0].ref(), 'cpu after odd prompts');
});

test('minilm (demo config, q8): webgpu (SwiftShader) joints equal native', 300_000, async (t) => {
  await demoParity(t, 'webgpu');
});

test('minilm bundles with an inconsistent header reject with clear messages', 120_000, async (t) => {
  const { page } = await open(t);
  // The content hash covers the tensors, not the JSON header: edit the header, keep the tensors.
  const cases = [
    ['', null],
    ['m.config.text.heads = 7', /bundle header is invalid: config\.text: minilm: width 384 is not a positive multiple of 7 heads/],
    ['m.config.text.layer_norm_eps = -1', /config\.text: minilm/],
    ['m.text_encoder = "clip"', /disagree with the config's text encoder/],
    ['m.tokenizer = "clip-bpe"', /disagree with the config's text encoder/],
    ['m.config.text.kind = "bert"', /bundle header is invalid/],
    ['m.config.text.hidden = 768', /768|384/],
    ['m.config.text.max_position = 128', /minilm\.embeddings\.position_embeddings\.weight/],
    ['m.config.text.vocab_size = 1000', /1000/],
    ['m.config.text.layers = 7', /minilm\.encoder\.layer\.6/],
    ['m.config.text.layers = 5', /minilm\.encoder\.layer\.5/],
    ['m.config.text.intermediate = 1024', /minilm\.encoder\.layer\.0\.intermediate/],
    ['m.config.mask.clip_dim = 512', /clip_dim/],
  ];
  const out = await page.evaluate(
    async ({ url, edits }) => {
      const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      const outer = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
      const res = [];
      for (const edit of edits) {
        const m = JSON.parse(outer.__metadata__.momask);
        new Function('m', edit)(m);
        let header = JSON.stringify({ ...outer, __metadata__: { ...outer.__metadata__, momask: JSON.stringify(m) } });
        header += ' '.repeat((8 - (header.length % 8)) % 8);
        const h = new TextEncoder().encode(header);
        const file = new Uint8Array(8 + h.length + bytes.length - 8 - n);
        new DataView(file.buffer).setBigUint64(0, BigInt(h.length), true);
        file.set(h, 8);
        file.set(bytes.subarray(8 + n), 8 + h.length);
        try {
          const model = await MoMask.load(file, { backend: 'cpu' });
          model.dispose();
          res.push(null);
        } catch (e) {
          res.push({ name: e.name, message: e.message });
        }
      }
      return res;
    },
    { url: DEMO_BUNDLE, edits: cases.map((c) => c[0]) },
  );
  cases.forEach(([edit, re], i) => {
    const e = out[i];
    if (!re) return assert(e === null, `the unedited header should load: ${JSON.stringify(e)}`);
    assert(e && e.name === 'MoMaskError' && re.test(e.message), `${edit}: ${JSON.stringify(e)}`);
    t.log.push(`  ${edit}: ${e.name}: ${e.message}`);
  });
});

test('auto on a software adapter falls back to cpu with a reason', 120_000, async (t) => {
  const { page } = await open(t);
  const info = await loadModel(page, { backend: 'auto' });
  if (info.adapter && !info.adapter.isFallbackAdapter) {
    assert(info.backend === 'webgpu', 'a hardware adapter should be used');
    return;
  }
  assert(info.backend === 'cpu', `expected cpu, got ${info.backend}`);
  assert(/software fallback/.test(info.fallbackReason || ''), `reason: ${info.fallbackReason}`);
  assert(info.requestedBackend === 'auto', 'requestedBackend');
  const r = await generate(page, WALK.text, { frames: 40, greedy: true });
  expectParity(r, WALK.ref, 'auto→cpu');
});

const HIDE_GPU = () => {
  for (const proto of [globalThis.Navigator?.prototype, globalThis.WorkerNavigator?.prototype]) if (proto) delete proto.gpu;
};

test('no navigator.gpu (page thread) falls back to cpu with a reason', 120_000, async (t) => {
  const { page } = await open(t, { initScript: HIDE_GPU });
  assert((await page.evaluate(() => 'gpu' in navigator)) === false, 'navigator.gpu should be hidden');
  for (const backend of ['auto', 'webgpu']) {
    const info = await loadModel(page, { backend, worker: false });
    assert(info.backend === 'cpu' && info.worker === false, `${backend}: backend ${info.backend}, worker ${info.worker}`);
    assert(/navigator\.gpu is missing/.test(info.fallbackReason || ''), `${backend}: reason ${info.fallbackReason}`);
    const r = await generate(page, WALK.text, { frames: 40, greedy: true });
    expectParity(r, WALK.ref, `no-gpu ${backend}`);
    await page.evaluate(() => window.model.dispose());
  }
});

test('WebGPU device lost mid-generation: falls back to cpu and finishes', 300_000, async (t) => {
  const { page } = await open(t);
  const info = await loadModel(page, { backend: 'webgpu' });
  assert(info.backend === 'webgpu', `expected webgpu, got ${info.backend}`);
  const out = await page.evaluate(async () => {
    const events = [];
    const m = await window.model.generate('a person walks forward', { frames: 40, greedy: true, _loseDeviceAtStep: 2, onProgress: (e) => events.push(e) });
    return { joints: Array.from(m.joints), frames: m.frames, fps: m.fps, jointCount: m.jointCount, info: window.model.info, events };
  });
  assert(out.info.backend === 'cpu', `after the loss the model should be on the cpu, is on ${out.info.backend}`);
  assert(/WebGPU failed during generation/.test(out.info.fallbackReason || ''), `reason: ${out.info.fallbackReason}`);
  assert(out.events.some((e) => e.stage === 'fallback'), 'a fallback progress event');
  expectParity(out, WALK.ref, 'after device loss');
  notes.push(`device loss → ${out.info.fallbackReason}`);
  const again = await generate(page, WALK.text, { frames: 40, greedy: true });
  expectParity(again, WALK.ref, 'next generation after device loss');
});

test('wrong option types and ranges reject with clear messages', 120_000, async (t) => {
  const { page } = await open(t);
  await loadModel(page, { backend: 'cpu' });
  const cases = [
    [{ steps: 'ten' }, 'TypeError', /steps.*invalid type/],
    [{ frames: 3.5 }, 'TypeError', /frames/],
    [{ frames: 'long' }, 'TypeError', /frames.*"long"/],
    [{ frames: 7000 }, 'RangeError', /frames.*7000 is outside 4..=6000/], // beyond 196 is a long motion, up to 5 minutes
    [{ frames: 0 }, 'RangeError', /frames/],
    [{ topk: 2 }, 'RangeError', /topk/],
    [{ temperature: -1 }, 'RangeError', /temperature/],
    [{ condScale: 'x' }, 'TypeError', /condScale/],
    [{ steps: 0 }, 'RangeError', /steps/],
    [{ sede: 1 }, 'TypeError', /unknown field `sede`/],
    [{ repeat: 0 }, 'RangeError', /repeat/],
    [{ greedy: 'yes' }, 'TypeError', /greedy/],
    [{ seed: -1 }, 'TypeError', /seed/],
    [{ onProgress: 5 }, 'TypeError', /onProgress/],
    ['fast', 'TypeError', /generate options/],
  ];
  for (const [options, name, re] of cases) {
    const e = await withTimeout(rejection(page, 'await window.model.generate("a person walks", arg)', options), 20_000, JSON.stringify(options));
    assert(e, `${JSON.stringify(options)} should reject`);
    assert(e.name === name && re.test(e.message), `${JSON.stringify(options)}: got ${e.name}: ${e.message}`);
  }
  for (const [body, re] of [
    ['await window.model.generate(42)', /text must be a string/],
    ['await window.model.generate("")', /empty/],
    ['await window.model.generate(["a", 3])', /text must be/],
  ]) {
    const e = await withTimeout(rejection(page, body), 20_000, body);
    assert(e && re.test(e.message), `${body}: ${JSON.stringify(e)}`);
  }
  const load = [
    ['await MoMask.load("/fixtures/small.safetensors", { backend: "gpu" })', /backend must be one of/],
    ['await MoMask.load("/fixtures/small.safetensors", { bakend: "cpu" })', /unknown option 'bakend'/],
    ['await MoMask.load(42)', /source must be/],
    ['await MoMask.load("/fixtures/small.safetensors", { relaxedSimd: "yes" })', /relaxedSimd must be true, false or "auto", got "yes"/],
  ];
  for (const [body, re] of load) {
    const e = await withTimeout(rejection(page, body), 20_000, body);
    assert(e && e.name === 'TypeError' && re.test(e.message), `${body}: ${JSON.stringify(e)}`);
  }
  // Still usable after all that.
  const r = await generate(page, WALK.text, { frames: 40, greedy: true });
  expectParity(r, WALK.ref, 'after bad options');
});

test('non-bundle, truncated and missing files reject with clear messages', 120_000, async (t) => {
  const { page } = await open(t);
  const cases = [
    ['await MoMask.load(new TextEncoder().encode("hello, I am not a model"), { backend: "cpu" })', /not a momask bundle/],
    ['await MoMask.load(new Uint8Array(0), { backend: "cpu" })', /not a momask bundle/],
    ['const b = new Uint8Array(await (await fetch("/fixtures/small.safetensors")).arrayBuffer()); await MoMask.load(b.subarray(0, b.length >> 1), { backend: "cpu" })', /bundle|truncat|size|length|invalid/i],
    ['const b = new Uint8Array(await (await fetch("/fixtures/small.safetensors")).arrayBuffer()); b[b.length - 5] ^= 0x55; await MoMask.load(b, { backend: "cpu" })', /hash mismatch/],
    ['await MoMask.load("/fixtures/missing.safetensors", { backend: "cpu" })', /HTTP 404/],
    ['await MoMask.load("/fixtures/ref_walk_40.json", { backend: "webgpu" })', /not a momask bundle/],
  ];
  for (const [body, re] of cases) {
    const e = await withTimeout(rejection(page, body), 60_000, body);
    assert(e && re.test(e.message), `${body.slice(0, 80)}…: ${JSON.stringify(e)}`);
    t.log.push(`  ${e.name}: ${e.message}`);
  }
});

test('integrity and sha256 options (SubtleCrypto)', 120_000, async (t) => {
  const { page } = await open(t);
  const bytes = fs.readFileSync(path.join(fixtures, 'small.safetensors'));
  const crypto = await import('node:crypto');
  const hex = crypto.createHash('sha256').update(bytes).digest('hex');
  const sri = `sha256-${crypto.createHash('sha256').update(bytes).digest('base64')}`;
  const ok = await loadModel(page, { backend: 'cpu', sha256: hex, cache: false });
  assert(ok.backend === 'cpu', 'loads with the right sha256');
  await page.evaluate(() => window.model.dispose());
  await loadModel(page, { backend: 'cpu', integrity: sri, cache: false });
  const wrong = await rejection(page, 'await MoMask.load("/fixtures/small.safetensors", { backend: "cpu", sha256: "00".repeat(32) })');
  assert(wrong && /integrity check failed/.test(wrong.message), `wrong sha256: ${JSON.stringify(wrong)}`);
  const wrongSri = await rejection(page, 'await MoMask.load("/fixtures/small.safetensors", { backend: "cpu", integrity: "sha256-AAAA" })');
  assert(wrongSri && /integrity check failed/.test(wrongSri.message), `wrong integrity: ${JSON.stringify(wrongSri)}`);
  const bad = await rejection(page, 'await MoMask.load("/fixtures/small.safetensors", { backend: "cpu", sha256: "xyz" })');
  assert(bad && bad.name === 'TypeError', `malformed sha256: ${JSON.stringify(bad)}`);
  assert(!(await page.evaluate(() => MoMask.isCached('/fixtures/small.safetensors'))), 'a failed integrity check must not be cached');
});

test('Cache Storage: second load without network, clearCache', 120_000, async (t) => {
  const { page } = await open(t);
  const before = countRequests(BUNDLE);
  const events = await page.evaluate(async () => {
    const ev = [];
    const m = await MoMask.load('/fixtures/small.safetensors', { backend: 'cpu', onProgress: (e) => ev.push(e) });
    const info = m.info;
    m.dispose();
    return { ev, info };
  });
  assert(events.info.cached === false, 'first load from the network');
  assert(events.ev.some((e) => e.stage === 'download' && e.loaded > 0 && e.total > 0) && events.ev.at(-1).stage === 'ready', `progress events: ${JSON.stringify(events.ev.slice(0, 4))}`);
  assert(countRequests(BUNDLE) === before + 1, 'one download');
  assert(await page.evaluate(() => MoMask.isCached('/fixtures/small.safetensors')), 'cached after the first load');
  const second = await loadModel(page, { backend: 'cpu' });
  assert(second.cached === true, 'second load from the cache');
  assert(countRequests(BUNDLE) === before + 1, `the second load must not hit the network (${countRequests(BUNDLE) - before} requests)`);
  const r = await generate(page, WALK.text, { frames: 40, greedy: true });
  expectParity(r, WALK.ref, 'from cache');
  assert(await page.evaluate(() => MoMask.clearCache()), 'clearCache returns true');
  assert(!(await page.evaluate(() => MoMask.isCached('/fixtures/small.safetensors'))), 'not cached after clearCache');
});

test('sources: Response, ArrayBuffer, Uint8Array; repeat and several prompts', 120_000, async (t) => {
  const { page } = await open(t);
  const out = await page.evaluate(async () => {
    const res = [];
    for (const make of [
      async () => fetch('/fixtures/small.safetensors'),
      async () => (await fetch('/fixtures/small.safetensors')).arrayBuffer(),
      async () => new Uint8Array(await (await fetch('/fixtures/small.safetensors')).arrayBuffer()),
    ]) {
      const src = await make();
      const m = await MoMask.load(src, { backend: 'cpu' });
      const motion = await m.generate('a person walks forward', { frames: 40, greedy: true });
      res.push({ kind: src.constructor.name, joints: Array.from(motion.joints), stillUsable: src instanceof Uint8Array ? src.length : src instanceof ArrayBuffer ? src.byteLength : 1 });
      if (src instanceof Uint8Array) {
        const many = await m.generate('a person walks forward', { frames: 40, repeat: 3, seed: 5 });
        const two = await m.generate(['a person walks forward', 'someone jumps'], { frames: 20, greedy: true });
        res.push({ many: many.length, manyFrames: many.map((x) => x.frames), two: two.map((x) => [x.text, x.frames]) });
      }
      m.dispose();
    }
    return res;
  });
  for (const r of out.slice(0, 3)) {
    assert(maxAbsDiff(r.joints, WALK.ref.joints) <= TOL, `${r.kind} source parity`);
    assert(r.stillUsable > 0, `${r.kind}: the caller's buffer must not be detached`);
  }
  const many = out[3];
  assert(many.many === 3 && many.manyFrames.every((f) => f === 40), `repeat: ${JSON.stringify(many)}`);
  assert(many.two.length === 2 && many.two[1][0] === 'someone jumps' && many.two[1][1] === 20, `texts: ${JSON.stringify(many.two)}`);
});

async function cancellationTest(t, server) {
  const { page } = await open(t, { server });
  await loadModel(page, { backend: 'cpu' });
  const out = await page.evaluate(async () => {
    const controller = new AbortController();
    const started = performance.now();
    let abortedAt = 0;
    let steps = 0;
    const p = window.model.generate('a person walks forward', {
      frames: 196, steps: 60, signal: controller.signal,
      onProgress: (e) => {
        if (e.stage === 'mask') steps = e.step;
        if (e.stage === 'mask' && e.step === 1) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    });
    let error = null;
    try {
      await p;
    } catch (e) {
      error = { name: e.name, message: e.message };
    }
    const rejectedAfter = performance.now() - abortedAt;
    const pre = new AbortController();
    pre.abort();
    let preError = null;
    try {
      await window.model.generate('x', { signal: pre.signal });
    } catch (e) {
      preError = e.name;
    }
    // The host is free again: a short generation is not stuck behind the cancelled one.
    const t0 = performance.now();
    const m = await window.model.generate('a person walks forward', { frames: 40, greedy: true });
    return { error, rejectedAfter, preError, next: { joints: Array.from(m.joints), ms: performance.now() - t0 }, steps, isolated: globalThis.crossOriginIsolated, total: performance.now() - started };
  });
  assert(out.error && out.error.name === 'AbortError', `expected an AbortError, got ${JSON.stringify(out.error)}`);
  assert(out.rejectedAfter < 500, `the promise should reject right after abort (${out.rejectedAfter} ms)`);
  assert(out.preError === 'AbortError', 'an already aborted signal rejects at once');
  assert(maxAbsDiff(out.next.joints, WALK.ref.joints) <= TOL, 'generation after cancel');
  return out;
}

test('cancellation with AbortSignal (cross-origin isolated: stops between steps)', 180_000, async (t) => {
  const out = await cancellationTest(t, isolated);
  assert(out.isolated === true, 'page should be cross-origin isolated');
  notes.push(`cancel (isolated): rejected ${out.rejectedAfter.toFixed(0)} ms after abort; next 40-frame generation done in ${out.next.ms.toFixed(0)} ms`);
});

test('cancellation with AbortSignal (not isolated)', 180_000, async (t) => {
  const out = await cancellationTest(t, plain);
  notes.push(`cancel (not isolated): rejected ${out.rejectedAfter.toFixed(0)} ms after abort; next 40-frame generation done in ${out.next.ms.toFixed(0)} ms`);
});

test('abort during load', 60_000, async (t) => {
  const { page } = await open(t);
  const e = await rejection(page, 'const c = new AbortController(); c.abort(); await MoMask.load("/fixtures/small.safetensors", { signal: c.signal })');
  assert(e && e.name === 'AbortError', `pre-aborted: ${JSON.stringify(e)}`);
  const e2 = await rejection(page, 'const c = new AbortController(); await MoMask.load("/fixtures/small.safetensors", { signal: c.signal, onProgress: (p) => { if (p.stage === "download") c.abort(); } })');
  assert(e2 && e2.name === 'AbortError', `aborted while downloading: ${JSON.stringify(e2)}`);
});

test('the page stays responsive during generation (worker)', 180_000, async (t) => {
  const { page } = await open(t);
  await loadModel(page, { backend: 'cpu' });
  const out = await page.evaluate(async () => {
    let last = performance.now();
    let maxGap = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 10);
    const t0 = performance.now();
    await window.model.generate('a person walks forward', { frames: 196, steps: 20 });
    const ms = performance.now() - t0;
    clearInterval(timer);
    return { maxGap, ticks, ms };
  });
  notes.push(`responsiveness: 196 frames / 20 steps on cpu took ${out.ms.toFixed(0)} ms; longest main-thread gap ${out.maxGap.toFixed(0)} ms`);
  assert(out.maxGap < 250, `the main thread was blocked for ${out.maxGap} ms`);
});

test('toBVH matches the CLI', 120_000, async (t) => {
  const { page } = await open(t);
  await loadModel(page, { backend: 'cpu' });
  const bvh = await page.evaluate(async () => (await window.model.generate('a person walks forward', { frames: 40, greedy: true })).toBVH());
  const ref = fs.readFileSync(path.join(fixtures, 'ref_walk_40.bvh'), 'utf8');
  const [hb, mb] = bvh.split('MOTION');
  const [hr, mr] = ref.split('MOTION');
  assert(hb === hr, 'BVH hierarchy differs from the CLI');
  const nb = mb.trim().split(/\s+/).filter((x) => !isNaN(Number(x))).map(Number);
  const nr = mr.trim().split(/\s+/).filter((x) => !isNaN(Number(x))).map(Number);
  const d = maxAbsDiff(nb, nr);
  assert(d < 1e-2, `BVH motion values differ from the CLI by ${d}`);
  notes.push(`BVH vs CLI: hierarchy identical, max |Δ| over channels ${d.toExponential(2)}`);
});

test('edit and long motions through the JS API (cpu) equal native; bad input rejects', 180_000, async (t) => {
  const { page } = await open(t);
  await loadModel(page, { backend: 'cpu' });
  const bvh = fs.readFileSync(path.join(fixtures, 'ref_walk_40.bvh'), 'utf8');
  const r = await page.evaluate(
    async ({ walk, bvh }) => {
      const pick = (m) => ({ frames: m.frames, joints: Array.from(m.joints), seams: m.seams, seamBaseline: m.seamBaseline, segments: m.segments, kept: m.keptErrorMm, rt: m.roundTripErrorMm });
      const joints = new Float32Array(walk);
      const fromJoints = await window.model.edit(joints, [[8, 24]], 'a person jumps', { greedy: true });
      const fromBvh = await window.model.edit(bvh, [[8, 24]], 'a person jumps', { greedy: true });
      const source = await window.model.generate('a person walks forward', { frames: 40, greedy: true });
      const fromMotion = await window.model.edit(source, [[8, 24]], 'a person jumps', { greedy: true });
      const same = await window.model.edit(source, [], 'a person jumps');
      const events = [];
      const timeline = await window.model.generateTimeline([{ text: 'a person walks forward', seconds: 6 }, { text: 'a person jumps', seconds: 4.4 }], { greedy: true, onProgress: (e) => events.push(e.stage) });
      const long = await window.model.generate('a person walks forward', { frames: 240, greedy: true });
      const longEdit = await window.model.edit(long, [[100, 140]], 'a person jumps', { greedy: true });
      return { longEdit: { ...pick(longEdit), before: Array.from(long.joints) }, fromJoints: pick(fromJoints), fromBvh: pick(fromBvh), fromMotion: pick(fromMotion), sourceJoints: Array.from(source.joints), same: Array.from(same.joints), timeline: pick(timeline), long: pick(long), windows: events.filter((s) => s === 'window').length };
    },
    { walk: WALK.ref.joints, bvh },
  );
  const ref = (f) => readRef(f);
  const dEdit = maxAbsDiff(r.fromJoints.joints, ref('ref_edit_json.json').joints);
  assert(r.fromJoints.frames === 36 && dEdit <= TOL, `edit (joints source): ${r.fromJoints.frames} frames, |Δ| vs native ${dEdit}`);
  const dBvh = maxAbsDiff(r.fromBvh.joints, ref('ref_edit_bvh.json').joints);
  assert(dBvh <= TOL, `edit (BVH source): |Δ| vs native ${dBvh}`);
  assert(r.fromJoints.seams.map((s) => s.frame).join() === '8,24' && r.fromJoints.seams.every((s) => Number.isFinite(s.ratio) && s.jumpMm >= 0), `edit seams: ${JSON.stringify(r.fromJoints.seams)}`);
  assert(Number.isFinite(r.fromJoints.kept) && Number.isFinite(r.fromJoints.rt), 'edit reports kept-frame and round-trip errors');
  assert(r.fromMotion.frames === 40 && r.fromMotion.seams.length === 2, `edit of a generated motion keeps its 40 frames: ${r.fromMotion.frames}`);
  assert(maxAbsDiff(r.same, r.sourceJoints) <= 1e-5, 'an edit without spans returns the source');
  const dTimeline = maxAbsDiff(r.timeline.joints, ref('ref_timeline.json').joints);
  assert(r.timeline.frames === 208 && dTimeline <= TOL, `timeline: ${r.timeline.frames} frames, |Δ| vs native ${dTimeline}`);
  assert(r.timeline.segments.map((s) => `${s.startFrame}-${s.endFrame}`).join() === '0-120,120-208', `segments: ${JSON.stringify(r.timeline.segments)}`);
  assert(r.windows >= 2 && r.timeline.seams.length === r.windows - 1, `windows ${r.windows}, seams ${r.timeline.seams.length}`);
  const dLong = maxAbsDiff(r.long.joints, ref('ref_long_240.json').joints);
  assert(r.long.frames === 240 && dLong <= TOL && r.long.seams.length >= 1, `frames 240: ${r.long.frames} frames, |Δ| vs native ${dLong}`);
  // A span of a long motion: edited in the window around it, cross-faded in; frames far from it
  // are the source's.
  const le = r.longEdit;
  assert(le.frames === 240 && le.seams.map((s) => s.frame).join() === '84,100,140,156', `long edit: ${le.frames} frames, seams ${JSON.stringify(le.seams)}`);
  assert(maxAbsDiff(le.joints.slice(0, 84 * 66), le.before.slice(0, 84 * 66)) === 0, 'long edit: frames before the cross-fade are unchanged');
  notes.push(`JS edit vs native: |Δ| ${dEdit.toExponential(2)} (joints), ${dBvh.toExponential(2)} (BVH); timeline ${dTimeline.toExponential(2)}, 240 frames ${dLong.toExponential(2)}; edit seams ${r.fromJoints.seams.map((s) => `×${s.ratio.toFixed(2)}`).join(' ')}, timeline seams ${r.timeline.seams.map((s) => `×${s.ratio.toFixed(2)}`).join(' ')}`);

  const cases = [
    ['await window.model.edit(42, [[0, 8]], "x")', 'TypeError', /source must be/],
    ['await window.model.edit(new Float32Array(65), [[0, 8]], "x")', 'RangeError', /frames × 22 × 3/],
    ['await window.model.edit("HIERARCHY nonsense", [[0, 8]], "x")', 'RangeError', /BVH/],
    ['const m = await window.model.generate("a", { frames: 40 }); await window.model.edit(m, [[30, 10]], "x")', 'RangeError', /spans/],
    ['const m = await window.model.generate("a", { frames: 40 }); await window.model.edit(m, [[0, 400]], "x")', 'RangeError', /spans/],
    ['const m = await window.model.generate("a", { frames: 40 }); await window.model.edit(m, [[0.5, 8]], "x")', 'TypeError', /whole/],
    ['const m = await window.model.generate("a", { frames: 40 }); await window.model.edit(m, [8, 16], "x")', 'TypeError', /pair/],
    ['const m = await window.model.generate("a", { frames: 40 }); await window.model.edit(m, [[0, 8]], "  ")', 'RangeError', /empty/],
    ['const m = await window.model.generate("a", { frames: 40 }); await window.model.edit(m, [[0, 8]], "x", { sede: 1 })', 'TypeError', /unknown field `sede`/],
    ['const m = await window.model.generate("a", { frames: 240 }); await window.model.edit(m, [[0, 8], [200, 232]], "x")', 'RangeError', /do not fit one 196-frame window/],
    ['await window.model.generateTimeline([])', 'RangeError', /no segment/],
    ['await window.model.generateTimeline([{ text: "walk" }])', 'TypeError', /seconds/],
    ['await window.model.generateTimeline([{ text: "walk", seconds: 4 }, { text: "jump", seconds: 0.05 }])', 'RangeError', /segment 1.*shorter than one token/],
    ['await window.model.generateTimeline([{ text: "", seconds: 4 }])', 'RangeError', /prompt is empty/],
    ['await window.model.generateTimeline([{ text: "walk", seconds: 400 }])', 'RangeError', /at most 300/],
    ['await window.model.generateTimeline([{ text: "walk", seconds: 20 }], { context: 49 })', 'RangeError', /context/],
    ['await window.model.generateTimeline("walk#4s")', 'TypeError', /array/],
    ['await window.model.generate("walk", { frames: 7000 })', 'RangeError', /outside 4..=6000/],
  ];
  for (const [body, name, re] of cases) {
    const e = await rejection(page, body);
    assert(e && e.name === name && re.test(e.message), `${body}: got ${JSON.stringify(e)}`);
  }
  // An aborted timeline rejects with an AbortError and stops at the next step.
  const aborted = await rejection(page, 'const c = new AbortController(); const p = window.model.generateTimeline([{ text: "walk", seconds: 30 }], { signal: c.signal, onProgress: (e) => { if (e.stage === "window") c.abort(); } }); await p');
  assert(aborted && aborted.name === 'AbortError', `aborted timeline: ${JSON.stringify(aborted)}`);
  // Nothing above crashed the instance.
  const after = await generate(page, WALK.text, { frames: 40, greedy: true });
  expectParity(after, WALK.ref, 'cpu after bad edits and timelines');
});

test('dispose: later calls reject', 60_000, async (t) => {
  const { page } = await open(t);
  await loadModel(page, { backend: 'cpu' });
  const e = await rejection(page, 'const m = await window.model.generate("a person walks", { frames: 8 }); window.model.dispose(); await window.model.generate("again")');
  assert(e && /disposed/.test(e.message), `after dispose: ${JSON.stringify(e)}`);
});

test('package without a bundler (<script type="module">)', 120_000, async (t) => {
  const { page } = await open(t, { page: 'plain.html', query: `?model=${BUNDLE}&backend=cpu&frames=40` });
  const r = await withTimeout(page.evaluate(() => window.plainResult), 100_000, 'plain.html');
  assert(r.backend === 'cpu' && r.frames === 40 && maxAbsDiff(r.joints, WALK.ref.joints) <= TOL, 'plain page parity');
});

// The package as a user installs it: npm pack → npm install in a scratch app outside the
// repository → webpack --mode production (tests-web/webpack-app.mjs). Only `exports`, the
// worker's and the .wasm's `new URL(..., import.meta.url)` make this work.
test('package in a webpack app (npm pack → npm install → webpack --mode production)', 300_000, async (t) => {
  const { buildWebpackApp } = await import('./webpack-app.mjs');
  const app = await buildWebpackApp({ pkgDir: args.pkg || 'pkg', timeoutMs: 200_000, log: (l) => t.log.push(l) });
  for (const f of ['index.js', 'worker.js', 'host.js', 'momask.js', 'momask_bg.wasm', 'momask_relaxed_bg.wasm', 'package.json']) assert(app.packedFiles.includes(f), `the tarball lacks ${f}: ${app.packedFiles}`);
  const emitted = fs.readdirSync(app.dist);
  const wasm = emitted.filter((f) => f.endsWith('.wasm'));
  assert(wasm.length === 2, `webpack should emit both .wasm modules as assets: ${emitted}`);
  const served = new Map();
  const server = await serve({ root: app.dist, mounts: { '/fixtures': fixtures }, onRequest: (p) => served.set(p, (served.get(p) || 0) + 1) });
  t.cleanup.push(() => server.close());
  const context = await browser.newContext();
  t.cleanup.push(() => context.close());
  const page = await context.newPage();
  page.on('console', (m) => t.log.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => t.log.push(`[pageerror] ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => t.log.push(`[worker.${m.type()}] ${m.text()}`)));
  await page.goto(`${server.url}/index.html?model=${BUNDLE}&text=${encodeURIComponent(WALK.text)}&frames=40`);
  const r = await page.evaluate(() => window.appResult);
  assert(!r.error, `the app failed: ${r.error}`);
  assert(r.backend === 'cpu' && r.worker === true, `backend ${r.backend}, worker ${r.worker}`);
  // Chromium has relaxed SIMD, so the worker fetches that module (and only that one).
  const fetched = wasm.filter((f) => served.get(`/${f}`) >= 1);
  assert(fetched.length === 1 && r.wasm === 'relaxed-simd', `fetched ${fetched} of ${wasm}; info.wasm ${r.wasm}`);
  const chunks = [...served.keys()].filter((p) => p.endsWith('.js') && p !== '/main.js');
  assert(chunks.length >= 1, `no worker chunk was requested: ${[...served.keys()]}`);
  const d = expectParity(r, WALK.ref, 'webpack app');
  notes.push(`webpack app (${app.reused ? 'cached build' : 'fresh build'}; ${emitted.join(', ')}): cpu vs native max |Δ| = ${d.toExponential(2)}`);
});

test('TypeScript types (tsc --strict on tests-web/types.ts)', 120_000, async () => {
  const { execFile } = await import('node:child_process');
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  await new Promise((resolve, reject) =>
    execFile(path.join(root, 'node_modules/.bin/tsc'), ['--noEmit', '--strict', '--target', 'es2022', '--module', 'es2022', '--moduleResolution', 'bundler', '--lib', 'es2022,dom', path.join(root, 'tests-web/types.ts')], (err, stdout, stderr) =>
      err ? reject(new Error(`tsc: ${stdout}${stderr}`)) : resolve(),
    ),
  );
});

let bench = null;
test('benchmark page (cpu with and without the guidance worker, webgpu)', 480_000, async (t) => {
  const { page } = await open(t, { page: 'bench.html', query: `?model=${BUNDLE}&frames=40&runs=3&backends=cpu1,cpu2,webgpu` });
  await page.waitForFunction(() => window.benchResult, null, { timeout: 470_000 });
  bench = await page.evaluate(() => window.benchResult);
  for (const b of ['cpu1', 'cpu2', 'webgpu']) assert(!bench.backends[b].error, `${b}: ${bench.backends[b].error}`);
  assert(bench.backends.webgpu.backend === 'webgpu', 'the webgpu column ran on webgpu');
  assert(bench.backends.cpu1.guidanceWorker === 'off' && bench.backends.cpu1.guidanceAnswers === 0, 'cpu1 runs without a guidance worker');
  assert(bench.backends.cpu2.guidanceWorker === 'ready' && bench.backends.cpu2.guidanceAnswers > 0, `cpu2 runs with the guidance worker: ${bench.backends.cpu2.guidanceWorker}`);
  assert(bench.rows.length > 5 && bench.rows.every((r) => typeof r.cpu2 === 'number'), 'rows');
});

// The three.js page, embed.html and <momask-viewer> (tests-web/page.mjs).
const { registerPageTests } = await import('./page.mjs');
registerPageTests({ test, browser, server: plain, assert, maxAbsDiff, fixtures, BUNDLE, notes });

// ---- runner --------------------------------------------------------------------------------

let passed = 0;
let failed = 0;
const selected = tests.filter((t) => !filter.length || filter.some((f) => t.name.includes(f)));
for (const tc of selected) {
  const t = { cleanup: [], log: [] };
  const started = Date.now();
  try {
    await withTimeout(tc.fn(t), tc.timeoutMs, tc.name);
    passed++;
    console.log(`ok    ${tc.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL  ${tc.name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n      ${e.message}`);
    for (const line of t.log.slice(-30)) console.log(`      ${line}`);
  }
  for (const c of t.cleanup.reverse()) await c().catch(() => {});
}

if (notes.length) console.log(`\n${notes.map((n) => `note: ${n}`).join('\n')}`);
if (bench) {
  console.log(`\nbrowser benchmark (small model, ${bench.frames} frames, ${bench.steps} steps, median of ${bench.runs}; ms):`);
  const cols = Object.keys(bench.backends);
  const w = Math.max(...bench.rows.map((r) => r.stage.length));
  console.log(`${'stage'.padEnd(w)}  ${cols.map((c) => c.padStart(10)).join('  ')}`);
  for (const r of bench.rows) console.log(`${r.stage.padEnd(w)}  ${cols.map((c) => (r[c] == null ? '–' : r[c].toFixed(1)).padStart(10)).join('  ')}`);
  fs.mkdirSync(fixtures, { recursive: true });
  fs.writeFileSync(path.join(fixtures, 'bench.json'), JSON.stringify(bench, null, 2));
}

await browser.close();
await plain.close();
await isolated.close();
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
