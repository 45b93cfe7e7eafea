// Browser tests of the three.js page (www/index.html), embed.html and the <momask-viewer> element
// on a bare page. Registered by run.mjs; every test is time-limited there. Screenshots go to
// target/web-test/screenshots/ (test artifacts) and, with MOMASK_WEB_SCREENSHOTS=docs, also to
// docs/screenshots/ (the README's images).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function registerPageTests({ test, browser, server, assert, maxAbsDiff, fixtures, BUNDLE, notes }) {
  const shots = path.join(fixtures, 'screenshots');
  const toDocs = process.env.MOMASK_WEB_SCREENSHOTS === 'docs';

  /** `docs: false` keeps a screenshot out of docs/screenshots/ (a test artifact only). */
  async function screenshot(page, name, { docs = true, ...options } = {}) {
    fs.mkdirSync(shots, { recursive: true });
    const file = path.join(shots, name);
    await page.screenshot({ path: file, ...options });
    if (toDocs && docs) {
      fs.mkdirSync(path.join(repo, 'docs/screenshots'), { recursive: true });
      fs.copyFileSync(file, path.join(repo, 'docs/screenshots', name));
    }
    return file;
  }

  /** A fresh context (own cache) with `url` open; console errors collected in `errors`. */
  async function openPage(t, url, { viewport = { width: 1280, height: 860 }, route = null } = {}) {
    const context = await browser.newContext({ viewport, acceptDownloads: true, deviceScaleFactor: 1 });
    t.cleanup.push(() => context.close());
    if (route) await route(context);
    const page = await context.newPage();
    const errors = [];
    page.on('console', (m) => {
      t.log.push(`[console.${m.type()}] ${m.text()}`);
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => {
      t.log.push(`[pageerror] ${e.message}`);
      errors.push(e.message);
    });
    page.on('worker', (w) => w.on('console', (m) => t.log.push(`[worker.${m.type()}] ${m.text()}`)));
    await page.goto(`${server.url}/${url}`);
    return { context, page, errors };
  }

  const q = (o) => new URLSearchParams(o).toString();
  const waitGenerations = (page, n, timeout) => page.waitForFunction((n) => window.momaskPage?.generations >= n, n, { timeout });
  const joints = (page) => page.evaluate(() => window.momaskPage.state.motions.map((m) => Array.from(m.joints)));
  const PROMPT = { prompt: 'a person walks forward', seed: '7', len: '2', model: BUNDLE };

  test('page: loads and paints before the model arrives; no console errors', 90_000, async (t) => {
    let release;
    const gate = new Promise((r) => (release = r));
    const { page, errors } = await openPage(t, `index.html?${q({ model: BUNDLE, backend: 'cpu' })}`, {
      route: (ctx) => ctx.route('**/fixtures/small.safetensors', async (r) => {
        await gate;
        await r.continue();
      }),
    });
    await page.waitForFunction(() => window.momaskPage?.viewer, null, { timeout: 20_000 });
    const early = await page.evaluate(() => ({ status: document.getElementById('status').textContent, ready: !document.getElementById('generate').disabled, px: window.momaskPage.viewer.pixelStats() }));
    assert(!early.ready, 'the model should still be downloading');
    assert(/Downloading/i.test(early.status), `status while downloading: ${early.status}`);
    assert(early.px.differ > 50, `the stage should show the ground and a figure before the model arrives (${early.px.differ} non-background samples)`);
    await screenshot(page, 'page-loading.png');
    release();
    assert(await page.evaluate(() => window.momaskPage.ready), 'the model loads');
    const s = await page.evaluate(() => ({ status: document.getElementById('status').textContent, badge: document.getElementById('backend-badge').textContent }));
    assert(/Model ready/.test(s.status) && /CPU/.test(s.badge), `after load: ${JSON.stringify(s)}`);
    assert(errors.length === 0, `console errors: ${errors.join(' | ')}`);
  });

  test('page: cpu generation with a fixed seed; canvas pixels, playback, keyboard', 120_000, async (t) => {
    const { page, errors } = await openPage(t, `index.html?${q({ ...PROMPT, backend: 'cpu' })}`);
    await waitGenerations(page, 1, 90_000);
    const info = await page.evaluate(() => {
      const v = window.momaskPage.viewer;
      const m = window.momaskPage.state.motions[0];
      return { frames: m.frames, viewerFrames: v.frames, playing: v.playing, status: document.getElementById('status').textContent, timings: document.getElementById('timings').textContent };
    });
    assert(info.frames === 40 && info.viewerFrames === 40, `2 s → 40 frames, got ${info.frames}`);
    assert(info.playing, 'plays after generating');
    assert(/total on CPU/.test(info.timings), `timings: ${info.timings}`);
    // Pixels: not blank, and different between frames.
    const px = await page.evaluate(() => {
      const v = window.momaskPage.viewer;
      v.pause();
      v.setFrame(0);
      const a = v.pixelStats();
      v.setFrame(25);
      const b = v.pixelStats();
      return { a, b };
    });
    assert(px.a.differ > 200 && px.a.colors > 20, `the canvas looks blank: ${JSON.stringify(px.a)}`);
    assert(px.a.hash !== px.b.hash, 'frames 0 and 25 render identically');
    // Pause holds the frame.
    const held = await page.evaluate(async () => {
      const v = window.momaskPage.viewer;
      v.setFrame(10);
      const before = v.frame;
      await new Promise((r) => setTimeout(r, 400));
      return { before, after: v.frame, playing: v.playing };
    });
    assert(!held.playing && held.before === held.after, `paused viewer moved: ${JSON.stringify(held)}`);
    // Scrub with the timeline.
    await page.$eval('#scrub', (el) => {
      el.value = '30';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    const scrubbed = await page.evaluate(() => ({ frame: window.momaskPage.viewer.frame, label: document.getElementById('time').textContent }));
    assert(scrubbed.frame === 30 && /frame 31 \/ 40/.test(scrubbed.label), `scrub: ${JSON.stringify(scrubbed)}`);
    // Keyboard: → steps, ← steps back, space plays.
    await page.locator('#stage canvas').click({ position: { x: 20, y: 20 } });
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowLeft');
    const stepped = await page.evaluate(() => window.momaskPage.viewer.frame);
    assert(stepped === 31, `arrow keys: frame ${stepped}, expected 31`);
    // Speed: frames advance about 8× faster at 2× than at 0.25×.
    const rate = async (speed) => {
      await page.selectOption('#speed', String(speed));
      return page.evaluate(async () => {
        const v = window.momaskPage.viewer;
        v.setLoop(true);
        v.setFrame(0);
        v.play();
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, 700));
        const f = v.frame;
        const dt = (performance.now() - t0) / 1000;
        v.pause();
        return { f, dt, speed: v.speed };
      });
    };
    const slow = await rate(0.25);
    const fast = await rate(2);
    assert(slow.speed === 0.25 && fast.speed === 2, 'speed select');
    assert(fast.f > slow.f * 3 && fast.f > 3, `speed: ${slow.f.toFixed(2)} frames at 0.25×, ${fast.f.toFixed(2)} at 2×`);
    await page.keyboard.press('Space');
    assert(await page.evaluate(() => window.momaskPage.viewer.playing), 'space plays');
    notes.push(`page: playback ${slow.f.toFixed(1)} frames in ${slow.dt.toFixed(2)} s at 0.25×, ${fast.f.toFixed(1)} at 2×; ${px.a.colors} colours on the canvas`);
    assert(errors.length === 0, `console errors: ${errors.join(' | ')}`);
  });

  test('page: downloads (BVH parses back with BVHLoader, JSON, GLB) and the share link reproduces the joints', 150_000, async (t) => {
    const { page, context, errors } = await openPage(t, `index.html?${q({ ...PROMPT, backend: 'cpu', n: '2' })}`);
    await waitGenerations(page, 1, 90_000);
    const first = await joints(page);
    assert(first.length === 2, `two samples, got ${first.length}`);
    const frames = await page.evaluate(() => window.momaskPage.state.motions[0].frames);
    const grab = async (id) => {
      const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click(id)]);
      return { name: dl.suggestedFilename(), bytes: fs.readFileSync(await dl.path()) };
    };
    const bvh = await grab('#dl-bvh');
    assert(/\.bvh$/.test(bvh.name), `bvh name ${bvh.name}`);
    const parsed = await page.evaluate((text) => window.momaskPage.parseBVH(text), bvh.bytes.toString('utf8'));
    assert(parsed.joints === 22, `BVHLoader found ${parsed.joints} joints (${parsed.names.join(',')})`);
    assert(parsed.frames === frames, `BVHLoader found ${parsed.frames} frames, the motion has ${frames}`);
    const json = await grab('#dl-json');
    const doc = JSON.parse(json.bytes.toString('utf8'));
    assert(doc.positions.length === frames && doc.positions[0].length === 22, 'joints JSON shape');
    assert(maxAbsDiff(doc.positions.flat(2), first[0]) < 1e-6, 'JSON download equals motion.joints');
    const glb = await grab('#dl-glb');
    assert(glb.bytes.subarray(0, 4).toString('latin1') === 'glTF' && glb.bytes.length > 10_000, `GLB: ${glb.bytes.length} bytes`);
    const gltfJson = JSON.parse(glb.bytes.subarray(20, 20 + glb.bytes.readUInt32LE(12)).toString('utf8'));
    assert(gltfJson.animations?.length === 1 && gltfJson.animations[0].channels.length > 22, 'GLB has the animation');
    // Share link in a fresh context: identical joints.
    const url = await page.evaluate(() => window.momaskPage.shareUrl());
    assert(/prompt=a\+person\+walks\+forward/.test(url) && /seed=7/.test(url) && /n=2/.test(url), `share link ${url}`);
    const other = await browser.newContext();
    t.cleanup.push(() => other.close());
    const p2 = await other.newPage();
    await p2.goto(url);
    await waitGenerations(p2, 1, 90_000);
    const second = await joints(p2);
    assert(second.length === 2 && maxAbsDiff(second[0], first[0]) === 0 && maxAbsDiff(second[1], first[1]) === 0, 'the share link gives identical joints');
    notes.push(`page: BVH → BVHLoader ${parsed.joints} joints × ${parsed.frames} frames; GLB ${glb.bytes.length} bytes; share link reproduced 2 samples exactly`);
    await page.evaluate(() => window.momaskPage.viewer.setFrame(18));
    await screenshot(page, 'page-samples.png');
    void context;
    assert(errors.length === 0, `console errors: ${errors.join(' | ')}`);
  });

  test('page: webgpu (SwiftShader) generation', 240_000, async (t) => {
    const { page, errors } = await openPage(t, `index.html?${q({ ...PROMPT, backend: 'webgpu' })}`);
    await waitGenerations(page, 1, 220_000);
    const s = await page.evaluate(() => ({ backend: window.momaskPage.state.model.backend, badge: document.getElementById('backend-badge').textContent, frames: window.momaskPage.state.motions[0].frames, timings: document.getElementById('timings').textContent }));
    assert(s.backend === 'webgpu' && /WebGPU/.test(s.badge), `backend ${s.backend}, badge ${s.badge}`);
    assert(s.frames === 40, `frames ${s.frames}`);
    const px = await page.evaluate(() => window.momaskPage.viewer.pixelStats());
    assert(px.differ > 200, 'canvas not blank');
    await page.evaluate(() => {
      const v = window.momaskPage.viewer;
      v.pause();
      v.setFrame(22);
    });
    // docs/screenshots/page.png (the README's image) shows the demo model: see the next test.
    await screenshot(page, 'page-webgpu.png', { docs: false });
    notes.push(`page: WebGPU badge "${s.badge}"; ${s.timings}`);
    assert(errors.length === 0, `console errors: ${errors.join(' | ')}`);
  });

  // The page's default model is assets/momask-demo.safetensors (scripts/run.sh serves assets/);
  // here it is served from the repository. Also takes the README's screenshot (page.png).
  const demoModel = path.join(repo, 'assets/momask-demo.safetensors');
  test('page: loads the demo model (assets/momask-demo.safetensors) by default and generates', 180_000, async (t) => {
    if (!fs.existsSync(demoModel)) {
      notes.push('page: assets/momask-demo.safetensors is missing; the demo-model page test did nothing');
      return;
    }
    const route = (ctx) => ctx.route('**/assets/momask-demo.safetensors', (r) => r.fulfill({ path: demoModel, headers: { 'content-type': 'application/octet-stream' } }));
    const { page, errors } = await openPage(t, `index.html?${q({ prompt: 'a person walks forward and waves', seed: '7', backend: 'cpu' })}`, { route });
    await waitGenerations(page, 1, 170_000);
    const s = await page.evaluate(() => {
      const { model, motions } = window.momaskPage.state;
      const m = motions[0];
      // Pause where a wrist (joints 20, 21) is highest: the wave.
      let best = 0;
      let top = -Infinity;
      for (let f = 0; f < m.frames; f++) {
        const y = Math.max(m.joints[(f * 22 + 20) * 3 + 1], m.joints[(f * 22 + 21) * 3 + 1]);
        if (y > top) [top, best] = [y, f];
      }
      const v = window.momaskPage.viewer;
      v.pause();
      v.setFrame(best);
      return { info: model.info, frames: m.frames, frame: best, px: v.pixelStats(), status: document.getElementById('status').textContent, timings: document.getElementById('timings').textContent, cond: document.getElementById('cond').value, used: window.momaskPage.state.settings.condScale };
    });
    assert(s.info.textEncoder === 'minilm' && s.info.contentHash, `the default model should be the MiniLM demo model: ${s.info.textEncoder}`);
    // The form takes the guidance the bundle recommends, and the generation used it.
    assert(s.cond === String(s.info.defaults.condScale) && s.used === s.info.defaults.condScale && s.used !== 4, `CFG field ${s.cond}, used ${s.used}, model default ${s.info.defaults.condScale}`);
    assert(s.frames >= 4 && s.px.differ > 200, `the skeleton should be on the canvas: ${s.frames} frames, ${JSON.stringify(s.px)}`);
    await screenshot(page, 'page.png');
    notes.push(`page: demo model (${(s.info.sizes.bytes / 1e6).toFixed(1)} MB, ${s.info.quantization}) by default: ${s.frames} frames; ${s.timings}`);
    assert(errors.length === 0, `console errors: ${errors.join(' | ')}`);
  });

  // The issue's acceptance flow: a generated walk, seconds 2–4 replaced by "a person jumps",
  // before/after, a BVH opened for editing, and a 30 s three-prompt timeline. With the demo
  // model when it is there (screenshots for docs/), else the small test model.
  test('page: edit a span (2–4 s → jumps), before/after, open a BVH, 30 s timeline', 240_000, async (t) => {
    const demo = fs.existsSync(demoModel);
    const route = demo ? (ctx) => ctx.route('**/assets/momask-demo.safetensors', (r) => r.fulfill({ path: demoModel, headers: { 'content-type': 'application/octet-stream' } })) : null;
    const query = { prompt: 'a person walks forward', seed: '7', len: '6', backend: 'cpu', ...(demo ? {} : { model: BUNDLE }) };
    const { page, errors } = await openPage(t, `index.html?${q(query)}`, { route, viewport: { width: 1280, height: 1080 } });
    await waitGenerations(page, 1, 120_000);
    const walk = await page.evaluate(() => ({ frames: window.momaskPage.state.motions[0].frames, joints: Array.from(window.momaskPage.state.motions[0].joints) }));
    assert(walk.frames === 120, `the walk: ${walk.frames} frames`);
    // Select 2–4 s by dragging on the track (120 frames across its width).
    const box = await page.locator('#track').boundingBox();
    const x = (sec) => box.x + (sec / 6) * box.width;
    await page.mouse.move(x(2), box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(x(3), box.y + box.height / 2, { steps: 4 });
    await page.mouse.move(x(4), box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
    const sel = await page.evaluate(() => [Number(document.getElementById('edit-from').value), Number(document.getElementById('edit-to').value), !document.getElementById('track-sel').hidden]);
    assert(Math.abs(sel[0] - 2) < 0.21 && Math.abs(sel[1] - 4) < 0.21 && sel[2], `dragging on the track selects 2–4 s: ${sel}`);
    await page.fill('#edit-from', '2');
    await page.fill('#edit-to', '4');
    await page.fill('#edit-prompt', 'a person jumps');
    await page.click('#edit-run');
    await waitGenerations(page, 2, 120_000);
    const ed = await page.evaluate(() => {
      const m = window.momaskPage.state.motions[0];
      return { frames: m.frames, joints: Array.from(m.joints), seams: m.seams, kept: m.keptErrorMm, rt: m.roundTripErrorMm, report: document.getElementById('seam-report').textContent, before: !document.getElementById('show-before').disabled, viewer: window.momaskPage.viewer.frames, err: document.getElementById('edit-err').textContent };
    });
    assert(ed.frames === 120 && ed.viewer === 120 && ed.before, `edited: ${JSON.stringify({ frames: ed.frames, viewer: ed.viewer, before: ed.before, err: ed.err })}`);
    assert(ed.seams.map((s) => s.frame).join() === '40,80', `seams at 2 s and 4 s: ${JSON.stringify(ed.seams)}`);
    assert(/span start/.test(ed.report) && /kept frames moved/.test(ed.report), `seam report: ${ed.report}`);
    // The span changed, the frames before it barely (the VQ round trip).
    const diff = (a, b, f0, f1) => {
      let m = 0;
      for (let i = f0 * 66; i < f1 * 66; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
      return m;
    };
    const inside = diff(ed.joints, walk.joints, 44, 76);
    assert(inside > 0.01, `the span should change: ${inside}`);
    await page.evaluate(() => {
      const v = window.momaskPage.viewer;
      v.pause();
      v.setFrame(60);
      window.scrollTo(0, 0);
    });
    const track = await page.evaluate(() => [...document.querySelectorAll('#track-segs > div')].map((d) => d.textContent).join(' | '));
    assert(track === 'a person walks forward | a person jumps | a person walks forward', `track after the edit: ${track}`);
    await screenshot(page, 'page-edit.png');
    await page.click('#show-before');
    const shownBefore = await page.evaluate(() => Array.from(window.momaskPage.state.motions[0].joints));
    assert(maxAbsDiff(shownBefore, walk.joints) === 0, 'Before shows the source walk');
    await page.click('#show-after');
    const shownAfter = await page.evaluate(() => Array.from(window.momaskPage.state.motions[0].joints));
    assert(maxAbsDiff(shownAfter, ed.joints) === 0, 'After shows the edit');
    notes.push(`page edit (${demo ? 'demo model' : 'small model'}): seams ${ed.seams.map((s) => `${s.frame}: ${s.jumpMm.toFixed(1)} mm/frame ×${s.ratio.toFixed(2)}`).join(', ')}; kept frames ${ed.kept.toFixed(1)} mm (round trip ${ed.rt.toFixed(1)} mm)`);

    // Open a BVH written by the CLI: it becomes the motion to edit.
    await page.setInputFiles('#edit-bvh', path.join(fixtures, 'ref_walk_40.bvh'));
    await waitGenerations(page, 3, 60_000);
    const bvh = await page.evaluate(() => ({ frames: window.momaskPage.state.motions[0].frames, status: document.getElementById('status').textContent }));
    assert(bvh.frames === 36 && /ref_walk_40\.bvh/.test(bvh.status), `opened BVH: ${JSON.stringify(bvh)}`);

    // The 30 s timeline of three prompts (the rows' defaults).
    await page.click('#tab-long');
    await page.click('#long-run');
    await waitGenerations(page, 4, 180_000);
    const long = await page.evaluate(() => {
      const m = window.momaskPage.state.motions[0];
      return { frames: m.frames, segs: document.querySelectorAll('#track-segs > div').length, ticks: document.querySelectorAll('#track-seams .seam').length, seams: m.seams, base: m.seamBaseline, finite: m.joints.every(Number.isFinite), err: document.getElementById('long-err').textContent };
    });
    assert(long.frames === 600 && long.finite && long.segs === 3 && long.ticks === long.seams.length && long.ticks >= 2, `timeline: ${JSON.stringify({ ...long, seams: long.seams?.length })}`);
    await page.evaluate(() => {
      const v = window.momaskPage.viewer;
      v.pause();
      v.setFrame(410);
      window.scrollTo(0, 0);
    });
    await screenshot(page, 'page-timeline.png');
    // A span of the long motion can be edited too (in the 196-frame window around it).
    await page.click('#tab-edit');
    await page.fill('#edit-from', '15');
    await page.fill('#edit-to', '17');
    await page.fill('#edit-prompt', 'a person waves');
    await page.click('#edit-run');
    await waitGenerations(page, 5, 120_000);
    const le = await page.evaluate(() => ({ frames: window.momaskPage.state.motions[0].frames, seams: window.momaskPage.state.motions[0].seams.map((s) => s.frame), segs: [...document.querySelectorAll('#track-segs > div')].map((d) => d.textContent) }));
    assert(le.frames === 600 && le.seams.includes(300) && le.seams.includes(340) && le.segs.includes('a person waves'), `edit of the timeline: ${JSON.stringify(le)}`);
    notes.push(`page timeline (${demo ? 'demo model' : 'small model'}): 600 frames; seams ${long.seams.map((s) => `${s.frame} ${s.kind} ${s.jumpMm.toFixed(1)} mm/frame ×${s.ratio.toFixed(2)}`).join(', ')}; away from seams ×${long.base?.median.toFixed(2)} median, ×${long.base?.p95.toFixed(2)} p95`);
    assert(errors.length === 0, `console errors: ${errors.join(' | ')}`);
  });

  test('page: <momask-viewer> on a bare page, and embed.html', 120_000, async (t) => {
    const route = (ctx) => ctx.route('**/assets/momask-demo.safetensors', (r) => r.fulfill({ path: path.join(fixtures, 'small.safetensors'), headers: { 'content-type': 'application/octet-stream' } }));
    const { page, errors } = await openPage(t, 'bare.html', { viewport: { width: 800, height: 560 }, route });
    const html = await page.evaluate(() => document.body.innerHTML.trim());
    assert(/^<script type="module" src="momask-viewer.js"><\/script>\s*<momask-viewer [^>]*><\/momask-viewer>$/.test(html), `the bare page holds only the script and the element: ${html}`);
    await page.waitForFunction(() => customElements.get('momask-viewer'), null, { timeout: 20_000 });
    const r = await page.evaluate(async () => {
      const el = document.querySelector('momask-viewer');
      const motions = await el.ready;
      const v = el.viewer;
      const a = v.pixelStats();
      v.pause();
      v.setFrame(30);
      const b = v.pixelStats();
      return { frames: motions[0].frames, a, b, playing: true, controls: !el.shadowRoot.querySelector('.bar').hidden, joints: Array.from(motions[0].joints) };
    });
    assert(r.frames > 0 && r.a.differ > 200 && r.a.hash !== r.b.hash, `element render: ${JSON.stringify({ frames: r.frames, a: r.a, b: r.b })}`);
    assert(r.controls, 'controls attribute shows the controls');
    await screenshot(page, 'element.png');
    assert(errors.length === 0, `console errors: ${errors.join(' | ')}`);
    // embed.html with the same settings as the element (seed 7, auto length) gives the same joints.
    const e = await openPage(t, `embed.html?${q({ prompt: 'a person walks forward', seed: '7', model: BUNDLE, backend: 'auto' })}`, { viewport: { width: 640, height: 400 } });
    const ej = await e.page.evaluate(async () => Array.from((await window.momaskEmbed.ready)[0].joints));
    assert(maxAbsDiff(ej, r.joints) === 0, 'embed.html and the element agree');
    await screenshot(e.page, 'embed.png');
    assert(e.errors.length === 0, `embed console errors: ${e.errors.join(' | ')}`);
  });

  test('page: inline input errors, missing model message with retry, phone width', 90_000, async (t) => {
    const { page } = await openPage(t, `index.html?${q({ model: BUNDLE, backend: 'cpu' })}`);
    assert(await page.evaluate(() => window.momaskPage.ready), 'loads');
    await page.fill('#prompt', '   ');
    await page.fill('#seed', '-3');
    await page.click('#generate');
    const errs = await page.evaluate(() => ({ prompt: document.getElementById('prompt-err').textContent, seed: document.getElementById('seed-err').textContent, gens: window.momaskPage.generations }));
    assert(/Describe a motion/.test(errs.prompt) && /Seed must be/.test(errs.seed) && errs.gens === 0, `inline errors: ${JSON.stringify(errs)}`);
    await page.uncheck('#auto-length');
    await page.fill('#seconds', '12');
    await page.fill('#prompt', 'a person jumps');
    await page.fill('#seed', '3');
    await page.press('#prompt', 'Enter');
    const len = await page.evaluate(() => document.getElementById('seconds-err').textContent);
    assert(/between 0.2 and 9.8/.test(len), `length error: ${len}`);
    await page.fill('#seconds', '1');
    await page.press('#prompt', 'Enter');
    await waitGenerations(page, 1, 60_000);
    assert((await page.evaluate(() => window.momaskPage.state.motions[0].frames)) === 20, 'Enter generates 1 s = 20 frames');

    const missing = await openPage(t, `index.html?${q({ model: '/fixtures/missing.safetensors', backend: 'cpu' })}`);
    await missing.page.waitForFunction(() => !document.getElementById('notice').hidden, null, { timeout: 30_000 });
    const n = await missing.page.evaluate(() => ({ text: document.getElementById('notice').textContent, retry: !document.getElementById('retry').hidden }));
    assert(/returned 404/.test(n.text) && n.retry, `missing model notice: ${JSON.stringify(n)}`);

    const phone = await openPage(t, `index.html?${q({ ...PROMPT, backend: 'cpu' })}`, { viewport: { width: 390, height: 844 } });
    await waitGenerations(phone.page, 1, 60_000);
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `horizontal overflow at phone width: ${overflow}px`);
    await phone.page.evaluate(() => {
      const v = window.momaskPage.viewer;
      v.pause();
      v.setFrame(20);
    });
    await screenshot(phone.page, 'page-phone.png', { fullPage: false });
  });
}
