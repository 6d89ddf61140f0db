// Ctrl-C during a push, against the real `npm start` process and a real HTTP client streaming an upload slowly:
// the shutdown logs what is in flight, lets it finish within `http.draintimeout`, cuts and logs the rest, removes
// the upload a cut left that nobody can resume, keeps chunked uploads for their clients, and exits.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, removeTempDir } from '../harness/tmp.ts';
import { waitFor } from '../harness/wait.ts';
import {
  fetchToken,
  logRecords as parseLog,
  printedSecret,
  startStandaloneProcess,
  type StandaloneProcess,
} from './standalone-process.ts';

const repository = 'team/slow';

interface Session {
  registry: StandaloneProcess;
  bearer: string;
}

const dirs: string[] = [];
const running: StandaloneProcess[] = [];
after(async () => {
  await Promise.allSettled(running.map((r) => r.stop(5_000)));
  for (const dir of dirs) await removeTempDir(dir);
});

async function start(drainTimeout: string): Promise<Session> {
  const dataDir = await makeTempDir('shutdown');
  dirs.push(dataDir);
  const registry = await startStandaloneProcess(dataDir, {
    env: { REGISTRY_HTTP_DRAINTIMEOUT: drainTimeout },
  });
  running.push(registry);
  const secret = printedSecret(registry.stderr() + registry.stdout());
  const { token } = await fetchToken(registry.url, 'admin', secret, [`repository:${repository}:pull,push`]);
  assert.ok(token, 'no token for admin');
  return { registry, bearer: `Bearer ${token}` };
}

async function newUpload({ registry, bearer }: Session): Promise<string> {
  const res = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, {
    method: 'POST',
    headers: { Authorization: bearer },
  });
  assert.equal(res.status, 202);
  return res.headers.get('location') ?? '';
}

function uploadDir(registry: StandaloneProcess, location: string): string {
  const id = location.split('/').pop() ?? '';
  return path.join(registry.dataDir, 'docker/registry/v2/repositories', repository, '_uploads', id);
}

async function storedBytes(registry: StandaloneProcess, location: string): Promise<number | undefined> {
  try {
    return (await stat(path.join(uploadDir(registry, location), 'data'))).size;
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** A whole chunk in one PATCH (a chunked upload's step). */
async function patchChunk(session: Session, location: string, start: number, size: number): Promise<void> {
  const res = await fetch(`${session.registry.url}${location}`, {
    method: 'PATCH',
    headers: {
      Authorization: session.bearer,
      'Content-Type': 'application/octet-stream',
      'Content-Range': `${start}-${start + size - 1}`,
      'Content-Length': String(size),
    },
    body: Buffer.alloc(size, 7),
  });
  assert.equal(res.status, 202, await res.text());
}

interface SlowBody {
  /** The response status, or the error that ended the request. */
  outcome: Promise<number | string>;
  /** Sends the last bytes and ends the body. */
  finish(): void;
}

/** A PATCH whose body (chunked transfer encoding) trickles in: 16 KiB every 50 ms until `finish`. */
function slowPatch(session: Session, location: string, contentRangeStart?: number): SlowBody {
  const url = new URL(`${session.registry.url}${location}`);
  const headers: Record<string, string> = {
    Authorization: session.bearer,
    'Content-Type': 'application/octet-stream',
  };
  if (contentRangeStart !== undefined) {
    headers['Content-Range'] = `${contentRangeStart}-${contentRangeStart + 100 * 1024 * 1024}`;
  }
  const req = httpRequest({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'PATCH',
    headers,
  });
  const timer = setInterval(() => req.write(Buffer.alloc(16 * 1024, 1)), 50);
  const outcome = new Promise<number | string>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err) => resolve(err.message));
  });
  void outcome.then(() => clearInterval(timer));
  return {
    outcome,
    finish() {
      clearInterval(timer);
      req.end(Buffer.alloc(1024, 2));
    },
  };
}

async function untilStored(registry: StandaloneProcess, location: string, atLeast: number): Promise<void> {
  await waitFor(`${atLeast} bytes stored for ${location}`, async () =>
    ((await storedBytes(registry, location)) ?? 0) >= atLeast ? true : undefined,
  );
}

function logRecords(registry: StandaloneProcess): Record<string, unknown>[] {
  return parseLog(registry.stdout());
}

describe('Ctrl-C during a push (npm start, a slow streaming client)', () => {
  it('cuts what the drain time does not cover, logs it, removes the cut streamed upload, keeps chunked ones', async () => {
    const session = await start('2s');
    const { registry } = session;
    // A: Docker's way, the whole blob streamed in one PATCH.
    const streamed = await newUpload(session);
    const streaming = slowPatch(session, streamed);
    // B: a chunked upload with one chunk stored, its second chunk in flight.
    const chunked = await newUpload(session);
    await patchChunk(session, chunked, 0, 4096);
    const secondChunk = slowPatch(session, chunked, 4096);
    // C: a chunked upload between two PATCHes: nothing in flight.
    const idle = await newUpload(session);
    await patchChunk(session, idle, 0, 4096);
    await untilStored(registry, streamed, 64 * 1024);
    await untilStored(registry, chunked, 4096 + 64 * 1024);

    const signalled = Date.now();
    registry.signal('SIGTERM');
    const announced = await waitFor('the shutdown to be logged', async () =>
      logRecords(registry).find((r) => String(r['msg']).startsWith('shutting down')),
    );
    assert.equal(announced['inFlight'], 2);
    assert.equal(announced['waitSeconds'], 2);
    const exit = await registry.exited;
    const took = Date.now() - signalled;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(took >= 1900 && took < 10_000, `stopped after ${took} ms, expected about the 2 s drain time`);
    assert.notEqual(await streaming.outcome, 202, 'the streamed PATCH was not cut');
    assert.notEqual(await secondChunk.outcome, 202, 'the second chunk was not cut');

    const records = logRecords(registry);
    const cut = records.filter((r) => r['msg'] === 'request cut by shutdown').map((r) => r['path']);
    assert.deepEqual(cut.sort(), [streamed, chunked].sort());
    assert.equal(
      await exists(uploadDir(registry, streamed)),
      false,
      'the cut streamed upload is still there',
    );
    assert.ok(
      records.some(
        (r) =>
          String(r['msg']).startsWith('upload cut by shutdown removed') &&
          streamed.endsWith(String(r['upload'])),
      ),
    );
    // B keeps its first chunk (and what arrived of the second: its Range says so to a resuming client).
    assert.ok(((await storedBytes(registry, chunked)) ?? 0) >= 4096, 'the chunked upload lost its chunks');
    assert.ok(records.some((r) => String(r['msg']).startsWith('upload cut by shutdown kept')));
    assert.equal(await storedBytes(registry, idle), 4096, 'an upload between chunks was touched');
  });

  it('lets a request that finishes in time complete, then exits at once', async () => {
    const session = await start('10s');
    const { registry } = session;
    const location = await newUpload(session);
    const body = slowPatch(session, location);
    await untilStored(registry, location, 32 * 1024);
    const signalled = Date.now();
    registry.signal('SIGTERM');
    await waitFor('the shutdown to be logged', async () =>
      registry.stdout().includes('shutting down') ? true : undefined,
    );
    setTimeout(() => body.finish(), 500);
    assert.equal(await body.outcome, 202);
    const exit = await registry.exited;
    const took = Date.now() - signalled;
    assert.deepEqual(exit, { code: 0, signal: null });
    // Not the drain time, nor a kept-alive connection's timeout: the response closed the connection.
    assert.ok(took < 4_000, `stopped ${took} ms after SIGTERM`);
    assert.ok(!registry.stdout().includes('request cut by shutdown'), registry.stdout());
    assert.ok(((await storedBytes(registry, location)) ?? 0) > 32 * 1024, 'the finished chunk is gone');
  });

  it('a second Ctrl-C cuts at once, and still tidies up', async () => {
    const session = await start('60s');
    const { registry } = session;
    const location = await newUpload(session);
    const body = slowPatch(session, location);
    await untilStored(registry, location, 32 * 1024);
    const signalled = Date.now();
    registry.signal('SIGINT');
    await waitFor('the shutdown to be logged', async () =>
      registry.stdout().includes('shutting down') ? true : undefined,
    );
    registry.signal('SIGINT');
    const exit = await registry.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(Date.now() - signalled < 5_000, 'the second signal did not cut the wait short');
    assert.notEqual(await body.outcome, 202);
    assert.ok(registry.stdout().includes('request cut by shutdown'));
    assert.equal(await exists(uploadDir(registry, location)), false);
  });
});
