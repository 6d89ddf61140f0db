// Operator scale benchmark: N ContainerRegistry objects (default 200) created at once against a real
// kube-apiserver, one berth-operator process reconciling them. Reports the time until every object's status
// has caught up with its generation, the time until the operator is idle again (its own follow-up reconciles
// done), the operator's peak RSS (VmHWM) and what it did (reconciles, applies, API writes).
//
//   node bench/operator.ts [--count 200] [--namespaces 4] [--concurrency 4] [--node-flags='F ...']
//                          [--compile-cache image|cold] [--json] [--hold]
//
// The operator runs as the image runs it: operator/cli.ts with the image's Node flags (operatorNodeFlags;
// --node-flags replaces them, --node-flags= for Node's defaults) and, by default, Node's compile cache filled
// as the image's is (`--compile-cache image`; `cold` starts from an empty one, as an image without it did).
// The image's cache is filled under the image's flags: with other --node-flags it is cold whatever is asked.
//
// --hold keeps the API server and the operator running after the report, until SIGINT or SIGTERM, so their
// state can be inspected (kubectl with the printed kubeconfig; a heap snapshot of the operator with
// NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2 and `kill -USR2 <pid>`).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane } from '../test/harness/control-plane.ts';
import { spawnDaemon } from '../test/harness/daemon.ts';
import { fillImageCompileCache } from '../test/harness/compile-cache.ts';
import { freePort } from '../test/harness/ports.ts';
import { makeTempDir } from '../test/harness/tmp.ts';
import { operatorNodeFlags, repoRoot } from '../test/harness/tools.ts';
import { waitFor } from '../test/harness/wait.ts';
import { KubeClient } from '../operator/runtime/kube-client.ts';
import type { KubeObject } from '../operator/runtime/objects.ts';
import { readMemory, type Memory } from './rss.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    namespaces: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
    hold: { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: operatorNodeFlags.join(' ') },
    'compile-cache': { type: 'string', default: 'image' },
  },
});
const compileCache = values['compile-cache'];
if (compileCache !== 'image' && compileCache !== 'cold') {
  throw new Error(`--compile-cache: expected image or cold, got ${JSON.stringify(compileCache)}`);
}
const count = Number(values.count);
const namespaces = Number(values.namespaces);
const concurrency = Number(values.concurrency);
const nodeFlags = values['node-flags'].split(' ').filter((f) => f !== '');

function log(message: string): void {
  process.stderr.write(`[bench:operator] ${message}\n`);
}

interface Registry extends KubeObject {
  status?: { observedGeneration?: number; conditions?: { type: string; reason: string }[] };
}

/** Reconciled: the status is for this generation and says what the operator waits for (no error). */
function reconciled(r: Registry): boolean {
  const ready = r.status?.conditions?.find((c) => c.type === 'Ready');
  return (
    r.status?.observedGeneration === r.metadata.generation &&
    (ready?.reason === 'RegistryUnavailable' || ready?.reason === 'Available')
  );
}

function metric(text: string, name: string, filter = ''): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || !line.includes(filter)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

// Two Services per registry: more ClusterIPs than the harness's default /24 holds.
const cp = await startControlPlane({ apiserverArgs: ['--service-cluster-ip-range=10.0.0.0/16'] });
const client = KubeClient.load(cp.kubeconfigPath);
try {
  await cp.kubectl(['apply', '--server-side', '-f', path.join(repoRoot, 'crds')]);
  await waitFor('the CRD', async () => {
    const r = await cp.kubectl(
      [
        'get',
        'crd',
        'containerregistries.berth.dev',
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Established")].status}',
      ],
      { check: false },
    );
    return r.stdout.trim() === 'True' ? true : undefined;
  });
  const nsNames = Array.from({ length: namespaces }, (_, i) => `bench-${String(i)}`);
  for (const ns of nsNames) await cp.kubectl(['create', 'namespace', ns]);

  const cacheDir = await makeTempDir('bench-operator-compile-cache');
  if (compileCache === 'image') await fillImageCompileCache(cacheDir);
  log(`compile cache: ${compileCache}`);
  const port = await freePort();
  const operator = spawnDaemon(
    'berth-operator',
    path.join(repoRoot, 'node_modules/.bin/node'),
    [
      ...nodeFlags,
      path.join(repoRoot, 'operator/cli.ts'),
      `--kubeconfig=${cp.kubeconfigPath}`,
      '--namespace=default',
      `--http-addr=127.0.0.1:${String(port)}`,
      '--registry-image=berth:bench',
      `--concurrency=${String(concurrency)}`,
      '--log-level=warn',
    ],
    { cwd: repoRoot, env: { ...process.env, NODE_COMPILE_CACHE: cacheDir } },
  );
  const metrics = async () => (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
  try {
    await waitFor(
      'the operator to be ready and leading',
      async () => {
        const text = await metrics().catch(() => '');
        return /^berth_operator_leader 1$/m.test(text) ? true : undefined;
      },
      { timeoutMs: 60_000, abort: () => (operator.running() ? undefined : 'the operator exited') },
    );
    await sleep(500);
    const idle = readMemory(operator.pid);
    // VmHWM has no anonymous/file split: sample the RSS to see what the peak is made of.
    let peakSample: Memory = idle;
    const sampler = setInterval(() => {
      try {
        const m = readMemory(operator.pid);
        if (m.rss > peakSample.rss) peakSample = m;
      } catch {
        // the process exited; waitFor's abort says so
      }
    }, 50);
    log(
      `operator idle: RSS ${(idle.rss / 2 ** 20).toFixed(1)} MiB; creating ${String(count)} ContainerRegistry objects`,
    );

    const t0 = performance.now();
    let next = 0;
    const creators = Array.from({ length: 8 }, async () => {
      while (next < count) {
        const i = next++;
        const ns = nsNames[i % namespaces] ?? 'bench-0';
        const spec: Record<string, unknown> =
          i % 2 === 0
            ? { storage: { filesystem: { size: '1Gi' }, delete: true } }
            : {
                storage: { s3: { bucket: `bucket-${String(i)}` } },
                ingress: { enabled: true, host: `r${String(i)}.bench.test` },
              };
        await client.apply({
          apiVersion: 'berth.dev/v1alpha1',
          kind: 'ContainerRegistry',
          metadata: { name: `r${String(i)}`, namespace: ns },
          spec,
        } as KubeObject);
      }
    });
    await Promise.all(creators);
    const created = performance.now() - t0;
    log(`created in ${(created / 1000).toFixed(1)} s`);

    let done = 0;
    await waitFor(
      'every registry reconciled',
      async () => {
        const { items } = await client.list<Registry>('berth.dev/v1alpha1', 'ContainerRegistry');
        done = items.filter(reconciled).length;
        return done === count ? true : undefined;
      },
      {
        timeoutMs: 30 * 60_000,
        intervalMs: 250,
        abort: () => (operator.running() ? undefined : 'the operator exited'),
      },
    );
    const allReconciled = performance.now() - t0;
    log(`all ${String(count)} reconciled after ${(allReconciled / 1000).toFixed(1)} s`);

    // Idle: the reconcile counter stops moving (follow-up reconciles from the operator's own writes).
    let last = -1;
    let stableSince = performance.now();
    let idleAt = performance.now();
    for (;;) {
      const text = await metrics();
      const n = metric(text, 'berth_operator_reconcile_total', 'containerregistry');
      const depth = metric(text, 'berth_operator_queue_depth', 'containerregistry');
      if (n !== last || depth > 0) {
        last = n;
        stableSince = performance.now();
      } else if (performance.now() - stableSince > 3_000) {
        idleAt = stableSince;
        break;
      }
      await sleep(200);
    }
    const quiet = idleAt - t0;
    clearInterval(sampler);
    const text = await metrics();
    const mem = readMemory(operator.pid);
    const mib = (bytes: number) => +(bytes / 2 ** 20).toFixed(1);
    const result = {
      registries: count,
      namespaces,
      concurrency,
      nodeFlags: nodeFlags.join(' '),
      createSeconds: +(created / 1000).toFixed(2),
      allReconciledSeconds: +(allReconciled / 1000).toFixed(2),
      idleSeconds: +(quiet / 1000).toFixed(2),
      operatorPeakRssMiB: +(mem.hwm / 2 ** 20).toFixed(1),
      operatorIdleRssBeforeMiB: +(idle.rss / 2 ** 20).toFixed(1),
      operatorIdleAnonFileMiB: [mib(idle.anon), mib(idle.file)],
      operatorPeakSampledAnonFileMiB: [mib(peakSample.anon), mib(peakSample.file)],
      operatorRssAfterMiB: +(mem.rss / 2 ** 20).toFixed(1),
      // What of that RSS is the V8 heap (used, and reserved), after the run.
      operatorHeapUsedMiB: +(metric(text, 'berth_operator_nodejs_heap_size_used_bytes') / 2 ** 20).toFixed(1),
      operatorHeapTotalMiB: +(metric(text, 'berth_operator_nodejs_heap_size_total_bytes') / 2 ** 20).toFixed(
        1,
      ),
      reconciles: metric(text, 'berth_operator_reconcile_total', 'containerregistry'),
      reconcileErrors: metric(text, 'berth_operator_reconcile_total', 'result="error"'),
      appliesChanged: metric(text, 'berth_operator_applies_total', 'changed="true"'),
      appliesNoop: metric(text, 'berth_operator_applies_total', 'changed="false"'),
      cpuSeconds: +metric(text, 'berth_operator_process_cpu_seconds_total').toFixed(2),
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(
        [
          `ContainerRegistry objects      ${String(count)} in ${String(namespaces)} namespaces (operator concurrency ${String(concurrency)})`,
          `operator Node flags            ${result.nodeFlags === '' ? '(none)' : result.nodeFlags}`,
          `all reconciled after           ${result.allReconciledSeconds.toFixed(1)} s (created in ${result.createSeconds.toFixed(1)} s)`,
          `operator idle after            ${result.idleSeconds.toFixed(1)} s`,
          `operator peak RSS (VmHWM)      ${result.operatorPeakRssMiB.toFixed(1)} MiB (idle before: ${result.operatorIdleRssBeforeMiB.toFixed(1)} MiB, after: ${result.operatorRssAfterMiB.toFixed(1)} MiB)`,
          `  anonymous / file-backed      idle ${result.operatorIdleAnonFileMiB.join(' / ')} MiB, highest sample ${result.operatorPeakSampledAnonFileMiB.join(' / ')} MiB`,
          `operator V8 heap after         ${result.operatorHeapUsedMiB.toFixed(1)} MiB used of ${result.operatorHeapTotalMiB.toFixed(1)} MiB`,
          `reconciles                     ${String(result.reconciles)} (${String(result.reconcileErrors)} errors)`,
          `child applies                  ${String(result.appliesChanged)} wrote, ${String(result.appliesNoop)} no-op`,
          `operator CPU                   ${result.cpuSeconds.toFixed(1)} s`,
          '',
        ].join('\n'),
      );
    }
    if (values.hold) {
      log(`holding: KUBECONFIG=${cp.kubeconfigPath}, operator pid ${String(operator.pid)}; SIGINT to stop`);
      await new Promise((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
  } finally {
    await operator.stop(10_000);
  }
} finally {
  client.close();
  await cp.stop();
}
