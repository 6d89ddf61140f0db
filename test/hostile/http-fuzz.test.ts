// Property-based fuzzing of the registry HTTP API against a real server on loopback (filesystem storage), with
// open access and with token auth: random and hostile names, references, digests, upload ids, Range and
// Content-Range, odd headers and manifest bodies. Every answer is a spec error with its status (never a 500),
// nothing is written outside the storage root, and the store is consistent afterwards.
// Reproduce a failure with FUZZ_SEED=<seed printed below>; FUZZ_RUNS scales the number of cases.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeRequest,
  encodeSegment,
  nameArb,
  rangeArb,
  requestArb,
  type FuzzRequest,
  type FuzzTargets,
} from './fuzz-arbitraries.ts';
import { startFuzzFixture, type FuzzFixture } from './fuzz-fixture.ts';
import { rawRequest } from './raw-http.ts';
import { assertSpecResponse, specErrorCodes } from './spec-response.ts';
import { tokenSetup, type TokenSetup } from './token-setup.ts';

const seed = Number(process.env['FUZZ_SEED'] ?? 20_261_203);
const scale = Number(process.env['FUZZ_RUNS'] ?? 1);
console.log(`http fuzz: seed ${seed} (FUZZ_SEED=${seed} reproduces), scale ${scale}`);

/** The spec's name grammar, written out again here so the registry's own check is not its own oracle. */
const specName = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

async function send(url: string, req: FuzzRequest) {
  return rawRequest(url, {
    method: req.method,
    path: req.path,
    headers: req.headers,
    ...(req.body ? { body: req.body } : {}),
  });
}

/** Runs `numRuns` fuzzed requests; returns how many got each status, for the log. */
async function fuzz(url: string, arb: fc.Arbitrary<FuzzRequest>, numRuns: number) {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(arb, async (req) => {
      const res = await send(url, req);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assertSpecResponse(res, describeRequest(req), req.method);
    }),
    { seed, numRuns: Math.round(numRuns * scale), endOnFailure: true },
  );
  return Object.fromEntries([...statuses].sort(([a], [b]) => a - b));
}

describe('HTTP API fuzzing, open access', () => {
  let fixture: FuzzFixture;
  before(async () => {
    fixture = await startFuzzFixture();
  });
  after(() => fixture.close());

  it('answers random requests with spec errors, never a 500', async () => {
    const runs = 2000;
    const statuses = await fuzz(fixture.registry.url, requestArb(fixture.targets), runs);
    console.log(`open access: ${runs * scale} requests, statuses ${JSON.stringify(statuses)}`);
  });

  it('refuses every name outside the spec grammar with NAME_INVALID, however it is spelt', async () => {
    const runs = 800;
    await fc.assert(
      fc.asyncProperty(nameArb(fixture.targets), fc.constantFrom('component', 'all'), async (name, enc) => {
        const res = await rawRequest(fixture.registry.url, {
          method: 'GET',
          path: `/v2/${encodeSegment(name, enc as 'component' | 'all')}/tags/list`,
        });
        const what = `GET tags/list of ${JSON.stringify(name.slice(0, 100))} (${enc})`;
        assertSpecResponse(res, what);
        // An empty name leaves no route (`/v2//tags/list`): a plain 404, as Distribution's router.
        if (name === '') assert.equal(res.status, 404, what);
        else if (!(name.length <= 255 && specName.test(name))) {
          assert.equal(res.status, 400, `${what}: ${res.status} ${res.body.slice(0, 200)}`);
          assert.deepEqual(specErrorCodes(res), ['NAME_INVALID'], what);
        }
      }),
      { seed, numRuns: Math.round(runs * scale), endOnFailure: true },
    );
  });

  it('serves any Range of a blob as the bytes it names, the whole blob, or RANGE_INVALID', async () => {
    const runs = 400;
    const { repo, digest, content } = fixture.rangeBlob;
    await fc.assert(
      fc.asyncProperty(rangeArb, async (range) => {
        const res = await rawRequest(fixture.registry.url, {
          method: 'GET',
          path: `/v2/${repo}/blobs/${digest}`,
          headers: { Range: range },
        });
        const what = `Range ${JSON.stringify(range)}`;
        assertSpecResponse(res, what);
        const body = Buffer.from(res.rawBody);
        if (res.status === 200) assert.ok(body.equals(content), what);
        else if (res.status === 206) {
          const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.headers['content-range']));
          assert.ok(m, `${what}: Content-Range ${String(res.headers['content-range'])}`);
          const [start, end, size] = [Number(m[1]), Number(m[2]), Number(m[3])];
          assert.equal(size, content.length, what);
          assert.ok(start <= end && end < size, what);
          assert.ok(body.equals(content.subarray(start, end + 1)), `${what}: wrong bytes`);
        } else {
          assert.equal(res.status, 416, `${what}: ${res.status}`);
          assert.deepEqual(specErrorCodes(res), ['RANGE_INVALID'], what);
          assert.equal(res.headers['content-range'], `bytes */${content.length}`, what);
        }
      }),
      { seed, numRuns: Math.round(runs * scale), endOnFailure: true },
    );
  });

  it('wrote nothing outside the root and left a consistent store', async () => {
    await fixture.verify();
  });
});

describe('HTTP API fuzzing, token auth', () => {
  let dir: string;
  let tokens: TokenSetup;
  let fixture: FuzzFixture;
  let authorizations: string[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-fuzz-auth-'));
    tokens = await tokenSetup(dir);
    const all = ['pull', 'push', 'delete'];
    authorizations = [
      `Bearer ${await tokens.sign([{ type: 'repository', name: 'fuzz/base', actions: ['pull'] }])}`,
      `Bearer ${await tokens.sign([{ type: 'repository', name: 'fuzz/base', actions: all }])}`,
      `Bearer ${await tokens.sign([
        { type: 'repository', name: 'fuzz/other', actions: ['*'] },
        { type: 'repository', name: 'fuzz/new', actions: all },
        { type: 'registry', name: 'catalog', actions: ['*'] },
      ])}`,
    ];
    const admin = `Bearer ${await tokens.sign([{ type: 'repository', name: 'protected/untouched', actions: ['pull'] }])}`;
    fixture = await startFuzzFixture({ authorizer: tokens.authorizer, adminAuthorization: admin });
  });
  after(async () => {
    await fixture.close();
    await tokens.authorizer.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers random requests with random credentials with spec errors, never a 500', async () => {
    const runs = 800;
    const authorization = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(...authorizations),
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        'Basic Zm9vOmJhcg==',
        'bearer x.y.z',
        'Bearer a.b.c.d',
        'Bearer ....',
      ),
      fc.string({ maxLength: 80 }).map((s) => `Bearer ${s}`),
      fc.base64String({ maxLength: 200 }).map((s) => `Bearer ${s}.${s}.${s}`),
    );
    const arb = requestArb(fixture.targets as FuzzTargets, authorization);
    const statuses = await fuzz(fixture.registry.url, arb, runs);
    console.log(`token auth: ${runs * scale} requests, statuses ${JSON.stringify(statuses)}`);
  });

  it('wrote nothing outside the root and left a consistent store', async () => {
    await fixture.verify();
  });
});
