// Connection limits of the registry's HTTP server: what keeps slow or hostile clients (slow-loris, oversized
// headers, stalled bodies) from holding connections forever, without cutting the long pushes and pulls a registry
// must allow. None of node's defaults is relied on: node derives its headers timeout from requestTimeout at
// construction (0 when requestTimeout is 0, as ours is), and sockets had no idle limit at all.
import type { ServerOptions } from 'node:http';

export interface ServerLimits {
  /** The request line and headers must arrive within this (slow-loris). */
  headersTimeoutMs: number;
  /** How often node looks for connections past headersTimeoutMs; a slow client is cut within the sum. */
  connectionsCheckingIntervalMs: number;
  /**
   * A connection with no traffic either way for this long is closed (a body that stalls mid-upload, a reader
   * that stopped reading). It is an inactivity limit, so a slow but moving push or pull is never cut; it also
   * spans a request's own quiet spells (an object store committing a large blob), hence generous.
   */
  idleTimeoutMs: number;
  /** Idle keep-alive connections between requests. */
  keepAliveTimeoutMs: number;
  /**
   * Request line plus headers, in bytes; larger gets 431. Bearer tokens carry x5c chains and access claims, so
   * this is above node's 16 KiB default, and far below what could exhaust memory across many connections.
   */
  maxHeaderSize: number;
}

export const defaultServerLimits: ServerLimits = {
  headersTimeoutMs: 30_000,
  connectionsCheckingIntervalMs: 5_000,
  // The operator's Ingress allows 15 minutes without traffic (operator/render/ingress-class.ts): never stricter.
  idleTimeoutMs: 15 * 60_000,
  keepAliveTimeoutMs: 75_000,
  maxHeaderSize: 64 * 1024,
};

/** Options node's http(s).createServer takes at construction (they cannot all be changed afterwards). */
export function nodeServerOptions(limits: ServerLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
    maxHeaderSize: limits.maxHeaderSize,
    // Whole requests are not bounded: a multi-GiB layer push is one request.
    requestTimeout: 0,
  };
}
