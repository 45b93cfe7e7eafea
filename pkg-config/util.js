// Helpers shared by the main-thread wrapper (index.js) and the model host (host.js): streaming
// downloads with progress, integrity checks with SubtleCrypto, and the Cache Storage name.

/** Cache Storage name holding downloaded bundles (keyed by absolute URL). */
export const CACHE_NAME = 'momask-models-v1';

/** An `Error` with a `name` (`TypeError`, `RangeError`, `AbortError`, …). */
export function namedError(name, message) {
  const e = new Error(message);
  e.name = name;
  return e;
}

export function abortError(message = 'the operation was aborted') {
  try {
    return new DOMException(message, 'AbortError');
  } catch {
    return namedError('AbortError', message);
  }
}

/** Plain `{ name, message }` for postMessage. */
export function serializeError(e) {
  if (e && typeof e === 'object') {
    return { name: String(e.name || 'Error'), message: String(e.message || e) };
  }
  return { name: 'Error', message: String(e) };
}

export function deserializeError(e) {
  if (e && e.name === 'AbortError') return abortError(e.message);
  return namedError((e && e.name) || 'Error', (e && e.message) || 'unknown error');
}

/**
 * Reads a `Response` body to one `Uint8Array`, calling `onProgress({ loaded, total })` as
 * chunks arrive. `total` is 0 when the server sends no usable Content-Length.
 */
export async function readResponse(response, onProgress, signal) {
  if (!response.ok) {
    throw namedError('MoMaskError', `HTTP ${response.status} ${response.statusText || ''} for ${response.url || 'the model'}`.trim());
  }
  const encoded = response.headers.get('content-encoding');
  let total = Number(response.headers.get('content-length')) || 0;
  if (encoded && encoded !== 'identity') total = 0; // the length counts compressed bytes
  if (!response.body || typeof response.body.getReader !== 'function') {
    const buf = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ loaded: buf.length, total: buf.length });
    return buf;
  }
  const reader = response.body.getReader();
  let out = total > 0 ? new Uint8Array(total) : null;
  const chunks = [];
  let loaded = 0;
  let lastReport = 0;
  onProgress?.({ loaded: 0, total });
  for (;;) {
    if (signal?.aborted) {
      reader.cancel().catch(() => {});
      throw abortError('the download was aborted');
    }
    const { done, value } = await reader.read();
    if (done) break;
    if (out && loaded + value.length <= out.length) {
      out.set(value, loaded);
    } else {
      if (out) {
        chunks.push(out.subarray(0, loaded));
        out = null;
      }
      chunks.push(value);
    }
    loaded += value.length;
    const now = Date.now();
    if (now - lastReport > 50) {
      lastReport = now;
      onProgress?.({ loaded, total });
    }
  }
  let bytes;
  if (out) {
    bytes = loaded === out.length ? out : out.subarray(0, loaded);
  } else {
    bytes = new Uint8Array(loaded);
    let offset = 0;
    for (const c of chunks) {
      bytes.set(c, offset);
      offset += c.length;
    }
  }
  onProgress?.({ loaded, total: total || loaded });
  return bytes;
}

function toHex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

function toBase64(buf) {
  let s = '';
  const bytes = new Uint8Array(buf);
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const SRI_ALGOS = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' };

/**
 * Checks `bytes` against `integrity` (Subresource-Integrity form, `sha256-<base64>`, several
 * allowed separated by spaces: any match passes) and/or `sha256` (hex). Throws on mismatch.
 */
export async function verifyIntegrity(bytes, { integrity, sha256 } = {}) {
  if (!integrity && !sha256) return;
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw namedError('MoMaskError', 'integrity checks need crypto.subtle (a secure context: https or localhost)');
  const data = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
  if (sha256) {
    const want = String(sha256).trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(want)) throw namedError('TypeError', `invalid sha256 option: expected 64 hex digits, got "${sha256}"`);
    const got = toHex(await subtle.digest('SHA-256', data));
    if (got !== want) throw namedError('MoMaskError', `integrity check failed: the file's SHA-256 is ${got}, expected ${want}`);
  }
  if (integrity) {
    const entries = String(integrity).trim().split(/\s+/).filter(Boolean);
    const parsed = entries.map((e) => {
      const m = /^(sha256|sha384|sha512)-([A-Za-z0-9+/=_-]+)(\?.*)?$/.exec(e);
      if (!m) throw namedError('TypeError', `invalid integrity option: "${e}" is not of the form sha256-<base64>`);
      return { algo: m[1], want: m[2].replace(/-/g, '+').replace(/_/g, '/') };
    });
    const digests = {};
    for (const { algo, want } of parsed) {
      digests[algo] ??= toBase64(await subtle.digest(SRI_ALGOS[algo], data));
      if (digests[algo] === want) return;
    }
    const shown = Object.entries(digests).map(([a, d]) => `${a}-${d}`).join(' ');
    throw namedError('MoMaskError', `integrity check failed: the file is ${shown}, expected ${integrity}`);
  }
}

/** Opens the model cache, or `null` where Cache Storage is unavailable (insecure contexts). */
export async function openCache() {
  try {
    if (!globalThis.caches) return null;
    return await globalThis.caches.open(CACHE_NAME);
  } catch {
    return null;
  }
}
