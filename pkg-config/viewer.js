// momask/viewer: a three.js viewer for generated motions and the <momask-viewer> custom element.
//
//   import { MotionViewer } from 'momask/viewer';
//   const viewer = new MotionViewer(document.querySelector('#stage'));
//   viewer.setMotions([motion]);           // Motion objects, or { joints, frames, fps, text }
//   viewer.play();
//
//   <script type="module" src="momask-viewer.js"></script>   (the standalone build)
//   <momask-viewer prompt="a person waves" seed="7" autoplay controls></momask-viewer>
//
// Joints are the 22 HumanML3D (SMPL order) joints, metres, Y up, 20 fps.
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { MoMask } from './index.js';

/** Parents of the 22 HumanML3D joints. */
export const PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19];
export const JOINT_NAMES = ['pelvis', 'left_hip', 'right_hip', 'spine1', 'left_knee', 'right_knee', 'spine2', 'left_ankle', 'right_ankle', 'spine3', 'left_foot', 'right_foot', 'neck', 'left_collar', 'right_collar', 'head', 'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist'];
const LEFT = new Set([1, 4, 7, 10, 13, 16, 18, 20]);
const RIGHT = new Set([2, 5, 8, 11, 14, 17, 19, 21]);
const FEET = [7, 10, 8, 11];
const HEAD = 15;

/** A standing rest pose (approximate, metres), shown before any motion is loaded. */
const REST = [
  [0, 0.93, 0], [0.09, 0.84, -0.01], [-0.09, 0.84, -0.01], [0, 1.04, -0.02], [0.11, 0.47, 0], [-0.11, 0.47, 0], [0, 1.17, -0.01],
  [0.12, 0.08, -0.04], [-0.12, 0.08, -0.04], [0, 1.23, 0], [0.13, 0.02, 0.09], [-0.13, 0.02, 0.09], [0, 1.45, -0.01],
  [0.08, 1.37, -0.01], [-0.08, 1.37, -0.01], [0, 1.6, 0.03], [0.19, 1.39, -0.02], [-0.19, 1.39, -0.02], [0.23, 1.13, -0.04],
  [-0.23, 1.13, -0.04], [0.25, 0.88, 0.02], [-0.25, 0.88, 0.02],
];

export const COLORS = { left: 0x3b82f6, right: 0xf97316, center: 0xd9dee7, joint: 0xf8fafc, contact: 0x22c55e, trace: 0x8b5cf6 };

/** `{ joints, frames, jointCount, fps, text }` from a Motion, a joints document or a plain object. */
export function toMotionData(m) {
  if (m && Array.isArray(m.positions)) {
    const frames = m.positions.length;
    const jointCount = m.positions[0]?.length ?? 22;
    return { joints: new Float32Array(m.positions.flat(2)), frames, jointCount, fps: m.fps ?? 20, text: m.text ?? '' };
  }
  if (!m || !m.joints || !m.frames) throw new TypeError('expected a Motion, a joints document or { joints, frames }');
  const jointCount = m.jointCount ?? 22;
  if (jointCount !== 22) throw new RangeError(`the viewer draws the 22 HumanML3D joints, got ${jointCount}`);
  return { joints: m.joints instanceof Float32Array ? m.joints : new Float32Array(m.joints), frames: m.frames, jointCount, fps: m.fps ?? 20, text: m.text ?? '' };
}

/** Per-frame contact flags for the foot joints (near the ground and slow). */
function footContacts(joints, frames, floor) {
  const out = FEET.map(() => new Uint8Array(frames));
  FEET.forEach((j, k) => {
    for (let f = 0; f < frames; f++) {
      const i = (f * 22 + j) * 3;
      const g = (Math.min(f + 1, frames - 1) * 22 + j) * 3;
      const h = (Math.max(f - 1, 0) * 22 + j) * 3;
      const dx = joints[g] - joints[h];
      const dy = joints[g + 1] - joints[h + 1];
      const dz = joints[g + 2] - joints[h + 2];
      const speed = Math.hypot(dx, dy, dz) / Math.max(1, Math.min(f + 1, frames - 1) - Math.max(f - 1, 0)); // m per frame
      const low = joints[i + 1] - floor < (j === 7 || j === 8 ? 0.12 : 0.06);
      out[k][f] = low && speed < 0.025 ? 1 : 0;
    }
  });
  return out;
}

const UP = new THREE.Vector3(0, 1, 0);
const tmpA = new THREE.Vector3();
const tmpB = new THREE.Vector3();
const tmpD = new THREE.Vector3();

/** One skeleton (shaded capsules and joints), its trace and its label. */
class Figure {
  constructor(viewer, data, index, label) {
    this.data = data;
    this.label = label;
    this.group = new THREE.Group();
    this.group.name = `sample_${index + 1}`;
    const mat = (color, rough = 0.45) => new THREE.MeshStandardMaterial({ color, roughness: rough, metalness: 0.05 });
    const side = (j) => (LEFT.has(j) ? COLORS.left : RIGHT.has(j) ? COLORS.right : COLORS.center);
    const boneGeo = new THREE.CylinderGeometry(1, 1, 1, 16, 1, true);
    const jointGeo = new THREE.SphereGeometry(1, 20, 14);
    this.bones = [];
    this.jointMeshes = [];
    for (let j = 0; j < 22; j++) {
      const r = j === HEAD ? 0.095 : [10, 11].includes(j) ? 0.028 : [20, 21].includes(j) ? 0.03 : 0.036;
      const m = new THREE.Mesh(jointGeo, mat(j === HEAD ? COLORS.center : side(j) === COLORS.center ? COLORS.joint : side(j), 0.35));
      m.scale.setScalar(r);
      m.castShadow = true;
      m.name = `joint_${JOINT_NAMES[j]}`;
      this.group.add(m);
      this.jointMeshes.push(m);
      if (j > 0) {
        const thick = [1, 2, 4, 5].includes(j) ? 0.042 : [3, 6, 9, 12].includes(j) ? 0.05 : [7, 8, 16, 17].includes(j) ? 0.034 : 0.028;
        const b = new THREE.Mesh(boneGeo, mat(side(j)));
        b.userData.radius = j === HEAD ? 0.03 : thick;
        b.castShadow = true;
        b.name = `bone_${JOINT_NAMES[PARENTS[j]]}_${JOINT_NAMES[j]}`;
        this.group.add(b);
        this.bones[j] = b;
      }
    }
    this.footMaterial = FEET.map((j) => this.jointMeshes[j].material);
    this.contactMaterial = new THREE.MeshStandardMaterial({ color: COLORS.contact, emissive: COLORS.contact, emissiveIntensity: 0.6, roughness: 0.4 });
    const ringGeo = new THREE.RingGeometry(0.05, 0.075, 28);
    ringGeo.rotateX(-Math.PI / 2);
    this.rings = FEET.map(() => {
      const ring = new THREE.Mesh(ringGeo, new THREE.MeshBasicMaterial({ color: COLORS.contact, transparent: true, opacity: 0.85, depthWrite: false }));
      ring.visible = false;
      ring.renderOrder = 2;
      viewer.scene.add(ring);
      return ring;
    });
    // Root trajectory on the ground: the whole path faint, the travelled part strong.
    const pts = new Float32Array(data.frames * 3);
    for (let f = 0; f < data.frames; f++) {
      pts[f * 3] = data.joints[f * 66];
      pts[f * 3 + 1] = 0.004;
      pts[f * 3 + 2] = data.joints[f * 66 + 2];
    }
    const traceGeo = new THREE.BufferGeometry();
    traceGeo.setAttribute('position', new THREE.BufferAttribute(pts, 3));
    this.traceAll = new THREE.Line(traceGeo, new THREE.LineBasicMaterial({ color: COLORS.trace, transparent: true, opacity: 0.3 }));
    this.trace = new THREE.Line(traceGeo.clone(), new THREE.LineBasicMaterial({ color: COLORS.trace }));
    this.group.add(this.traceAll, this.trace);
    this.contacts = footContacts(data.joints, data.frames, 0);
    viewer.scene.add(this.group);
  }

  /** Poses the figure at (fractional) frame `t`. */
  pose(t, offsetX) {
    const { joints, frames } = this.data;
    const f0 = Math.max(0, Math.min(frames - 1, Math.floor(t)));
    const f1 = Math.min(frames - 1, f0 + 1);
    const a = t - f0;
    const P = (j, out) => {
      const i0 = (f0 * 22 + j) * 3;
      const i1 = (f1 * 22 + j) * 3;
      return out.set(joints[i0] + (joints[i1] - joints[i0]) * a, joints[i0 + 1] + (joints[i1 + 1] - joints[i0 + 1]) * a, joints[i0 + 2] + (joints[i1 + 2] - joints[i0 + 2]) * a);
    };
    this.group.position.x = offsetX;
    for (let j = 0; j < 22; j++) {
      P(j, this.jointMeshes[j].position);
      if (j > 0) {
        P(PARENTS[j], tmpA);
        P(j, tmpB);
        const b = this.bones[j];
        tmpD.subVectors(tmpB, tmpA);
        const len = tmpD.length();
        b.position.addVectors(tmpA, tmpB).multiplyScalar(0.5);
        if (len > 1e-6) b.quaternion.setFromUnitVectors(UP, tmpD.divideScalar(len));
        const r = b.userData.radius;
        b.scale.set(r, Math.max(len, 1e-4), r);
      }
    }
    const fr = Math.round(Math.min(frames - 1, t));
    FEET.forEach((j, k) => {
      const on = this.contacts[k][fr] === 1;
      this.jointMeshes[j].material = on ? this.contactMaterial : this.footMaterial[k];
      const ring = this.rings[k];
      ring.visible = on;
      if (on) ring.position.set(this.jointMeshes[j].position.x + offsetX, 0.003, this.jointMeshes[j].position.z);
    });
    this.trace.geometry.setDrawRange(0, fr + 1);
  }

  /** World position of the head (for the label) and the root. */
  head(out) {
    return out.copy(this.jointMeshes[HEAD].position).add(this.group.position);
  }

  root(out) {
    return out.copy(this.jointMeshes[0].position).add(this.group.position);
  }

  dispose(scene) {
    scene.remove(this.group);
    for (const r of this.rings) scene.remove(r);
    this.group.traverse((o) => {
      if (o.geometry) o.geometry.dispose();
      if (o.material) o.material.dispose?.();
    });
    this.contactMaterial.dispose();
  }
}

/**
 * A three.js stage: ground grid with soft shadows, one skeleton per motion side by side, orbit
 * or follow camera, and playback (play/pause, frame, speed, loop).
 */
export class MotionViewer extends EventTarget {
  /**
   * @param {HTMLElement} container element the canvas fills (its size follows the container)
   * @param {{ background?: number, labels?: boolean, spacing?: number, pixelRatio?: number }} [options]
   */
  constructor(container, options = {}) {
    super();
    this.container = container;
    this.options = { background: 0x0f172a, labels: true, spacing: 1.4, ...options };
    this.figures = [];
    this.frame = 0;
    this.frames = 0;
    this.fps = 20;
    this.speed = 1;
    this.loop = true;
    this.playing = false;
    this.follow = false;
    this._last = 0;

    const canvas = document.createElement('canvas');
    canvas.style.cssText = 'display:block;width:100%;height:100%;touch-action:none;outline:none';
    canvas.tabIndex = -1;
    let renderer;
    try {
      renderer = new THREE.WebGLRenderer({ canvas, antialias: true, alpha: false, powerPreference: 'high-performance' });
    } catch (e) {
      const err = new Error(`WebGL is not available in this browser (${e.message || e})`);
      err.name = 'WebGLUnavailable';
      throw err;
    }
    renderer.setPixelRatio(Math.min(options.pixelRatio ?? globalThis.devicePixelRatio ?? 1, 2));
    renderer.shadowMap.enabled = true;
    renderer.shadowMap.type = THREE.PCFShadowMap;
    renderer.toneMapping = THREE.ACESFilmicToneMapping;
    renderer.toneMappingExposure = 1.05;
    this.renderer = renderer;
    container.appendChild(canvas);
    this.canvas = canvas;

    const scene = new THREE.Scene();
    const bg = new THREE.Color(this.options.background);
    scene.background = bg;
    scene.fog = new THREE.Fog(bg, 9, 22);
    this.scene = scene;

    scene.add(new THREE.HemisphereLight(0xdbe7ff, 0x1e293b, 1.6));
    const sun = new THREE.DirectionalLight(0xffffff, 2.4);
    sun.position.set(3, 6, 4);
    sun.castShadow = true;
    sun.shadow.mapSize.set(2048, 2048);
    sun.shadow.radius = 4;
    sun.shadow.bias = -0.0004;
    const sc = sun.shadow.camera;
    sc.left = -6;
    sc.right = 6;
    sc.top = 6;
    sc.bottom = -6;
    sc.near = 0.5;
    sc.far = 20;
    scene.add(sun, sun.target);
    this.sun = sun;

    const groundMat = new THREE.MeshStandardMaterial({ color: bg.clone().offsetHSL(0, 0, 0.06), roughness: 0.95, metalness: 0 });
    const ground = new THREE.Mesh(new THREE.CircleGeometry(30, 64), groundMat);
    ground.rotation.x = -Math.PI / 2;
    ground.receiveShadow = true;
    scene.add(ground);
    const grid = new THREE.GridHelper(40, 80, 0x64748b, 0x3b4a63);
    grid.position.y = 0.001;
    grid.material.transparent = true;
    grid.material.opacity = 0.6;
    scene.add(grid);
    this.ground = ground;
    this.grid = grid;

    const camera = new THREE.PerspectiveCamera(38, 1, 0.05, 100);
    camera.position.set(2.6, 1.9, 4.6);
    this.camera = camera;
    const controls = new OrbitControls(camera, canvas);
    controls.target.set(0, 0.9, 0);
    controls.enableDamping = true;
    controls.dampingFactor = 0.12;
    controls.maxPolarAngle = Math.PI / 2 - 0.02;
    controls.minDistance = 0.8;
    controls.maxDistance = 25;
    controls.update();
    this.controls = controls;

    this.labelLayer = document.createElement('div');
    this.labelLayer.style.cssText = 'position:absolute;inset:0;pointer-events:none;overflow:hidden';
    if (getComputedStyle(container).position === 'static') container.style.position = 'relative';
    container.appendChild(this.labelLayer);

    this._resize = () => {
      const w = Math.max(1, container.clientWidth);
      const h = Math.max(1, container.clientHeight);
      renderer.setSize(w, h, false);
      camera.aspect = w / h;
      camera.updateProjectionMatrix();
    };
    this._resize();
    this._ro = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(() => this._resize()) : null;
    this._ro?.observe(container);

    this.setMotions([{ joints: new Float32Array(REST.flat()), frames: 1, fps: 20, jointCount: 22, text: '' }], { labels: [''] });
    this.idle = true;
    this._tick = this._tick.bind(this);
    this._raf = requestAnimationFrame(this._tick);
  }

  /**
   * Shows `motions` side by side (Motion objects, joints documents or `{ joints, frames }`),
   * labelled with `options.labels` (default: the motion's text); frames the camera on them.
   */
  setMotions(motions, options = {}) {
    for (const f of this.figures) f.dispose(this.scene);
    this.figures = [];
    this.labelLayer.replaceChildren();
    this.idle = false;
    const list = motions.map(toMotionData).map((d) => {
      // Stand every motion on the ground: its lowest joint over all frames at y = 0.
      let min = Infinity;
      for (let i = 1; i < d.joints.length; i += 3) min = Math.min(min, d.joints[i]);
      if (!Number.isFinite(min)) return d;
      const joints = new Float32Array(d.joints);
      for (let i = 1; i < joints.length; i += 3) joints[i] -= min;
      return { ...d, joints };
    });
    const n = list.length;
    // Lanes wide enough that the skeletons never overlap.
    let width = 0;
    for (const d of list) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < d.joints.length; i += 3) {
        lo = Math.min(lo, d.joints[i]);
        hi = Math.max(hi, d.joints[i]);
      }
      if (Number.isFinite(lo)) width = Math.max(width, Math.min(4, hi - lo));
    }
    const spacing = Math.max(this.options.spacing, width + 0.35);
    this.offsets = list.map((_, i) => (i - (n - 1) / 2) * spacing);
    list.forEach((d, i) => {
      const label = options.labels?.[i] ?? (n > 1 ? `#${i + 1} ${d.text}` : d.text);
      const fig = new Figure(this, d, i, label);
      this.figures.push(fig);
      const el = document.createElement('div');
      el.className = 'momask-label';
      el.textContent = label;
      el.hidden = !label || !this.options.labels;
      el.style.cssText += 'position:absolute;left:0;top:0;transform:translate(-50%,-100%);padding:2px 8px;border-radius:999px;background:rgba(15,23,42,.72);color:#e2e8f0;font:12px/1.5 system-ui,sans-serif;white-space:nowrap;max-width:40%;overflow:hidden;text-overflow:ellipsis;border:1px solid rgba(148,163,184,.35)';
      this.labelLayer.appendChild(el);
      fig.labelEl = el;
    });
    this.frames = Math.max(1, ...list.map((d) => d.frames));
    this.fps = list[0]?.fps ?? 20;
    this.frame = 0;
    if (options.frame !== false) this.frameAll();
    this._pose();
    this._emit('motions');
    this._emit('frame');
  }

  /** Points the camera at all skeletons over the whole motion. */
  frameAll() {
    const box = new THREE.Box3();
    const v = new THREE.Vector3();
    this.figures.forEach((fig, i) => {
      const { joints } = fig.data;
      for (let k = 0; k < joints.length; k += 3) box.expandByPoint(v.set(joints[k] + this.offsets[i], joints[k + 1], joints[k + 2]));
    });
    if (box.isEmpty()) return;
    const center = box.getCenter(new THREE.Vector3());
    const size = box.getSize(new THREE.Vector3());
    const radius = Math.max(1.1, Math.min(12, 0.5 * Math.hypot(size.x, size.y, size.z)));
    const dist = radius / Math.sin(THREE.MathUtils.degToRad(this.camera.fov / 2)) / Math.min(1, Math.max(0.55, this.camera.aspect));
    this.controls.target.set(center.x, Math.max(0.8, center.y * 0.9), center.z);
    const dir = new THREE.Vector3(0.45, 0.32, 1).normalize();
    this.camera.position.copy(this.controls.target).addScaledVector(dir, dist * 0.92);
    this.controls.update();
    this.sun.position.set(center.x + 3, 6, center.z + 4);
    this.sun.target.position.set(center.x, 0, center.z);
  }

  /** The follow camera keeps the skeletons' mean root in view as they travel. */
  setFollow(on) {
    this.follow = Boolean(on);
    this._emit('state');
  }

  play() {
    if (this.frame >= this.frames - 1 && !this.loop) this.frame = 0;
    this.playing = true;
    this._emit('state');
  }

  pause() {
    this.playing = false;
    this._emit('state');
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  /** Jumps to `frame` (clamped; fractional frames interpolate). */
  setFrame(frame) {
    this.frame = Math.max(0, Math.min(this.frames - 1, Number(frame) || 0));
    this._pose();
    this._emit('frame');
  }

  /** Pauses and moves `delta` whole frames. */
  step(delta = 1) {
    this.pause();
    let f = Math.round(this.frame) + delta;
    if (this.loop) f = ((f % this.frames) + this.frames) % this.frames;
    this.setFrame(f);
  }

  setSpeed(speed) {
    this.speed = Math.max(0.05, Math.min(4, Number(speed) || 1));
    this._emit('state');
  }

  setLoop(loop) {
    this.loop = Boolean(loop);
    this._emit('state');
  }

  /** Renders now and returns a small digest of the pixels (tests: blank? changed?). */
  pixelStats() {
    this.render();
    const gl = this.renderer.getContext();
    const w = gl.drawingBufferWidth;
    const h = gl.drawingBufferHeight;
    const px = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
    const bg = [px[0], px[1], px[2]];
    let differ = 0;
    let hash = 0;
    let colors = new Set();
    for (let i = 0; i < px.length; i += 4 * 7) {
      const d = Math.abs(px[i] - bg[0]) + Math.abs(px[i + 1] - bg[1]) + Math.abs(px[i + 2] - bg[2]);
      if (d > 24) differ++;
      hash = (hash * 31 + px[i] * 7 + px[i + 1] * 3 + px[i + 2]) >>> 0;
      if (colors.size < 4096) colors.add((px[i] >> 3) | ((px[i + 1] >> 3) << 5) | ((px[i + 2] >> 3) << 10));
    }
    return { width: w, height: h, samples: Math.ceil(px.length / 28), differ, hash, colors: colors.size };
  }

  render() {
    this.renderer.render(this.scene, this.camera);
    this._labels();
  }

  _pose() {
    this.figures.forEach((fig, i) => fig.pose(Math.min(this.frame, fig.data.frames - 1), this.offsets[i]));
  }

  _labels() {
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    const v = new THREE.Vector3();
    for (const fig of this.figures) {
      if (!fig.labelEl || fig.labelEl.hidden) continue;
      fig.head(v);
      v.y += 0.28;
      v.project(this.camera);
      const visible = v.z < 1 && Math.abs(v.x) < 1.2 && Math.abs(v.y) < 1.2;
      fig.labelEl.style.visibility = visible ? 'visible' : 'hidden';
      fig.labelEl.style.transform = `translate(${((v.x + 1) / 2) * w}px, ${((1 - v.y) / 2) * h}px) translate(-50%, -100%)`;
    }
  }

  _tick(now) {
    this._raf = requestAnimationFrame(this._tick);
    const dt = this._last ? Math.min(0.1, (now - this._last) / 1000) : 0;
    this._last = now;
    if (this.playing && this.frames > 1) {
      let f = this.frame + dt * this.fps * this.speed;
      if (f >= this.frames - 1) {
        if (this.loop) f %= this.frames - 1;
        else {
          f = this.frames - 1;
          this.playing = false;
          this._emit('state');
        }
      }
      this.frame = f;
      this._pose();
      this._emit('frame');
    }
    if (this.follow && this.figures.length) {
      const c = new THREE.Vector3();
      const v = new THREE.Vector3();
      for (const fig of this.figures) c.add(fig.root(v));
      c.divideScalar(this.figures.length);
      const delta = new THREE.Vector3(c.x - this.controls.target.x, 0, c.z - this.controls.target.z).multiplyScalar(Math.min(1, dt * 6 || 1));
      this.controls.target.add(delta);
      this.camera.position.add(delta);
    }
    this.controls.update();
    this.render();
  }

  _emit(type) {
    this.dispatchEvent(new Event(type));
  }

  /** Builds a three.js AnimationClip-driven scene of the current motions (for GLTFExporter). */
  animatedScene() {
    const root = new THREE.Group();
    root.name = 'momask';
    const clips = [];
    this.figures.forEach((fig, s) => {
      const { joints, frames, fps } = fig.data;
      const times = Float32Array.from({ length: frames }, (_, f) => f / fps);
      const g = new THREE.Group();
      g.name = `sample_${s + 1}`;
      g.position.x = this.offsets[s];
      root.add(g);
      const tracks = [];
      const P = (f, j, out) => out.set(joints[(f * 22 + j) * 3], joints[(f * 22 + j) * 3 + 1], joints[(f * 22 + j) * 3 + 2]);
      for (let j = 0; j < 22; j++) {
        const src = fig.jointMeshes[j];
        const m = new THREE.Mesh(src.geometry, src.material === fig.contactMaterial ? fig.footMaterial[FEET.indexOf(j)] : src.material);
        m.name = `s${s + 1}_joint_${JOINT_NAMES[j]}`;
        m.scale.copy(src.scale);
        g.add(m);
        const pos = new Float32Array(frames * 3);
        for (let f = 0; f < frames; f++) P(f, j, tmpA).toArray(pos, f * 3);
        tracks.push(new THREE.VectorKeyframeTrack(`${m.name}.position`, times, pos));
        if (j === 0) continue;
        const b = fig.bones[j];
        const bm = new THREE.Mesh(b.geometry, b.material);
        bm.name = `s${s + 1}_bone_${JOINT_NAMES[j]}`;
        g.add(bm);
        const bp = new Float32Array(frames * 3);
        const bq = new Float32Array(frames * 4);
        const bs = new Float32Array(frames * 3);
        const q = new THREE.Quaternion();
        for (let f = 0; f < frames; f++) {
          P(f, PARENTS[j], tmpA);
          P(f, j, tmpB);
          tmpD.subVectors(tmpB, tmpA);
          const len = tmpD.length();
          if (len > 1e-6) q.setFromUnitVectors(UP, tmpD.divideScalar(len));
          tmpA.add(tmpB).multiplyScalar(0.5).toArray(bp, f * 3);
          q.toArray(bq, f * 4);
          bs.set([b.userData.radius, Math.max(len, 1e-4), b.userData.radius], f * 3);
        }
        tracks.push(new THREE.VectorKeyframeTrack(`${bm.name}.position`, times, bp));
        tracks.push(new THREE.QuaternionKeyframeTrack(`${bm.name}.quaternion`, times, bq));
        tracks.push(new THREE.VectorKeyframeTrack(`${bm.name}.scale`, times, bs));
      }
      clips.push(...tracks);
    });
    root.animations = [new THREE.AnimationClip('momask', -1, clips)];
    return root;
  }

  /** GLB (binary glTF) of the skeletons with the animation; needs three's GLTFExporter. */
  async toGLB() {
    const { GLTFExporter } = await import('three/addons/exporters/GLTFExporter.js');
    const root = this.animatedScene();
    const exporter = new GLTFExporter();
    return exporter.parseAsync(root, { binary: true, animations: root.animations });
  }

  dispose() {
    cancelAnimationFrame(this._raf);
    this._ro?.disconnect();
    for (const f of this.figures) f.dispose(this.scene);
    this.controls.dispose();
    this.renderer.dispose();
    this.canvas.remove();
    this.labelLayer.remove();
  }
}

// ---- <momask-viewer> --------------------------------------------------------------------------

const models = new Map();
const ADVANCED = [['steps', 'steps'], ['cond-scale', 'condScale'], ['res-cond-scale', 'resCondScale'], ['temperature', 'temperature'], ['topk', 'topk']];

/** One shared model per (url, backend) for every element on the page. */
export function sharedModel(url, backend = 'auto', onProgress) {
  const key = `${new URL(url, document.baseURI).href}|${backend}`;
  let entry = models.get(key);
  if (!entry) {
    entry = { listeners: new Set(), promise: null };
    entry.promise = MoMask.load(url, { backend, onProgress: (e) => entry.listeners.forEach((l) => l(e)) }).catch((e) => {
      models.delete(key);
      throw e;
    });
    models.set(key, entry);
  }
  if (onProgress) entry.listeners.add(onProgress);
  return entry.promise;
}

const ELEMENT_CSS = `
:host { display: block; position: relative; aspect-ratio: 16 / 10; min-height: 200px; border-radius: 12px; overflow: hidden; background: #0f172a; color: #e2e8f0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; contain: content; }
:host([hidden]) { display: none; }
.stage { position: absolute; inset: 0; }
.status { position: absolute; left: 12px; top: 10px; right: 12px; pointer-events: none; text-shadow: 0 1px 2px #000; opacity: .9; }
.status.error { color: #fecaca; pointer-events: auto; }
.bar { position: absolute; left: 0; right: 0; bottom: 0; display: flex; gap: 8px; align-items: center; padding: 8px 10px; background: linear-gradient(transparent, rgba(2,6,23,.85)); }
button { display: inline-flex; align-items: center; justify-content: center; min-width: 30px; min-height: 26px; }
button, select { font: inherit; color: inherit; background: rgba(30,41,59,.9); border: 1px solid rgba(148,163,184,.35); border-radius: 8px; padding: 3px 9px; cursor: pointer; }
button:focus-visible, select:focus-visible, input:focus-visible { outline: 2px solid #60a5fa; outline-offset: 1px; }
input[type=range] { flex: 1; min-width: 60px; accent-color: #8b5cf6; }
.time { font-variant-numeric: tabular-nums; min-width: 5.5em; text-align: right; opacity: .85; }
`;

/**
 * `<momask-viewer prompt="…" seed="7" autoplay controls>`: generates `prompt` in the page (the
 * model is shared by all elements) and plays it. Attributes: prompt, seed, frames ("auto" or a
 * number), seconds, samples, model (bundle URL, default assets/momask-demo.safetensors), backend
 * (auto|webgpu|cpu), src (a joints JSON document to show instead of generating), autoplay,
 * controls, loop (default on; loop="false" to stop at the end), speed, and the generation settings
 * steps, cond-scale, res-cond-scale, temperature, topk.
 */
export class MoMaskViewerElement extends (globalThis.HTMLElement ?? class {}) {
  static get observedAttributes() {
    return ['prompt', 'seed', 'frames', 'seconds', 'samples', 'model', 'backend', 'src', 'controls', 'speed', 'loop', ...ADVANCED.map((a) => a[0])];
  }

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this.shadowRoot.innerHTML = `<style>${ELEMENT_CSS}</style><div class="stage" part="stage"></div><div class="status" part="status" role="status" aria-live="polite"></div><div class="bar" part="controls" hidden>
      <button class="play" type="button" aria-label="Play"></button><input class="scrub" type="range" min="0" max="0" step="1" value="0" aria-label="Frame">
      <span class="time">0.00 s</span><select class="speed" aria-label="Speed"><option value="0.25">0.25×</option><option value="0.5">0.5×</option><option value="1" selected>1×</option><option value="1.5">1.5×</option><option value="2">2×</option></select></div>`;
    this._status = this.shadowRoot.querySelector('.status');
    this._job = 0;
    this.ready = new Promise((resolve, reject) => {
      this._resolveReady = resolve;
      this._rejectReady = reject;
    });
    this.ready.catch(() => {});
  }

  connectedCallback() {
    if (!this.viewer) {
      try {
        this.viewer = new MotionViewer(this.shadowRoot.querySelector('.stage'));
      } catch (e) {
        this._fail(e);
        return;
      }
      this._wireControls();
    }
    this._schedule();
  }

  disconnectedCallback() {
    // Kept alive while moved in the DOM; freed when removed for good.
    queueMicrotask(() => {
      if (!this.isConnected && this.viewer) {
        this.viewer.dispose();
        this.viewer = null;
      }
    });
  }

  attributeChangedCallback(name) {
    if (!this.viewer) return;
    if (name === 'controls') this._bar.hidden = !this.hasAttribute('controls');
    else if (name === 'speed') this.viewer.setSpeed(Number(this.getAttribute('speed')) || 1);
    else if (name === 'loop') this.viewer.setLoop(this.getAttribute('loop') !== 'false');
    else this._schedule();
  }

  _wireControls() {
    const root = this.shadowRoot;
    const v = this.viewer;
    this._bar = root.querySelector('.bar');
    this._bar.hidden = !this.hasAttribute('controls');
    const play = root.querySelector('.play');
    const scrub = root.querySelector('.scrub');
    const time = root.querySelector('.time');
    const speed = root.querySelector('.speed');
    play.onclick = () => v.toggle();
    scrub.oninput = () => {
      const f = Number(scrub.value);
      v.pause();
      v.setFrame(f);
    };
    speed.onchange = () => v.setSpeed(Number(speed.value));
    v.setSpeed(Number(this.getAttribute('speed')) || 1);
    v.setLoop(this.getAttribute('loop') !== 'false');
    const sync = () => {
      play.innerHTML = v.playing ? '<svg viewBox="0 0 24 24" width="12" height="12"><path d="M7 5h3.5v14H7zM13.5 5H17v14h-3.5z" fill="currentColor"/></svg>' : '<svg viewBox="0 0 24 24" width="12" height="12"><path d="M7 4.5v15l12-7.5z" fill="currentColor"/></svg>';
      play.setAttribute('aria-label', v.playing ? 'Pause' : 'Play');
      scrub.max = String(v.frames - 1);
      scrub.value = String(Math.round(v.frame));
      time.textContent = `${(v.frame / v.fps).toFixed(2)} s`;
    };
    v.addEventListener('frame', sync);
    v.addEventListener('state', sync);
    v.addEventListener('motions', sync);
    this.addEventListener('keydown', (e) => {
      if (e.key === ' ') v.toggle();
      else if (e.key === 'ArrowRight') v.step(1);
      else if (e.key === 'ArrowLeft') v.step(-1);
      else return;
      e.preventDefault();
    });
    if (!this.hasAttribute('tabindex')) this.tabIndex = 0;
  }

  _schedule() {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._run(), 0);
  }

  _say(text, error = false) {
    this._status.textContent = text;
    this._status.classList.toggle('error', error);
  }

  _fail(e) {
    this._say(`${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message || e}`, true);
    this.dispatchEvent(new CustomEvent('momask-error', { detail: e }));
    this._rejectReady(e);
  }

  async _run() {
    const job = ++this._job;
    const src = this.getAttribute('src');
    const prompt = this.getAttribute('prompt');
    if (!src && !prompt) return;
    try {
      let motions;
      if (src) {
        this._say('loading motion…');
        const res = await fetch(src);
        if (!res.ok) throw new Error(`HTTP ${res.status} for ${src}`);
        motions = [await res.json()];
      } else {
        const url = this.getAttribute('model') || 'assets/momask-demo.safetensors';
        this._say('loading model…');
        const model = await sharedModel(url, this.getAttribute('backend') || 'auto', (e) => {
          if (job !== this._job) return;
          if (e.stage === 'download') this._say(`${e.cached ? 'reading cached model' : 'downloading model'} ${(e.loaded / 1e6).toFixed(1)}${e.total ? ` of ${(e.total / 1e6).toFixed(1)}` : ''} MB`);
          else if (e.stage === 'init') this._say('starting the model…');
        }).catch((e) => {
          if (/HTTP 404/.test(e.message)) throw new Error(`no model at ${url} (set the model attribute to a momask bundle)`);
          throw e;
        });
        if (job !== this._job) return;
        const seconds = this.getAttribute('seconds');
        const framesAttr = this.getAttribute('frames');
        const frames = seconds ? Math.max(4, Math.min(196, Math.round((Number(seconds) * 20) / 4) * 4)) : framesAttr && framesAttr !== 'auto' ? Number(framesAttr) : 'auto';
        const samples = Math.max(1, Math.min(4, Number(this.getAttribute('samples')) || 1));
        const seedAttr = this.getAttribute('seed');
        const options = { frames, repeat: samples, onProgress: (e) => job === this._job && e.stage === 'mask' && this._say(`generating: step ${e.step} of ${e.steps}`) };
        if (seedAttr !== null && seedAttr !== '') options.seed = Number(seedAttr);
        for (const [attr, key] of ADVANCED) if (this.hasAttribute(attr)) options[key] = Number(this.getAttribute(attr));
        const out = await model.generate(prompt, options);
        motions = Array.isArray(out) ? out : [out];
      }
      if (job !== this._job || !this.viewer) return;
      this.motions = motions;
      this.viewer.setMotions(motions, { labels: motions.length > 1 ? motions.map((_, i) => `#${i + 1}`) : [''] });
      this._say('');
      if (this.hasAttribute('autoplay')) this.viewer.play();
      this.dispatchEvent(new CustomEvent('momask-ready', { detail: { motions } }));
      this._resolveReady(motions);
    } catch (e) {
      if (job === this._job) this._fail(e);
    }
  }
}

/** Registers `<momask-viewer>` (idempotent). */
export function defineElement(name = 'momask-viewer') {
  if (globalThis.customElements && !customElements.get(name)) customElements.define(name, class extends MoMaskViewerElement {});
}

defineElement();
