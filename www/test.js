// Page driven by the browser tests (tests-web/run.mjs): the bundled package on window.
import { MoMask, Motion, CACHE_NAME } from 'momask';

window.MoMask = MoMask;
window.Motion = Motion;
window.CACHE_NAME = CACHE_NAME;
window.momaskReady = true;
