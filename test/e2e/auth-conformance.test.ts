// The OCI distribution-spec conformance suite with token auth on: `berth-registry serve` with auth.token and a
// `berth-registry token-server`, the suite logging in with an access token (OCI_USERNAME/OCI_PASSWORD) and
// following the registry's Bearer challenges to the realm.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startAuthStack, type AuthStack } from '../harness/auth.ts';
import { runConformance, type ConformanceRun } from '../harness/conformance.ts';
import { removeTempDir } from '../harness/tmp.ts';

/**
 * Features the tool may report as Skip for a conforming registry that behaves like Distribution v3: a mount
 * without `from` starts an upload (202), which the spec allows (skipped without auth too).
 *
 * With auth on, the cross-repository mount specs are skipped as well (the feature still passes): the suite
 * reuses the token it got for pushing to the target repository, which carries no pull on the source, and Berth
 * then falls back to a normal upload (202) instead of refusing the request, as the auth design says (the
 * in-process API test shows the same mount with pull on the source answering 201). The spec-level check below
 * allows exactly those.
 */
const allowedSkips = new Set(['Blob anonymous mount']);

function describeFailures(run: ConformanceRun): string {
  const bad = run.specs.filter((s) => s.status === 'failure' || s.status === 'error');
  const lines = bad.map((s) => `✖ ${s.name}\n    ${s.message.replace(/\n/g, '\n    ')}`);
  const traces = bad
    .slice(0, 5)
    .map((s) => `--- requests of ${s.name}\n${s.trace.slice(0, 3_000)}`)
    .join('\n');
  return `${bad.length} failing specs:\n${lines.join('\n')}\n\nfirst requests/responses:\n${traces}`;
}

describe('OCI conformance suite with token auth on', () => {
  let stack: AuthStack | undefined;
  let run: ConformanceRun | undefined;
  const id = randomBytes(4).toString('hex');
  let password = '';

  before(async () => {
    stack = await startAuthStack();
    password = await stack.addToken(
      'conformance',
      ['read_registry', 'write_registry', 'delete_registry'],
      [`conformance-${id}/**`],
    );
  });

  after(async () => {
    if (run !== undefined) await removeTempDir(run.resultsDir);
    if (stack && (run === undefined || run.code !== 0)) process.stderr.write(stack.output().slice(-12_000));
    await stack?.stop();
  });

  it(
    'passes all four workflows with 0 failures, logging in with an access token',
    { timeout: 600_000 },
    async () => {
      assert.ok(stack, 'start-up failed');
      const challenge = await fetch(`${stack.registry.url}/v2/`);
      assert.equal(challenge.status, 401, 'auth is not on');
      run = await runConformance({
        registry: stack.registry.host,
        repo1: `conformance-${id}/repo1`,
        repo2: `conformance-${id}/repo2`,
        env: {
          OCI_USERNAME: 'conformance',
          OCI_PASSWORD: password,
          OCI_API_PULL: 'true',
          OCI_API_PUSH: 'true',
          OCI_API_TAGS_LIST: 'true',
          OCI_API_REFERRER: 'true',
          OCI_API_TAGS_DELETE: 'true',
          OCI_API_MANIFESTS_DELETE: 'true',
          OCI_API_BLOBS_DELETE: 'true',
          OCI_API_BLOBS_UPLOAD_CANCEL: 'true',
          OCI_API_BLOBS_DIGEST_HEADER: 'true',
          OCI_API_MANIFESTS_DIGEST_HEADER: 'true',
        },
      });
      const counts = new Map<string, number>();
      for (const s of run.specs) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
      process.stdout.write(`conformance specs with auth: ${JSON.stringify(Object.fromEntries(counts))}\n`);

      const failed = run.specs.filter((s) => s.status === 'failure' || s.status === 'error');
      assert.ok(run.specs.length > 0, `no specs ran:\n${run.stdout}\n${run.stderr}`);
      assert.equal(failed.length, 0, describeFailures(run));
      assert.equal(
        run.code,
        0,
        `the tool reported failure:\n${run.stdout.slice(-4_000)}\n${run.stderr.slice(-4_000)}`,
      );
      // Specs the tool skipped: only mounts that fell back to a plain upload (see allowedSkips).
      const skipped = run.specs.filter((s) => s.status === 'skipped');
      process.stdout.write(
        `skipped specs: ${JSON.stringify(skipped.map((s) => `${s.name}: ${s.message.trim()}`))}\n`,
      );
      for (const s of skipped) {
        assert.match(s.name, /mount/, `unexpected skip: ${s.name}: ${s.message}`);
        assert.match(
          s.message,
          /status 202, fell back to blob POST\+PUT|registry returned status 202/,
          s.message,
        );
      }
      const notPassed = Object.entries({ ...run.apis, ...run.data }).filter(
        ([name, status]) =>
          status !== 'Pass' && status !== 'Disabled' && !(status === 'Skip' && allowedSkips.has(name)),
      );
      assert.deepEqual(notPassed, [], `features not passed: ${JSON.stringify(notPassed)}\n${run.stdout}`);
      // The suite really went through the issuer: it logged tokens issued to the access token.
      assert.match(stack.issuer.output(), /"subject":"conformance"[^\n]*"msg":"token issued"/);
      process.stdout.write(`feature results: ${JSON.stringify({ ...run.apis, ...run.data })}\n`);
    },
  );
});
