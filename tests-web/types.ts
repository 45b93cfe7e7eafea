// Compile-time check of the package's hand-written and generated types (tsc --noEmit; run by
// scripts/test-web.sh). Never executed.
import { MoMask, Motion, type GenerateProgress, type LoadProgress, type ModelInfo } from '../pkg/index.js';
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
  });
  const info: ModelInfo = model.info;
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
  model.dispose();
  const cleared: boolean = await MoMask.clearCache();
  console.log(reason, backend, encoder, tokenizer, textDim, frames, bvh, positions, cleared);

  // @ts-expect-error: backend must be one of the three names
  await MoMask.load('/m', { backend: 'gpu' });
  // @ts-expect-error: frames is a number or "auto"
  await model.generate('x', { frames: 'long' });

  await init();
  const raw: Model = await Model.load(new Uint8Array(0), { backend: 'cpu' });
  const motions: RawMotion[] = await raw.generate('x', { greedy: true }, null, null);
  const text: string = jointsToBvh(motions[0].joints, motions[0].frames, 22, true);
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
