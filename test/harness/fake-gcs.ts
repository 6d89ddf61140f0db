// fake-gcs-server, the GCS server of the storage tests (built by test/tools/install-fake-gcs.sh): one private
// server on a free loopback port, plain HTTP, its objects in a temp dir (filesystem backend, so large test
// objects do not sit in the server's heap twice). `-external-url` and `-public-host` point back at it, so the
// resumable-upload session URLs it hands out and the download URLs it serves (`/<bucket>/<object>`) use the
// loopback address the clients reach. It logs every request (info level), so tests can see what clients fetched
// from it directly.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describeExit, spawnDaemon } from './daemon.ts';
import { freePort } from './ports.ts';
import { makeTempDir, removeTempDir } from './tmp.ts';
import { repoRoot } from './tools.ts';
import { httpStatus, waitFor } from './wait.ts';

export const fakeGcsBinary = path.join(repoRoot, '.cache/bin/fake-gcs-server');

export interface FakeGcs {
  /** http://127.0.0.1:<port>: the API endpoint (`apiEndpoint`, or STORAGE_EMULATOR_HOST). */
  endpoint: string;
  createBucket(name: string): Promise<void>;
  /** The server's stdout and stderr so far (the latest part), one line per request served. */
  output(): string;
  /** Request lines (`GET /path?query 200`) logged since `since` characters of output(). */
  requests(since?: number): { method: string; url: string; status: number }[];
  stop(): Promise<void>;
}

export function requireFakeGcs(): string {
  if (!existsSync(fakeGcsBinary)) {
    throw new Error(
      `required tool "fake-gcs-server" is missing at ${fakeGcsBinary}: run test/tools/install-fake-gcs.sh ` +
        '(test/tools/install-system.sh runs it too)',
    );
  }
  return fakeGcsBinary;
}

export async function startFakeGcs(): Promise<FakeGcs> {
  const bin = requireFakeGcs();
  const dir = await makeTempDir('fake-gcs');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const daemon = spawnDaemon(
    'fake-gcs-server',
    bin,
    [
      '-scheme',
      'http',
      '-host',
      '127.0.0.1',
      '-port',
      String(port),
      '-backend',
      'filesystem',
      '-filesystem-root',
      path.join(dir, 'storage'),
      '-external-url',
      endpoint,
      '-public-host',
      `127.0.0.1:${port}`,
      '-log-level',
      'info',
    ],
    { env: { PATH: process.env['PATH'], HOME: dir }, cwd: dir },
  );
  const stop = async (): Promise<void> => {
    await daemon.stop(10_000);
    await removeTempDir(dir);
  };
  try {
    await waitFor(
      `fake-gcs-server to answer ${endpoint}/storage/v1/b`,
      async () => ((await httpStatus(`${endpoint}/storage/v1/b`)) === 200 ? true : undefined),
      {
        timeoutMs: 30_000,
        abort: () =>
          daemon.running()
            ? undefined
            : `fake-gcs-server exited during start-up (${describeExit({ code: daemon.process.exitCode, signal: daemon.process.signalCode })})\n${daemon.output()}`,
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint,
    output: daemon.output,
    requests(since = 0) {
      const found: { method: string; url: string; status: number }[] = [];
      const line = /\\?"([A-Z]+) (\S+) HTTP\/[\d.]+\\?" (\d{3})/g;
      for (const m of daemon.output().slice(since).matchAll(line)) {
        found.push({ method: m[1] ?? '', url: m[2] ?? '', status: Number(m[3]) });
      }
      return found;
    },
    async createBucket(name: string): Promise<void> {
      const res = await fetch(`${endpoint}/storage/v1/b?project=berth-test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      const body = await res.text();
      if (!res.ok) throw new Error(`fake-gcs-server: creating bucket ${name}: ${res.status} ${body}`);
    },
    stop,
  };
}
