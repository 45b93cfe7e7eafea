// Types of momask/viewer (pkg-config/viewer.js): the three.js MotionViewer and <momask-viewer>.
// three.js objects are typed loosely (`any`) so that these types need no @types/three.
import type { Backend, JointsDocument, MoMask, Motion } from './index.js';

/** Parents of the 22 HumanML3D joints (SMPL order). */
export declare const PARENTS: readonly number[];
export declare const JOINT_NAMES: readonly string[];
export declare const COLORS: { left: number; right: number; center: number; joint: number; contact: number; trace: number };

/** What the viewer can show: a Motion, a joints document, or raw joints (22 per frame). */
export type MotionLike = Motion | JointsDocument | { joints: Float32Array | ArrayLike<number>; frames: number; jointCount?: number; fps?: number; text?: string };

export interface MotionData {
  joints: Float32Array;
  frames: number;
  jointCount: number;
  fps: number;
  text: string;
}

export declare function toMotionData(m: MotionLike): MotionData;

export interface ViewerOptions {
  /** Background / fog colour (default 0x0f172a). */
  background?: number;
  /** Show the HTML labels above the skeletons (default true). */
  labels?: boolean;
  /** Minimum lane width between samples, metres (default 1.4). */
  spacing?: number;
  pixelRatio?: number;
}

/** A digest of the rendered pixels (for tests: blank? changed between frames?). */
export interface PixelStats {
  width: number;
  height: number;
  samples: number;
  /** Sampled pixels that differ from the corner pixel. */
  differ: number;
  hash: number;
  /** Distinct (quantised) colours among the samples. */
  colors: number;
}

/**
 * three.js stage: shaded skeletons side by side, ground grid with soft shadows, root trace,
 * foot-contact highlight, orbit / follow camera, playback. Events: `frame`, `state`, `motions`.
 * Throws an Error named `WebGLUnavailable` when WebGL cannot start.
 */
export declare class MotionViewer extends EventTarget {
  constructor(container: HTMLElement, options?: ViewerOptions);
  readonly renderer: any /* THREE.WebGLRenderer */;
  readonly scene: any /* THREE.Scene */;
  readonly camera: any /* THREE.PerspectiveCamera */;
  readonly canvas: HTMLCanvasElement;
  /** Current (fractional) frame. */
  readonly frame: number;
  /** Frames of the longest motion shown. */
  readonly frames: number;
  readonly fps: number;
  readonly speed: number;
  readonly loop: boolean;
  readonly playing: boolean;
  readonly follow: boolean;
  setMotions(motions: MotionLike[], options?: { labels?: string[]; frame?: boolean }): void;
  frameAll(): void;
  setFollow(on: boolean): void;
  play(): void;
  pause(): void;
  toggle(): void;
  setFrame(frame: number): void;
  step(delta?: number): void;
  /** 0.05–4 (the page offers 0.25×–2×). */
  setSpeed(speed: number): void;
  setLoop(loop: boolean): void;
  render(): void;
  pixelStats(): PixelStats;
  /** The skeletons as animated meshes (position / quaternion / scale tracks). */
  animatedScene(): any /* THREE.Group */;
  /** Binary glTF of {@link animatedScene} (three's GLTFExporter). */
  toGLB(): Promise<ArrayBuffer>;
  dispose(): void;
}

/** One model per (url, backend), shared by every element on the page. */
export declare function sharedModel(url: string, backend?: Backend, onProgress?: (e: unknown) => void): Promise<MoMask>;

/**
 * `<momask-viewer prompt="…" seed="7" autoplay controls>`. Attributes: prompt, seed, frames
 * ("auto" or a number), seconds, samples (1–4), model (default assets/momask-demo.safetensors),
 * backend, src (joints JSON to show instead of generating), autoplay, controls, loop, speed,
 * steps, cond-scale, res-cond-scale, temperature, topk. Events: `momask-ready`, `momask-error`.
 */
export declare class MoMaskViewerElement extends HTMLElement {
  readonly viewer: MotionViewer | null;
  readonly motions: (Motion | JointsDocument)[] | undefined;
  /** Resolves with the motions once they are shown; rejects on failure. */
  readonly ready: Promise<(Motion | JointsDocument)[]>;
}

/** Registers the element (done on import; idempotent). */
export declare function defineElement(name?: string): void;

declare global {
  interface HTMLElementTagNameMap {
    'momask-viewer': MoMaskViewerElement;
  }
}
