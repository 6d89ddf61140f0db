// `node bench/notifications.ts`: what a notification endpoint that never answers costs a registry's pushes.
// Berth, Distribution 2.8 and Distribution v3.1 each run twice per round, without endpoints and with one endpoint that accepts
// connections and never answers (a dead webhook receiver), the same small-blob push load each time. Reported:
// pushes/s with the dead endpoint over pushes/s without (1.0 = no cost), and the server's RSS after the load
// (Distribution queues undelivered events in memory without bound; Berth keeps at most 1,000 per endpoint).
//
//   node bench/notifications.ts [--pushes 2000] [--concurrency 8] [--rounds 3] [--results bench/results]
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { format } from 'prettier';
import { startBerth } from '../test/harness/berth.ts';
import { startDistribution } from '../test/harness/distribution.ts';
import type { ConfigObject, RegistryKind } from '../test/harness/registry.ts';
import { detectMonolithicMode, type MonolithicMode } from './blob-push.ts';
import { BenchClient, expectStatus, header } from './http-client.ts';
import { median } from './report.ts';
import { kindLabels, kinds as allKinds, rotate, sharedConfig } from './registries.ts';
import { readMemory } from './rss.ts';
import { ensureBenchTools } from './tools.ts';

const { values } = parseArgs({
  options: {
    pushes: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    results: { type: 'string', default: path.join(import.meta.dirname, 'results') },
  },
});
const pushes = Number(values.pushes);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const blobBytes = 4096;

type Variant = 'none' | 'dead';
interface Sample {
  kind: RegistryKind;
  variant: Variant;
  pushesPerSecond: number;
  rssMiB: number;
}

const log = (message: string) => process.stderr.write(`[bench:notifications] ${message}\n`);

/** Accepts connections and never answers: every delivery attempt ends in the sender's timeout. */
async function deadEndpoint(): Promise<{ url: string; connections: () => number; close: () => void }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}/events`,
    connections: () => connections,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

function notificationsConfig(url: string): ConfigObject {
  return {
    notifications: {
      endpoints: [{ name: 'dead', url, timeout: '1s', threshold: 3, backoff: '1s' }],
    },
  };
}

/** One small blob, pushed whole: POST ?digest= where the registry takes it, else POST then PUT ?digest=. */
async function pushBlob(client: BenchClient, repo: string, mode: MonolithicMode): Promise<void> {
  const body = randomBytes(blobBytes);
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const type = { 'content-type': 'application/octet-stream' };
  if (mode === 'post') {
    const res = await client.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, type, body);
    expectStatus('monolithic POST', res, 201);
    return;
  }
  const started = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
  expectStatus('start upload', started, 202);
  const url = client.url(header(started, 'location') ?? '');
  url.searchParams.set('digest', digest);
  expectStatus('PUT ?digest=', await client.request('PUT', url, type, body), 201);
}

async function measure(kind: RegistryKind, variant: Variant, endpointUrl: string): Promise<Sample> {
  const config = variant === 'dead' ? { ...sharedConfig, ...notificationsConfig(endpointUrl) } : sharedConfig;
  const running =
    kind === 'berth'
      ? await startBerth({ config })
      : await startDistribution({ config, version: kind === 'distribution-v3' ? 3 : 2 });
  const client = new BenchClient(running.url);
  try {
    const repo = 'bench/notifications';
    const mode = await detectMonolithicMode(client, repo);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < pushes) {
          next++;
          await pushBlob(client, repo, mode);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const pid = running.process.pid;
    const rssMiB = pid === undefined ? Number.NaN : Math.round(readMemory(pid).rss / 2 ** 20);
    return { kind, variant, pushesPerSecond: Math.round(pushes / seconds), rssMiB };
  } finally {
    client.close();
    await running.stop();
  }
}

await ensureBenchTools(['distribution-v3']);
const endpoint = await deadEndpoint();
const samples: Sample[] = [];
try {
  for (let round = 0; round < rounds; round++) {
    // Rotate the order so drift on a shared machine hits every variant alike.
    const kinds: RegistryKind[] = rotate(allKinds, round);
    const variants: Variant[] = round % 2 === 0 ? ['none', 'dead'] : ['dead', 'none'];
    for (const kind of kinds) {
      for (const variant of variants) {
        const s = await measure(kind, variant, endpoint.url);
        log(
          `round ${String(round + 1)}: ${kind} ${variant}: ${String(s.pushesPerSecond)} pushes/s, ${String(s.rssMiB)} MiB`,
        );
        samples.push(s);
      }
    }
  }
} finally {
  endpoint.close();
}
if (endpoint.connections() === 0) throw new Error('no registry ever connected to the dead endpoint');

const lines = [
  `# Notifications: a dead endpoint's cost to pushes`,
  '',
  `${String(pushes)} pushes of ${String(blobBytes)}-byte blobs, ${String(concurrency)} at a time, ${String(rounds)} rounds (medians); ` +
    `endpoint timeout 1s, threshold 3, backoff 1s; ${String(endpoint.connections())} connections reached the dead endpoint.`,
  '',
  '| registry | pushes/s, no endpoint | pushes/s, dead endpoint | dead / none | RSS after, no endpoint | RSS after, dead endpoint |',
  '| --- | --- | --- | --- | --- | --- |',
];
for (const kind of allKinds) {
  const of = (variant: Variant, f: (s: Sample) => number) =>
    median(samples.filter((s) => s.kind === kind && s.variant === variant).map(f));
  const none = of('none', (s) => s.pushesPerSecond);
  const dead = of('dead', (s) => s.pushesPerSecond);
  lines.push(
    `| ${kindLabels[kind]} | ${String(none)} | ${String(dead)} | ${(dead / none).toFixed(2)} | ${String(of('none', (s) => s.rssMiB))} MiB | ${String(of('dead', (s) => s.rssMiB))} MiB |`,
  );
}
// Formatted as the repository's other Markdown is (prettier --check runs over bench/results in CI).
const text = await format(`${lines.join('\n')}\n`, { parser: 'markdown', proseWrap: 'preserve' });
await mkdir(values.results, { recursive: true });
await writeFile(path.join(values.results, 'notifications-latest.md'), text);
await writeFile(
  path.join(values.results, 'notifications-latest.json'),
  `${JSON.stringify(samples, null, 2)}\n`,
);
process.stdout.write(text);
