// Stable content hashes: the same value always hashes the same (object keys are sorted), so an unchanged spec
// renders byte-identical pod templates and a no-op reconcile writes nothing.
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level (undefined values dropped, as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** A short hex digest (first 16 hex characters of SHA-256) of the canonical JSON of `parts`. */
export function contentHash(...parts: unknown[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(typeof p === 'string' ? p : canonicalJson(p));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}
