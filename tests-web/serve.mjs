// A small static file server for www/dist (used by scripts/run.sh and the browser tests).
//
//   node tests-web/serve.mjs <root> [port] [--mount /prefix=dir]... [--coi] [--host 127.0.0.1]
//
// --coi sends Cross-Origin-Opener-Policy / Cross-Origin-Embedder-Policy headers, making pages
// cross-origin isolated (SharedArrayBuffer: generation on the CPU can then be cancelled between
// steps, see pkg-config/README.md).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.bvh': 'text/plain; charset=utf-8',
};

/** Starts a server; resolves to `{ server, port, url, close }`. */
export function serve({ root, port = 0, host = '127.0.0.1', mounts = {}, coi = false, log = false, onRequest = null }) {
  const roots = Object.entries(mounts)
    .map(([prefix, dir]) => [prefix.replace(/\/+$/, ''), path.resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);
  const base = path.resolve(root);
  const server = http.createServer((req, res) => {
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      res.writeHead(400).end('bad request');
      return;
    }
    onRequest?.(pathname);
    let dir = base;
    let rel = pathname;
    for (const [prefix, d] of roots) {
      if (pathname === prefix || pathname.startsWith(prefix + '/')) {
        dir = d;
        rel = pathname.slice(prefix.length);
        break;
      }
    }
    let file = path.join(dir, rel);
    if (!file.startsWith(dir)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    const headers = { 'cache-control': 'no-cache' };
    if (coi) {
      headers['cross-origin-opener-policy'] = 'same-origin';
      headers['cross-origin-embedder-policy'] = 'require-corp';
      headers['cross-origin-resource-policy'] = 'same-origin';
    }
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) {
        if (log) console.log(`404 ${pathname}`);
        res.writeHead(404, headers).end(`not found: ${pathname}`);
        return;
      }
      headers['content-type'] = TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream';
      headers['content-length'] = st.size;
      res.writeHead(200, headers);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      fs.createReadStream(file).pipe(res);
      if (log) console.log(`200 ${pathname}`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const actual = server.address().port;
      resolve({ server, port: actual, url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${actual}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const mounts = {};
  let coi = false;
  let host = '127.0.0.1';
  const positional = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--coi') coi = true;
    else if (args[i] === '--mount') {
      const [prefix, dir] = args[++i].split('=');
      mounts[prefix] = dir;
    } else if (args[i] === '--host') host = args[++i];
    else positional.push(args[i]);
  }
  const [root = 'www/dist', port = '8080'] = positional;
  const { url } = await serve({ root, port: Number(port), host, mounts, coi, log: true });
  console.log(`serving ${root} on ${url}${coi ? ' (cross-origin isolated)' : ''}`);
}
