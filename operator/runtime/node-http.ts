// node:http for the operator, loaded with process.getBuiltinModule instead of `import`. An ESM import of
// node:http builds a namespace of all its exports, and reading `http.WebSocket` (and its siblings) there loads
// Node's bundled undici (12 MiB of RSS in a bare process, ~2.5 MiB more in the operator's, 0.7 MiB of it
// the bundle's source in the V8 heap), a client the operator only needs once it calls fetch() on a registry.
// Import what you need from here; `import type` from node:http is fine.
import type * as Http from 'node:http';

const http: typeof Http = process.getBuiltinModule('node:http');

export const Agent = http.Agent;
export type Agent = Http.Agent;
export const createServer = http.createServer;
export const request = http.request;
