// What any registry answer to hostile input must look like: never a server error, and an error body (when there
// is one) made of the OCI distribution spec's codes with the status Distribution v3 gives each.
import assert from 'node:assert/strict';
import { errorCatalogue, type ErrorCode } from '../../registry/errors.ts';
import type { RawResponse } from './raw-http.ts';

/** Statuses a code may have besides its catalogue one, and why. */
const otherStatuses: Partial<Record<ErrorCode, number[]>> = {
  // A manifest over the 4 MiB limit is 413, as Distribution.
  MANIFEST_INVALID: [413],
};

/** Spec error codes in the response body, or undefined when the body is no spec error. */
export function specErrorCodes(res: RawResponse): string[] | undefined {
  const type = res.headers['content-type'];
  if (typeof type !== 'string' || !type.startsWith('application/json') || res.body === '') return undefined;
  const parsed = JSON.parse(res.body) as { errors?: { code?: unknown }[] };
  if (!Array.isArray(parsed.errors)) return undefined;
  return parsed.errors.map((e) => String(e.code));
}

/** Asserts a response to hostile input is no server error and, if an error, a well-formed spec error. */
export function assertSpecResponse(res: RawResponse, what: string, method = 'GET'): void {
  assert.ok(res.status < 500, `${what}: status ${res.status} ${res.body.slice(0, 500)}`);
  // A HEAD answer has no body to hold the error.
  if (res.status < 400 || method === 'HEAD') return;
  const codes = specErrorCodes(res);
  if (codes === undefined) {
    // The only non-spec error is the plain 404 for paths that are no registry route (as Distribution's router).
    assert.equal(
      res.status,
      404,
      `${what}: ${res.status} without a spec error body: ${res.body.slice(0, 300)}`,
    );
    return;
  }
  assert.ok(codes.length > 0, `${what}: empty errors array`);
  for (const code of codes) {
    assert.ok(code in errorCatalogue && code !== 'UNKNOWN', `${what}: unknown error code ${code}`);
    const known = errorCatalogue[code as ErrorCode].status;
    const allowed = [known, ...(otherStatuses[code as ErrorCode] ?? [])];
    assert.ok(allowed.includes(res.status), `${what}: ${code} with status ${res.status}, expected ${known}`);
  }
  if (res.status === 401) {
    const challenge = res.headers['www-authenticate'];
    assert.ok(
      typeof challenge === 'string' && challenge.startsWith('Bearer '),
      `${what}: 401 without challenge`,
    );
  }
}
