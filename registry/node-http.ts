// node:http without its ES module namespace. `import … from 'node:http'` makes Node build the module's ESM
// namespace, which reads http's lazy `WebSocket`, `CloseEvent` and `MessageEvent` exports and so loads Node's
// bundled undici (~750 KB of source) in a process that never uses it: +14 MiB RSS and +2.3 MiB of heap in an
// empty Node 24.21 (bench/README.md, "Node's undici"). The CommonJS exports object has the same functions without
// that side effect. No other built-in module does this (checked for every one the registry imports).
export const http = process.getBuiltinModule('node:http');
