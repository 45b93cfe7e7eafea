// Bundles the pages in www/ (index, embed, bench, tests) into www/dist with the momask package
// from pkg/ (built by wasm-pack; see scripts/build-web.sh). The worker and the .wasm are emitted by
// webpack from the package's `new URL(..., import.meta.url)` references, as in any app.
// Also builds www/dist/momask-viewer.js: the <momask-viewer> element with three.js and the package
// in one file, for pages without a bundler (www/bare.html).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import HtmlWebpackPlugin from 'html-webpack-plugin';
import CopyPlugin from 'copy-webpack-plugin';

const root = path.dirname(fileURLToPath(import.meta.url));
const pages = ['index', 'embed', 'bench', 'test'];

// pkg/ is written by scripts/build-web.sh; keep its copy of the viewer (pkg-config/viewer.*)
// current so that rebuilding the pages alone picks up viewer changes.
for (const f of ['viewer.js', 'viewer.d.ts']) {
  const src = path.join(root, 'pkg-config', f);
  const dst = path.join(root, 'pkg', f);
  if (fs.existsSync(path.join(root, 'pkg')) && (!fs.existsSync(dst) || fs.readFileSync(dst, 'utf8') !== fs.readFileSync(src, 'utf8'))) fs.copyFileSync(src, dst);
}

export default (env, argv) => ({
  mode: argv.mode || 'production',
  context: path.join(root, 'www'),
  entry: { ...Object.fromEntries(pages.map((p) => [p, `./${p}.js`])), 'momask-viewer': './momask-viewer.js' },
  output: {
    path: path.join(root, 'www/dist'),
    filename: (data) => (data.chunk.name === 'momask-viewer' ? '[name].js' : '[name].[contenthash:8].js'),
    assetModuleFilename: '[name].[contenthash:8][ext]',
    clean: true,
  },
  resolve: {
    alias: { momask: path.join(root, 'pkg') },
  },
  experiments: { topLevelAwait: true },
  performance: { hints: false },
  devtool: false,
  plugins: [
    ...pages.map((p) => new HtmlWebpackPlugin({ template: `./${p}.html`, filename: `${p}.html`, chunks: [p], scriptLoading: 'module' })),
    // The package as published, for pages that use it without a bundler (www/plain.html), and a
    // bare page with only the standalone <momask-viewer> script.
    new CopyPlugin({
      patterns: [
        { from: path.join(root, 'pkg'), to: 'pkg', globOptions: { ignore: ['**/.gitignore'] } },
        { from: 'plain.html', to: 'plain.html' },
        { from: 'bare.html', to: 'bare.html' },
      ],
    }),
  ],
});
