// Bundles the pages in www/ (index, bench, tests) into www/dist with the momask package from
// pkg/ (built by wasm-pack; see scripts/build-web.sh). The worker and the .wasm are emitted by
// webpack from the package's `new URL(..., import.meta.url)` references, as in any app.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import HtmlWebpackPlugin from 'html-webpack-plugin';
import CopyPlugin from 'copy-webpack-plugin';

const root = path.dirname(fileURLToPath(import.meta.url));
const pages = ['index', 'bench', 'test'];

export default (env, argv) => ({
  mode: argv.mode || 'production',
  context: path.join(root, 'www'),
  entry: Object.fromEntries(pages.map((p) => [p, `./${p}.js`])),
  output: {
    path: path.join(root, 'www/dist'),
    filename: '[name].[contenthash:8].js',
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
    // The package as published, for pages that use it without a bundler (www/plain.html).
    new CopyPlugin({
      patterns: [
        { from: path.join(root, 'pkg'), to: 'pkg', globOptions: { ignore: ['**/.gitignore'] } },
        { from: 'plain.html', to: 'plain.html' },
      ],
    }),
  ],
});
