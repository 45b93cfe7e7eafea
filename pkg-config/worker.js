// Web Worker entry: hosts the wasm module and one model; see host.js for the protocol.
import { createHost } from './host.js';

const handle = createHost((message, transfer) => self.postMessage(message, transfer || []));
self.addEventListener('message', (event) => handle(event.data));
self.postMessage({ type: 'ready' });
