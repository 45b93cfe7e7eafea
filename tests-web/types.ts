// Compile-time check of the package's hand-written and generated types (tsc --noEmit; run by
// scripts/test-web.sh). Never executed.
import { MoMask, Motion, type GenerateProgress, type LoadProgress, type ModelInfo, type Seam } from '../pkg/index.js';
import init, { Model, jointsToBvh, type RawMotion } from '../pkg/momask.js';

async function usage(): Promise<void> {
  const controller = new AbortController();
  const model: MoMask = await MoMask.load('/model.safetensors', {
    backend: 'auto',
    integrity: 'sha256-abc',
    onProgress: (e: LoadProgress) => {
      if (e.stage === 'download') console.log(e.loaded, e.total, e.cached);
    },
    signal: controller.signal,
    guidanceWorker: 'auto',
    relaxedSimd: 'auto',
  });
  const info: ModelInfo = model.info;
  const helper: string = info.guidanceWorker;
  if (info.guidanceWorker === 'ready' || info.guidanceWorker.startsWith('failed: ')) console.log(helper);
  const wasmModule: 'relaxed-simd' | 'simd128' | 'custom' | `simd128 (${string})` = info.wasm;
  console.log(wasmModule);
  const reason: string | null = info.fallbackReason;
  const backend: 'webgpu' | 'cpu' = info.backend;
  const encoder: 'clip' | 'minilm' = info.textEncoder;
  const tokenizer: 'clip-bpe' | 'wordpiece' = info.tokenizer;
  const textDim: number = info.textDim;
  const one: Motion = await model.generate('a person walks', {
    frames: 120,
    seed: 1,
    steps: 10,
    condScale: 4,
    resCondScale: 5,
    temperature: 1,
    topk: 0.9,
    onProgress: (e: GenerateProgress) => {
      if (e.stage === 'mask') console.log(e.step / e.steps);
    },
    signal: controller.signal,
  });
  const many: Motion[] = await model.generate('a person walks', { frames: 'auto', repeat: 3 });
  const batch: Motion[] = await model.generate(['a', 'b']);
  const joints: Float32Array = one.joints;
  const frames: number = one.frames + one.fps + many.length + batch.length + joints.length;
  const bvh: string = await one.toBVH({ footIk: false });
  const doc = one.toJSON();
  const positions: [number, number, number][][] = doc.positions;
  const edited: Motion = await model.edit(one, [[40, 80]], 'a person jumps', { seed: 1, steps: 18, resCondScale: 2 });
  const fromBvh: Motion = await model.edit(bvh, [[0, 20]], 'a person waves');
  const fromJoints: Motion = await model.edit(one.joints, [[0, 20]], 'a person waves', { greedy: true });
  const seams: Seam[] = edited.seams ?? [];
  const kept: number | undefined = edited.keptErrorMm;
  const long: Motion = await model.generateTimeline([{ text: 'walk', seconds: 4 }, { text: 'jump', seconds: 2 }], {
    seed: 1,
    context: 12,
    onProgress: (e: GenerateProgress) => {
      if (e.stage === 'window') console.log(e.window / e.windows);
    },
  });
  const starts: number[] = (long.segments ?? []).map((s) => s.startFrame);
  const longOne: Motion = await model.generate('walk', { frames: 600 });
  console.log(fromBvh, fromJoints, seams.map((s) => s.ratio), kept, starts, longOne.seamBaseline?.p95);
  // @ts-expect-error: spans are [start, end] pairs
  await model.edit(one, [40, 80], 'x');
  // @ts-expect-error: segments need seconds
  await model.generateTimeline([{ text: 'walk' }]);
  model.dispose();
  const cleared: boolean = await MoMask.clearCache();
  console.log(reason, backend, encoder, tokenizer, textDim, frames, bvh, positions, cleared);

  // @ts-expect-error: backend must be one of the three names
  await MoMask.load('/m', { backend: 'gpu' });
  // @ts-expect-error: guidanceWorker is a boolean or "auto"
  await MoMask.load('/m', { guidanceWorker: 2 });
  // @ts-expect-error: relaxedSimd is a boolean or "auto"
  await MoMask.load('/m', { relaxedSimd: 'yes' });
  // @ts-expect-error: frames is a number or "auto"
  await model.generate('x', { frames: 'long' });

  await init();
  const raw: Model = await Model.load(new Uint8Array(0), { backend: 'cpu' });
  const motions: RawMotion[] = await raw.generate('x', { greedy: true }, null, null);
  const text: string = jointsToBvh(motions[0].joints, motions[0].frames, 22, true);
  raw.setGuidanceHelper((req) => (req.kind === 'mask' ? raw.uncondLogits(req) : undefined));
  raw.setGuidanceHelper(null);
  console.log(text, raw.info.backend);
}
void usage;

// momask/viewer (pkg-config/viewer.d.ts).
import { MotionViewer, PARENTS, defineElement, type MoMaskViewerElement, type PixelStats } from '../pkg/viewer.js';

async function viewerUsage(model: MoMask): Promise<void> {
  const viewer = new MotionViewer(document.body, { spacing: 1.5 });
  const motion = await model.generate('a person jumps', { frames: 40 });
  viewer.setMotions([motion, motion.toJSON()], { labels: ['a', 'b'] });
  viewer.setSpeed(0.5);
  viewer.step(-1);
  const stats: PixelStats = viewer.pixelStats();
  const glb: ArrayBuffer = await viewer.toGLB();
  defineElement();
  const el: MoMaskViewerElement = document.createElement('momask-viewer');
  const shown = await el.ready;
  console.log(stats.differ, glb.byteLength, shown.length, PARENTS.length, viewer.frame);
}
void viewerUsage;
