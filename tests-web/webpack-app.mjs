// Installs the built package (pkg/) into a scratch webpack app the way a user would:
// `npm pack` → `npm install <tarball>` in a fresh directory outside the repository (so that
// nothing can resolve from the repository's node_modules or its webpack alias) → webpack
// --mode production with the app's own config (tests-web/webpack-app/). The browser test in
// run.mjs serves the result and checks the joints; this proves that `exports`, the worker URL
// and the .wasm asset resolve through a bundler.
//
// The built app is cached in $TMPDIR/momask-webpack-app-<hash of pkg/ and the app's sources>,
// so reruns with an unchanged package skip pack, install and build.
//
//   node tests-web/webpack-app.mjs [--pkg pkg]    builds (or reuses) the app, prints its dist folder
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const template = path.join(repo, 'tests-web/webpack-app');
const PREFIX = 'momask-webpack-app-';

/** Runs a command; rejects with its output on failure, kills it when it passes `timeoutMs`. */
function run(cmd, args, { cwd, timeoutMs }) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const why = err.killed ? `killed after ${timeoutMs / 1000} s` : `exit status ${err.code}`;
      reject(new Error(`${path.basename(cmd)} ${args.join(' ')} (in ${cwd}): ${why}\n${`${stdout}${stderr}`.slice(-4000)}`));
    });
  });
}

function filesUnder(dir) {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)))
    .filter((f) => !f.split(path.sep).includes('node_modules') && !f.split(path.sep).includes('dist'))
    .sort();
}

/** Hash of everything the built app depends on: the package, the app's sources, webpack's version. */
function cacheKey(pkgDir) {
  const h = crypto.createHash('sha256');
  for (const [dir, tag] of [[pkgDir, 'pkg'], [template, 'app']]) {
    for (const f of filesUnder(dir)) {
      h.update(`${tag}/${f}\0`);
      h.update(fs.readFileSync(path.join(dir, f)));
    }
  }
  h.update(JSON.parse(fs.readFileSync(path.join(repo, 'node_modules/webpack/package.json'), 'utf8')).version);
  return h.digest('hex').slice(0, 16);
}

/**
 * Builds the scratch app (or reuses a cached build of the same inputs).
 * Returns `{ dist, work, packedFiles, reused }`.
 */
export async function buildWebpackApp({ pkgDir = path.join(repo, 'pkg'), timeoutMs = 240_000, log = () => {} } = {}) {
  pkgDir = path.resolve(pkgDir);
  if (!fs.existsSync(path.join(pkgDir, 'package.json'))) throw new Error(`${pkgDir}/package.json is missing: run scripts/build-web.sh`);
  const key = cacheKey(pkgDir);
  const work = path.join(os.tmpdir(), PREFIX + key);
  const app = path.join(work, 'app');
  const dist = path.join(app, 'dist');
  const stamp = path.join(work, 'built.json');
  // Builds of older packages: remove, they only fill the disk.
  for (const d of fs.readdirSync(os.tmpdir())) {
    if (d.startsWith(PREFIX) && d !== PREFIX + key) fs.rmSync(path.join(os.tmpdir(), d), { recursive: true, force: true });
  }
  if (fs.existsSync(stamp)) return { ...JSON.parse(fs.readFileSync(stamp, 'utf8')), reused: true };

  const started = Date.now();
  const left = () => Math.max(1_000, timeoutMs - (Date.now() - started));
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });

  // 1. The tarball `npm publish` would upload.
  const packed = JSON.parse(await run('npm', ['pack', pkgDir, '--pack-destination', work, '--json', '--ignore-scripts', '--loglevel=error'], { cwd: work, timeoutMs: left() }))[0];
  const tarball = path.join(work, packed.filename);
  log(`packed ${packed.filename}: ${packed.files.length} files, ${(packed.size / 1e6).toFixed(1)} MB`);

  // 2. A fresh app depending on it. --offline: the package has no dependencies, so installing it
  // must not need the network (three is an optional peer, only for momask/viewer).
  fs.cpSync(template, app, { recursive: true, filter: (src) => !/[\\/](node_modules|dist)([\\/]|$)/.test(path.relative(template, src)) });
  const manifest = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8'));
  manifest.dependencies = { momask: `file:${tarball}` };
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: app, timeoutMs: left() });

  // 3. webpack and webpack-cli from the repository (pinned in its package-lock.json); the app's
  // own config and sources. webpack resolves `momask` from the app's node_modules only.
  const out = await run(process.execPath, [path.join(repo, 'node_modules/webpack-cli/bin/cli.js'), '--mode', 'production', '--no-color'], { cwd: app, timeoutMs: left() });
  fs.copyFileSync(path.join(app, 'index.html'), path.join(dist, 'index.html'));
  const result = { dist, work, packedFiles: packed.files.map((f) => f.path).sort(), webpack: out.trim().split('\n').slice(-3).join(' ') };
  log(`webpack: ${result.webpack}`);
  fs.writeFileSync(stamp, JSON.stringify(result, null, 2));
  return { ...result, reused: false };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--pkg');
  const r = await buildWebpackApp({ pkgDir: i > 0 ? process.argv[i + 1] : undefined, log: console.log });
  console.log(`${r.reused ? 'reused' : 'built'} ${r.dist}: ${fs.readdirSync(r.dist).join(', ')}`);
}
