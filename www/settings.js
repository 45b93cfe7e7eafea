// Generation settings <-> share-link query strings (used by index.js and embed.js).
//   ?prompt=…&seed=…&len=auto|seconds&n=samples&steps=…&cfg=…&rcfg=…&temp=…&topk=…

// The sampling values are the paper's until a model is loaded; the page then takes the model's
// (`model.info.defaults`: its bundle may recommend other guidance scales).
export const DEFAULTS = { seconds: 'auto', samples: 1, steps: 10, condScale: 4, resCondScale: 5, temperature: 1, topk: 0.9 };

/** Sampling settings: option, page field id, share-link parameter, <momask-viewer> attribute.
 * A link without the parameter means the model's default. */
export const SAMPLING = [
  { key: 'steps', field: 'steps', param: 'steps', attr: 'steps' },
  { key: 'condScale', field: 'cond', param: 'cfg', attr: 'cond-scale' },
  { key: 'resCondScale', field: 'rescond', param: 'rcfg', attr: 'res-cond-scale' },
  { key: 'temperature', field: 'temp', param: 'temp', attr: 'temperature' },
  { key: 'topk', field: 'topk', param: 'topk', attr: 'topk' },
];

export const EXAMPLES = [
  'a person walks forward and waves',
  'a person jumps up twice',
  'someone does jumping jacks',
  'a person kicks with the left leg',
  'a man sits down on a chair',
  'a person sneaks forward slowly',
];

const num = (v, d) => (v === null || v === '' || !Number.isFinite(Number(v)) ? d : Number(v));

/** Settings from a query string (missing or malformed values fall back to the defaults). */
export function readSettings(q) {
  const len = q.get('len');
  const seed = q.get('seed');
  return {
    prompt: (q.get('prompt') || '').trim(),
    seed: seed !== null && /^\d+$/.test(seed) ? Number(seed) : undefined,
    seconds: len === null || len === 'auto' ? 'auto' : num(len, DEFAULTS.seconds === 'auto' ? 4 : DEFAULTS.seconds),
    samples: Math.max(1, Math.min(4, Math.round(num(q.get('n'), 1)))),
    steps: num(q.get('steps'), DEFAULTS.steps),
    condScale: num(q.get('cfg'), DEFAULTS.condScale),
    resCondScale: num(q.get('rcfg'), DEFAULTS.resCondScale),
    temperature: num(q.get('temp'), DEFAULTS.temperature),
    topk: num(q.get('topk'), DEFAULTS.topk),
  };
}

/** The query string that reproduces `s` (defaults left out). */
export function settingsToQuery(s) {
  const q = new URLSearchParams();
  q.set('prompt', s.prompt);
  q.set('seed', String(s.seed));
  if (s.seconds !== 'auto') q.set('len', String(s.seconds));
  if (s.samples !== 1) q.set('n', String(s.samples));
  if (s.steps !== DEFAULTS.steps) q.set('steps', String(s.steps));
  if (s.condScale !== DEFAULTS.condScale) q.set('cfg', String(s.condScale));
  if (s.resCondScale !== DEFAULTS.resCondScale) q.set('rcfg', String(s.resCondScale));
  if (s.temperature !== DEFAULTS.temperature) q.set('temp', String(s.temperature));
  if (s.topk !== DEFAULTS.topk) q.set('topk', String(s.topk));
  return q;
}

/** Frames for a length in seconds (20 fps, multiples of 4, at most 196) or 'auto'. */
export function framesFor(seconds) {
  if (seconds === 'auto') return 'auto';
  return Math.max(4, Math.min(196, Math.round((seconds * 20) / 4) * 4));
}
