// Standalone build of <momask-viewer> (three.js and the momask package in one file): a page needs
// only <script type="module" src="momask-viewer.js"></script> and the element.
import { defineElement, MotionViewer, MoMaskViewerElement } from 'momask/viewer';
import { MoMask } from 'momask';

defineElement();
globalThis.MoMaskViewer = { MotionViewer, MoMaskViewerElement, MoMask };
