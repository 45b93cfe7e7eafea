// Browser side of scripts/bench-web.sh: runs www/bench.html on one bundle in headless Chromium
// (wasm CPU, and WebGPU on SwiftShader: --enable-unsafe-webgpu), then prints one table next to
// the native numbers (`momask bench --model <same bundle> --json` lines).
//
//   node tests-web/bench.mjs --dist www/dist --bundle target/bench-web/official-q8.safetensors
//        --native native.json [--native1 native-1thread.json] [--frames 196] [--runs 3]
//        [--gpu-runs 1] [--gpu-steps 1] [--timeout 1800] [--out result.json]
//
// WebGPU on SwiftShader (a CPU rasteriser) is very slow at official size, so its column runs
// `--gpu-steps` mask steps only; its all-steps and total rows are extrapolated to the CPU's step
// count from the measured per-step time (marked ~).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]?.startsWith('--') ? true : (all[i + 1] ?? true)]] : acc), []),
);
const dist = path.resolve(args.dist || 'www/dist');
const bundle = path.resolve(args.bundle);
const frames = Number(args.frames || 196);
const runs = Number(args.runs || 3);
const gpuRuns = Number(args['gpu-runs'] || 1);
const gpuSteps = Number(args['gpu-steps'] || 1);
const steps = 10;
const timeoutMs = Number(args.timeout || 1800) * 1000;
const readJsonLine = (f) => (f && f !== true ? JSON.parse(fs.readFileSync(f, 'utf8').trim().split('\n').pop()) : null);
const native = readJsonLine(args.native);
const native1 = readJsonLine(args.native1);

const server = await serve({ root: dist, mounts: { '/bench': path.dirname(bundle) } });
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'momask-bench-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: args.chromium || process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--headless=new'],
  headless: true,
  timeout: 60_000,
});

/** One bench page run; resolves to window.benchResult.backends[backend]. */
async function benchPage(backend, query) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[pageerror] ${e.message}`));
  const url = `${server.url}/bench.html?model=/bench/${encodeURIComponent(path.basename(bundle))}&frames=${frames}&backends=${backend}&${query}`;
  console.error(`bench page: ${url}`);
  const started = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => window.benchResult, null, { timeout: timeoutMs, polling: 1000 });
  const r = await page.evaluate(() => window.benchResult);
  await page.close();
  console.error(`  ${backend}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const b = r.backends[backend];
  if (b.error) throw new Error(`${backend}: ${b.error}`);
  const want = backend.startsWith('cpu') ? 'cpu' : backend;
  if (b.backend !== want) throw new Error(`${backend} ran on ${b.backend} (${b.fallbackReason})`);
  if (backend.startsWith('cpu') && b.guidanceWorker.startsWith('failed')) throw new Error(`the guidance worker ${b.guidanceWorker}`);
  return { ...b, userAgent: r.userAgent };
}

let cpu;
let cpu1;
let cpuSimd128;
let gpu = null;
try {
  cpu1 = await benchPage('cpu1', `runs=${runs}&steps=${steps}`);
  cpuSimd128 = await benchPage('cpu-simd128', `runs=${runs}&steps=${steps}`);
  cpu = await benchPage('cpu', `runs=${runs}&steps=${steps}`);
  if (gpuRuns > 0) {
    try {
      gpu = await benchPage('webgpu', `runs=${gpuRuns}&steps=${gpuSteps}`);
    } catch (e) {
      console.error(`webgpu: ${e.message}`);
      gpu = { error: e.message };
    }
  }
} finally {
  await context.close();
  await server.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}

// Rows: [label, native seconds, browser stage key, gpu extrapolation].
const ms = (s) => (s == null ? null : s * 1000);
const nat = (n, k) => (n ? ms(n[`${k}_median_s`]) : null);
const natRow = (n) =>
  n && {
    text: nat(n, 'text_encoder'),
    mask: nat(n, 'mask_transformer'),
    step: nat(n, 'mask_transformer') / n.steps,
    res: nat(n, 'residual_transformer'),
    decode: nat(n, 'vq_decode') + nat(n, 'recover_joints'),
    total: nat(n, 'total'),
  };
const pageRow = (b, s) =>
  b?.stages && {
    text: b.stages['text encoder + length estimator'],
    mask: b.stages['mask-predict (all steps)'],
    step: b.stages['mask-predict per step'],
    res: b.stages['residual layers'],
    decode: b.stages['VQ decode + joints'],
    total: b.stages['generate (worker)'],
    first: b.stages['first generate (page, warm-up)'],
    steps: s,
  };
const cols = { native: natRow(native), native1: natRow(native1), wasm1: pageRow(cpu1, steps), wasmSimd128: pageRow(cpuSimd128, steps), wasm: pageRow(cpu, steps), gpu: pageRow(gpu, gpuSteps) };
if (cols.gpu && gpuSteps !== steps) {
  // Extrapolated to `steps` mask steps from the measured per-step time.
  cols.gpu.total = cols.gpu.total - cols.gpu.mask + cols.gpu.step * steps;
  cols.gpu.mask = cols.gpu.step * steps;
  cols.gpu.extrapolated = new Set(['mask', 'total']);
}
const rows = [
  ['text encoder', 'text'],
  [`mask-predict (${steps} steps)`, 'mask'],
  ['mask-predict per step', 'step'],
  ['residual layers', 'res'],
  ['VQ decode + joints', 'decode'],
  ['generate (total)', 'total'],
  // The warm-up generation, as the page sees it: on WebGPU it compiles every kernel (at its own
  // step count, not extrapolated).
  ['first generate (warm-up)', 'first'],
];
const fmt = (c, k) => (c?.[k] == null ? '–' : `${c.extrapolated?.has(k) ? '~' : ''}${c[k].toFixed(0)}`);
const ratio = (a, b) => (a == null || b == null ? '–' : `${(a / b).toFixed(2)}×`);
const head = ['stage (ms)', `native CPU (${os.cpus().length} threads)`];
if (cols.native1) head.push('native CPU (1 thread)');
const helper = (b) => `guidance worker ${b.guidanceWorker === 'ready' ? 'on' : 'off'}`;
head.push(`wasm CPU (1 worker, ${cpu1.wasm})`, `wasm CPU (${helper(cpuSimd128)}, ${cpuSimd128.wasm})`, `wasm CPU (default: ${helper(cpu)}, ${cpu.wasm})`, `WebGPU (SwiftShader, ${gpuSteps} steps)`, 'wasm 1 worker / native', 'wasm default / native');
if (cols.native1) head.push('wasm 1 worker / native 1 thread');
const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i ? '---:' : '---')).join('|')}|`];
for (const [label, k] of rows) {
  const cells = [label, fmt(cols.native, k)];
  if (cols.native1) cells.push(fmt(cols.native1, k));
  cells.push(fmt(cols.wasm1, k), fmt(cols.wasmSimd128, k), fmt(cols.wasm, k), gpu?.error ? 'error' : fmt(cols.gpu, k), ratio(cols.wasm1?.[k], cols.native?.[k]), ratio(cols.wasm?.[k], cols.native?.[k]));
  if (cols.native1) cells.push(ratio(cols.wasm1?.[k], cols.native1?.[k]));
  lines.push(`| ${cells.join(' | ')} |`);
}
const table = lines.join('\n');
console.log(table);
console.log(
  `\n${path.basename(bundle)} (${(fs.statSync(bundle).size / 1e6).toFixed(1)} MB), ${frames} frames, ${steps} mask steps; native and wasm CPU: median of ${runs} runs after 1 warm-up; ` +
    `WebGPU: ${gpuSteps} mask steps, ${gpuRuns} run(s) after 1 warm-up${gpuSteps !== steps ? `, ~ = extrapolated to ${steps} steps from its per-step time` : ''}. ` +
    `Browser: ${cpu.userAgent}; WebGPU adapter: ${gpu?.adapter ?? gpu?.error ?? 'not run'}. Browser load of the bundle (CPU): ${(cpu.stages['load (page: worker + fetch/cache + init)'] / 1000).toFixed(1)} s; guidance worker (package default "auto"): ${cpu.guidanceWorker}, ${cpu.guidanceAnswers} answers${cpu.guidanceWorker === 'ready' ? `, ready ${(cpu.stages['guidance worker ready after load'] / 1000).toFixed(1)} s after load` : ''}.`,
);
if (args.out && args.out !== true) fs.writeFileSync(args.out, JSON.stringify({ bundle, frames, steps, runs, gpuRuns, gpuSteps, native, native1, cpu1, cpuSimd128, cpu, gpu, table }, null, 2));
