// The OCI distribution-spec conformance suite against the registry under test: pull, push, content
// discovery (tags list and referrers) and content management (deletes) — 0 failures.
// (Distribution 2.8 fails the referrers, sha512 and out-of-order-chunk specs; that is expected when
// this file is pointed at it with BERTH_E2E_TARGET=distribution.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { runConformance, type ConformanceRun } from '../harness/conformance.ts';
import type { RunningRegistry } from '../harness/registry.ts';
import { startTarget, targetKind } from '../harness/target.ts';
import { removeTempDir } from '../harness/tmp.ts';

/** Features the tool may report as Skip for a conforming registry that behaves like Distribution v3. */
const allowedSkips = new Set([
  // Distribution v3 answers a mount without `from` with 202 (start an upload), which the spec allows.
  'Blob anonymous mount',
]);

function describeFailures(run: ConformanceRun): string {
  const bad = run.specs.filter((s) => s.status === 'failure' || s.status === 'error');
  const lines = bad.map((s) => `✖ ${s.name}\n    ${s.message.replace(/\n/g, '\n    ')}`);
  const traces = bad
    .slice(0, 5)
    .map((s) => `--- requests of ${s.name}\n${s.trace.slice(0, 3_000)}`)
    .join('\n');
  return `${bad.length} failing specs:\n${lines.join('\n')}\n\nfirst requests/responses:\n${traces}`;
}

describe(`OCI conformance suite against ${targetKind()}`, () => {
  let registry: RunningRegistry | undefined;
  let run: ConformanceRun | undefined;

  before(async () => {
    registry = await startTarget();
  });

  after(async () => {
    if (run !== undefined) await removeTempDir(run.resultsDir);
    await registry?.stop();
  });

  it('passes all four workflows with 0 failures', { timeout: 600_000 }, async () => {
    assert.ok(registry, 'start-up failed');
    const id = randomBytes(4).toString('hex');
    run = await runConformance({
      registry: registry.host,
      repo1: `conformance-${id}/repo1`,
      repo2: `conformance-${id}/repo2`,
      env: {
        // pull, push, content discovery (tags + referrers), content management (deletes)
        OCI_API_PULL: 'true',
        OCI_API_PUSH: 'true',
        OCI_API_TAGS_LIST: 'true',
        OCI_API_REFERRER: 'true',
        OCI_API_TAGS_DELETE: 'true',
        OCI_API_MANIFESTS_DELETE: 'true',
        OCI_API_BLOBS_DELETE: 'true',
        // Berth promises these beyond the 1.1 defaults (end-14 and Docker-Content-Digest everywhere).
        OCI_API_BLOBS_UPLOAD_CANCEL: 'true',
        OCI_API_BLOBS_DIGEST_HEADER: 'true',
        OCI_API_MANIFESTS_DIGEST_HEADER: 'true',
      },
    });
    const counts = new Map<string, number>();
    for (const s of run.specs) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
    process.stdout.write(`conformance specs: ${JSON.stringify(Object.fromEntries(counts))}\n`);
    for (const s of run.specs.filter((x) => x.status === 'skipped')) {
      process.stdout.write(`  skipped: ${s.name} (${s.message.trim()})\n`);
    }

    const failed = run.specs.filter((s) => s.status === 'failure' || s.status === 'error');
    assert.ok(run.specs.length > 0, `no specs ran:\n${run.stdout}\n${run.stderr}`);
    assert.equal(failed.length, 0, describeFailures(run));
    assert.equal(
      run.code,
      0,
      `the tool reported failure:\n${run.stdout.slice(-4_000)}\n${run.stderr.slice(-4_000)}`,
    );
    // Every feature must have been exercised, not skipped as unsupported.
    const notPassed = Object.entries({ ...run.apis, ...run.data }).filter(
      ([name, status]) =>
        status !== 'Pass' && status !== 'Disabled' && !(status === 'Skip' && allowedSkips.has(name)),
    );
    assert.deepEqual(notPassed, [], `features not passed: ${JSON.stringify(notPassed)}\n${run.stdout}`);
  });
});
