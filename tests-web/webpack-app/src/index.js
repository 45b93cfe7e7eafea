// Resolved through node_modules/momask's package.json `exports`, as in any app.
import { MoMask } from 'momask';

const params = new URLSearchParams(location.search);
const out = document.getElementById('out');

window.appResult = (async () => {
  try {
    const model = await MoMask.load(params.get('model'), { backend: 'cpu' });
    const motion = await model.generate(params.get('text'), { frames: Number(params.get('frames')), greedy: true });
    const result = { backend: model.info.backend, worker: model.info.worker, wasm: model.info.wasm, frames: motion.frames, fps: motion.fps, jointCount: motion.jointCount, joints: Array.from(motion.joints) };
    model.dispose();
    out.textContent = `${result.frames} frames on ${result.backend}; first joint ${result.joints.slice(0, 3).map((x) => x.toFixed(4)).join(', ')}`;
    return result;
  } catch (e) {
    out.textContent = `error: ${e.name}: ${e.message}`;
    return { error: `${e.name}: ${e.message}` };
  }
})();
