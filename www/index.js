// A minimal page that uses the package: load a model, generate from a text box, draw the
// skeleton (side view, 2D canvas), download JSON / BVH.
import { MoMask } from 'momask';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const modelUrl = params.get('model') || 'assets/momask-demo.safetensors';
$('model-url').textContent = modelUrl;
if (params.get('backend')) $('backend').value = params.get('backend');

let model = null;
let controller = null;
let animation = 0;

function status(text, fraction) {
  $('status').textContent = text;
  if (fraction !== undefined) $('progress').value = fraction;
}

async function load() {
  model?.dispose();
  model = null;
  $('generate').disabled = true;
  try {
    model = await MoMask.load(modelUrl, {
      backend: $('backend').value,
      onProgress: (e) => {
        if (e.stage === 'download') status(`${e.cached ? 'reading cache' : 'downloading'} ${(e.loaded / 1e6).toFixed(1)} MB`, e.total ? e.loaded / e.total : 0);
        else status(e.stage);
      },
    });
    const i = model.info;
    status(`ready on ${i.backend}${i.fallbackReason ? ` (${i.fallbackReason})` : ''}`, 1);
    $('info').textContent = JSON.stringify({ ...i, config: undefined }, null, 2);
    $('generate').disabled = false;
  } catch (e) {
    status(`${e.name}: ${e.message}`, 0);
  }
}

// Parents of the 22 HumanML3D joints.
const PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19];

function draw(motion) {
  cancelAnimationFrame(animation);
  const ctx = $('view').getContext('2d');
  const { width, height } = ctx.canvas;
  const start = performance.now();
  const frame = () => {
    const f = Math.floor(((performance.now() - start) / 1000) * motion.fps) % motion.frames;
    ctx.clearRect(0, 0, width, height);
    const scale = height / 2.4;
    const root = motion.joint(f, 0);
    const px = (p) => [width / 2 + (p[0] - root[0]) * scale, height - 20 - p[1] * scale];
    ctx.strokeStyle = '#246';
    ctx.lineWidth = 3;
    for (let j = 1; j < motion.jointCount; j++) {
      const parent = motion.jointCount === 22 ? PARENTS[j] : j - 1;
      const [x0, y0] = px(motion.joint(f, parent));
      const [x1, y1] = px(motion.joint(f, j));
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
    }
    ctx.fillText(`${motion.text} — frame ${f + 1}/${motion.frames}`, 8, 14);
    animation = requestAnimationFrame(frame);
  };
  frame();
}

function link(id, name, text, type) {
  const a = $(id);
  URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  a.hidden = false;
}

async function generate() {
  controller = new AbortController();
  $('cancel').disabled = false;
  $('generate').disabled = true;
  const framesText = $('frames').value.trim();
  try {
    const motion = await model.generate($('text').value, {
      frames: framesText === 'auto' ? 'auto' : Number(framesText),
      seed: Number($('seed').value),
      signal: controller.signal,
      onProgress: (e) => {
        if (e.stage === 'mask') status(`mask step ${e.step}/${e.steps}`, (e.step / e.steps) * 0.8);
        else if (e.stage === 'residual') status(`residual layer ${e.layer}/${e.layers}`, 0.8 + (e.layer / e.layers) * 0.15);
        else status(e.stage);
      },
    });
    status(`${motion.frames} frames (${motion.duration.toFixed(1)} s) on ${model.backend}`, 1);
    draw(motion);
    link('dl-json', 'joints.json', motion.toJSONString(), 'application/json');
    link('dl-bvh', 'motion.bvh', await motion.toBVH(), 'text/plain');
  } catch (e) {
    status(`${e.name}: ${e.message}`, 0);
  } finally {
    $('cancel').disabled = true;
    $('generate').disabled = false;
  }
}

$('load').onclick = load;
$('generate').onclick = generate;
$('cancel').onclick = () => controller?.abort();
$('clear-cache').onclick = async () => status((await MoMask.clearCache()) ? 'cache cleared' : 'no cache');
window.MoMask = MoMask;
load();
