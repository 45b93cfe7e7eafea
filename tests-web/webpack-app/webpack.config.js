// What the package README tells a webpack 5 user to write: nothing about the worker or the .wasm.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export default {
  mode: 'production',
  entry: './src/index.js',
  output: { path: path.join(path.dirname(fileURLToPath(import.meta.url)), 'dist'), filename: 'main.js', clean: true },
  performance: { hints: false },
};
