// embed.html?prompt=…&seed=…: one <momask-viewer> filling the frame, for iframes. Takes the share
// link's query string (see settings.js) plus model=, backend=, autoplay=0, controls=0.
import { defineElement } from 'momask/viewer';
import { readSettings, framesFor, SAMPLING } from './settings.js';

defineElement();
const q = new URLSearchParams(location.search);
const s = readSettings(q);
const el = document.createElement('momask-viewer');
el.setAttribute('prompt', s.prompt || 'a person walks forward and waves with the right hand');
if (s.seed !== undefined) el.setAttribute('seed', String(s.seed));
const frames = framesFor(s.seconds);
el.setAttribute('frames', String(frames));
// Only what the link sets: the rest is the model's default (`model.info.defaults`).
for (const { key, param, attr } of SAMPLING) if (q.has(param)) el.setAttribute(attr, String(s[key]));
if (s.samples > 1) el.setAttribute('samples', String(s.samples));
el.setAttribute('model', q.get('model') || 'assets/momask-demo.safetensors');
if (q.get('backend')) el.setAttribute('backend', q.get('backend'));
if (q.get('autoplay') !== '0') el.setAttribute('autoplay', '');
if (q.get('controls') !== '0') el.setAttribute('controls', '');
document.body.appendChild(el);
document.getElementById('open').href = `./?${q}`;
window.momaskEmbed = el;
