// Garbage collection run by the operator, end to end on a real single-node cluster (test/harness/cluster.ts):
// the operator (two replicas, one leads) from the image built from the working tree, a ContainerRegistry with
// two pods on a shared volume, images pushed with a real Docker engine through the Ingress, tags deleted
// through the registry API, runs started with the berth.dev/garbage-collect annotation or the schedule.
// During a run pushes are refused (405) while pulls work and no registry pod restarts; afterwards the
// deleted images' blobs are gone, the kept image pulls, and status.lastGarbageCollection has the figures.
// Then the faults: the operator killed (SIGKILL of its container) in each phase, the collector pod killed,
// the collector past its timeout, a registry pod that never confirms read-only: every run ends recorded and
// every registry pod accepts writes afterwards. Then 1,000 manifests (read-only seconds reported), and the
// schedule: no run outside its maintenance window, runs at the cron times, one run per time with two replicas.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildScratchImage, removeClientState } from '../harness/clients.ts';
import {
  installRegistry,
  leaderPod,
  signalPod,
  startBerthCluster,
  type BerthCluster,
} from '../harness/berth-on-cluster.ts';
import type { Cluster } from '../harness/cluster.ts';
import type { Dockerd } from '../harness/dockerd.ts';
import { exec } from '../harness/exec.ts';
import { bearerFor, ingressCall, pushApiImage, type IngressTarget } from '../harness/ingress-api.ts';
import { conditionOf, getObject, listObjects, readyPods, type KubeObject } from '../harness/kube.ts';
import { jobObjectName, jobPodSelector } from '../../operator/operations/garbage-collection/job.ts';
import { ports } from '../../operator/render/names.ts';
import { inParallel } from '../harness/parallel.ts';
import { waitFor } from '../harness/wait.ts';

const namespace = 'gc';
const operatorNamespace = 'berth-system';
/** How long the operator waits for every pod to confirm a mode switch (the chart's maintenance.confirmTimeout). */
const confirmTimeoutSeconds = 40;
const host = 'gc.berth.test';
const name = 'registry';
const registrySelector = `app.kubernetes.io/instance=${name},app.kubernetes.io/component=registry`;
const user = 'gc-bot';
const manifestAccept = {
  accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
};

let cluster: Cluster;
let dockerd: Dockerd;
let env: BerthCluster;
let secret = '';
let target: IngressTarget;
/** Faults injected, and registry pods found read-only after one (must stay 0). */
const faults: string[] = [];
let leftReadOnly = 0;

const kubectl = (args: readonly string[], input?: string) =>
  cluster.kubectl(args, input === undefined ? {} : { input });
const apply = (obj: unknown) =>
  kubectl(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], JSON.stringify(obj));
const registryObject = () => getObject(cluster, ['containerregistry', '-n', namespace, name]);

/** The ContainerRegistry, applied whole (server-side apply: a field left out is removed). */
function applyRegistry(gc: Record<string, unknown> = {}, maintenanceWindows?: unknown[]) {
  return apply({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'ContainerRegistry',
    metadata: { name, namespace },
    spec: {
      replicas: 2,
      storage: { filesystem: { size: '2Gi', accessMode: 'ReadWriteMany' }, delete: true },
      ingress: { enabled: true, className: 'traefik', host, tls: {} },
      auth: { accessTokensFrom: { matchLabels: { 'berth.dev/access-tokens': 'registry' } } },
      garbageCollection: { deleteUntagged: true, timeout: '10m', ...gc },
      ...(maintenanceWindows !== undefined ? { maintenanceWindows } : {}),
      resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '768Mi' } },
    },
  });
}

interface Run {
  id?: string;
  phase?: string;
  jobName?: string;
  trigger?: string;
  startTime?: string;
  outcome?: { result?: string; message?: string };
}
interface LastRun {
  id?: string;
  trigger?: string;
  startTime?: string;
  completionTime?: string;
  request?: string;
  result?: string;
  manifestsDeleted?: number;
  blobsDeleted?: number;
  bytesFreed?: number;
  readOnlySeconds?: number;
  message?: string;
}
const statusOf = (cr: KubeObject | undefined) =>
  (cr?.status ?? {}) as { operation?: Run; lastGarbageCollection?: LastRun };

/** The registry pods with their restart counts and uids (a roll or a restart changes them). */
async function registryPodIdentity(): Promise<string[]> {
  const pods = await readyPods(cluster, namespace, registrySelector);
  return pods
    .map((p) => {
      const statuses = (p.status?.['containerStatuses'] ?? []) as { restartCount?: number }[];
      return `${p.metadata.uid ?? ''}:${String(statuses[0]?.restartCount ?? 0)}`;
    })
    .sort();
}

/** Starts a run on demand (any new value of the annotation). */
async function requestRun(value: string): Promise<void> {
  await kubectl([
    '-n',
    namespace,
    'annotate',
    '--overwrite',
    'containerregistry',
    name,
    `berth.dev/garbage-collect=${value}`,
  ]);
}

/** Waits until the run for `request` is in `phase` (fails if the run is recorded first). */
async function waitForPhase(request: string, phase: string, timeoutMs = 300_000): Promise<Run> {
  return waitFor(
    `run ${request} in ${phase}`,
    async () => {
      const s = statusOf(await registryObject());
      if (s.lastGarbageCollection?.request === request && s.operation === undefined) {
        throw new Error(`the run ended before ${phase}: ${JSON.stringify(s.lastGarbageCollection)}`);
      }
      return s.operation?.phase === phase ? s.operation : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Waits until the run for `request` is over and recorded. */
async function waitRecorded(request: string, timeoutMs = 600_000): Promise<LastRun> {
  return waitFor(
    `run ${request} recorded`,
    async () => {
      const s = statusOf(await registryObject());
      return s.operation === undefined && s.lastGarbageCollection?.request === request
        ? s.lastGarbageCollection
        : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/**
 * The answer of every running registry pod, by its own address (not through the Service, which picks one), to
 * the start of a blob upload: 202 read-write, 405 read-only.
 */
async function uploadStatusByPod(auth?: Record<string, string>): Promise<Record<string, string>> {
  auth ??= await bearerFor(target, user, secret, 'repository:gc/keep:pull,push');
  const pods = (await listObjects(cluster, ['pods', '-n', namespace, '-l', registrySelector])).filter(
    (p) => p.metadata.deletionTimestamp === undefined && p.status?.['phase'] === 'Running',
  );
  assert.ok(pods.length > 0, 'registry pods');
  const answers: Record<string, string> = {};
  for (const pod of pods) {
    const ip = String(pod.status?.['podIP'] ?? '');
    const url = `http://${ip}:${String(ports.registry)}/v2/gc/keep/blobs/uploads/`;
    // Inside the cluster's network namespace, where the pod network is; the header from stdin, not argv.
    answers[pod.metadata.name] = await curlInNetns(url, auth['authorization'] ?? '');
  }
  return answers;
}

/** POST `url` with curl inside the cluster's network namespace; the HTTP status (or curl's failure). */
async function curlInNetns(url: string, authorization: string): Promise<string> {
  const res = await exec(
    'nsenter',
    [
      `--net=${cluster.state.netns.path}`,
      'curl',
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--max-time',
      '10',
      '-X',
      'POST',
      '-H',
      '@-',
      url,
    ],
    // The header from stdin: a token never goes on a command line.
    { input: `authorization: ${authorization}\n`, check: false, timeoutMs: 30_000 },
  );
  return res.code === 0 ? res.stdout.trim() : `curl exit ${String(res.code)}`;
}

/** The run left the registry read-write: the condition says so and every pod accepts an upload. */
async function assertReadWriteEverywhere(context: string): Promise<void> {
  const cr = await registryObject();
  assert.notEqual(conditionOf(cr, 'ReadOnly')?.status, 'True', `${context}: ReadOnly condition`);
  const answers = await uploadStatusByPod();
  const late = Object.entries(answers).filter(([, status]) => status !== '202');
  leftReadOnly += late.length;
  assert.deepEqual(late, [], `${context}: pods that do not accept an upload (status by pod)`);
}

async function manifestOf(repo: string, ref: string, auth: Record<string, string>) {
  const res = await ingressCall(target, 'GET', `/v2/${repo}/manifests/${ref}`, {
    ...auth,
    ...manifestAccept,
  });
  assert.equal(res.status, 200, res.body);
  const m = JSON.parse(res.body) as { config: { digest: string }; layers: { digest: string }[] };
  return {
    digest: res.headers['docker-content-digest'] ?? '',
    blobs: [m.config.digest, ...m.layers.map((l) => l.digest)],
  };
}

describe('garbage collection by the operator on a real cluster', { concurrency: false }, () => {
  before(async () => {
    env = await startBerthCluster(host, 'cluster-gc-e2e');
    ({ cluster, dockerd } = env);
  });

  after(async () => {
    await dockerd?.stop();
    await removeClientState();
    await cluster?.down();
  });

  test('the operator and a registry with two images, one of them untagged', async () => {
    ({ target, secret } = await installRegistry(env, {
      operatorNamespace,
      helmSet: { replicaCount: '2', 'maintenance.confirmTimeout': `${String(confirmTimeoutSeconds)}s` },
      namespace,
      name,
      host,
      user,
      scopes: ['read_registry', 'write_registry', 'delete_registry'],
      repositories: ['gc/**'],
      volume: { name: 'gc-data', size: '2Gi' },
      applyRegistry: () => applyRegistry(),
    }));
    for (const repo of ['keep', 'gone']) {
      await buildScratchImage(dockerd.docker, `${host}/gc/${repo}:v1`, 2, { layerBytes: 2 * 1024 * 1024 });
      await dockerd.docker(['push', `${host}/gc/${repo}:v1`], { timeoutMs: 300_000 });
    }
  });

  test('an annotation starts a run: read-only while it collects (pushes 405, pulls work), no pod restarts; then the blobs are gone and status has the figures', async () => {
    const auth = await bearerFor(target, user, secret, 'repository:gc/gone:pull,push,delete');
    const keepAuth = await bearerFor(target, user, secret, 'repository:gc/keep:pull,push');
    const gone = await manifestOf('gc/gone', 'v1', auth);
    const kept = await manifestOf('gc/keep', 'v1', keepAuth);
    // Delete the tag only: the manifest stays, untagged, until the collector (deleteUntagged) removes it.
    const del = await ingressCall(target, 'DELETE', '/v2/gc/gone/manifests/v1', auth);
    assert.equal(del.status, 202, del.body);
    for (const blob of gone.blobs) {
      assert.equal((await ingressCall(target, 'HEAD', `/v2/gc/gone/blobs/${blob}`, auth)).status, 200);
    }
    const podsBefore = await registryPodIdentity();
    const started = Date.now();
    await requestRun('run-1');

    // Read-only proven on every pod: the operator has moved on to Collecting (or later).
    const seen = new Set<string>();
    await waitFor(
      'the run to be read-only (Collecting)',
      async () => {
        const cr = await registryObject();
        const phase = statusOf(cr).operation?.phase;
        if (phase !== undefined) seen.add(phase);
        return conditionOf(cr, 'ReadOnly')?.status === 'True' ? true : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 500 },
    );
    // The pull first: the push refused after it shows the pull happened inside the read-only window.
    await dockerd.docker(['rmi', `${host}/gc/keep:v1`]);
    await dockerd.docker(['pull', `${host}/gc/keep:v1`], { timeoutMs: 120_000 });
    const push = await ingressCall(target, 'POST', '/v2/gc/keep/blobs/uploads/', keepAuth);
    assert.equal(push.status, 405, `a push during the run: ${String(push.status)} ${push.body}`);
    assert.match(push.body, /read-only/);

    const last = await waitFor(
      'the run to finish',
      async () => {
        const s = statusOf(await registryObject());
        if (s.operation?.phase !== undefined) seen.add(s.operation.phase);
        return s.operation === undefined && s.lastGarbageCollection?.request === 'run-1'
          ? s.lastGarbageCollection
          : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 1_000 },
    );
    console.log(
      `garbage collection: ${JSON.stringify(last)}; phases seen ${[...seen].join(' → ')}; ${String((Date.now() - started) / 1000)} s from annotation to recorded`,
    );
    assert.equal(last.result, 'Succeeded', last.message);
    assert.ok((last.manifestsDeleted ?? 0) >= 1, 'the untagged manifest was deleted');
    assert.ok((last.blobsDeleted ?? 0) >= gone.blobs.length, 'its config and layers were deleted');
    assert.ok((last.bytesFreed ?? 0) >= 2 * 1024 * 1024, 'bytes freed counted');
    assert.ok((last.readOnlySeconds ?? 0) > 0, 'read-only seconds recorded');
    assert.ok((last.readOnlySeconds ?? 0) < 600 + 300, 'read-only within timeout + margin');

    // The registry is writable again, nothing restarted, the deleted image's blobs are gone, the kept image pulls.
    assert.notEqual(conditionOf(await registryObject(), 'ReadOnly')?.status, 'True');
    const again = await ingressCall(target, 'POST', '/v2/gc/keep/blobs/uploads/', keepAuth);
    assert.equal(again.status, 202, again.body);
    assert.deepEqual(await registryPodIdentity(), podsBefore, 'no registry pod restarted or rolled');
    for (const blob of gone.blobs) {
      assert.equal((await ingressCall(target, 'HEAD', `/v2/gc/gone/blobs/${blob}`, auth)).status, 404, blob);
    }
    assert.equal(
      (await ingressCall(target, 'GET', `/v2/gc/gone/manifests/${gone.digest}`, auth)).status,
      404,
    );
    for (const blob of kept.blobs) {
      assert.equal(
        (await ingressCall(target, 'HEAD', `/v2/gc/keep/blobs/${blob}`, keepAuth)).status,
        200,
        blob,
      );
    }
    await dockerd.docker(['rmi', `${host}/gc/keep:v1`]);
    await dockerd.docker(['pull', `${host}/gc/keep:v1`], { timeoutMs: 120_000 });
    const events = (await kubectl(['-n', namespace, 'get', 'events', '-o', 'json'])).stdout;
    assert.match(events, /GarbageCollectionSucceeded/);
  });
  test('faults: the operator killed (kill -9 of the leader) in each phase: every run ends recorded and the registry read-write', async () => {
    for (const phase of ['EnteringReadOnly', 'Collecting', 'LeavingReadOnly']) {
      const request = `kill-operator-in-${phase}`;
      await requestRun(request);
      await waitForPhase(request, phase);
      const leader = await leaderPod(cluster, operatorNamespace);
      await signalPod(cluster, operatorNamespace, leader, 'SIGKILL');
      faults.push(`operator ${leader} killed in ${phase}`);
      const last = await waitRecorded(request);
      console.log(`operator killed in ${phase}: ${JSON.stringify(last)}`);
      assert.ok(
        ['Succeeded', 'Failed', 'Aborted', 'TimedOut'].includes(last.result ?? ''),
        `${phase}: recorded ${String(last.result)}`,
      );
      await assertReadWriteEverywhere(`operator killed in ${phase}`);
    }
  });

  test('faults: the collector pod killed: the run is recorded as failed, the registry read-write', async () => {
    // This registry is small: its collector can finish within a second of starting, before the delete lands (it
    // did once in CI, and the run was rightly recorded Succeeded). The Job (kept for a day after it ends) tells
    // which happened: a Job that succeeded means the fault missed, and the run is asked for again.
    const attempts = 3;
    for (let attempt = 1; ; attempt++) {
      const request = `kill-collector-${String(attempt)}`;
      await requestRun(request);
      const op = await waitForPhase(request, 'Collecting');
      const job = jobObjectName(name, op.jobName ?? '');
      const pod = await waitFor(
        'the collector pod',
        async () =>
          (await listObjects(cluster, ['pods', '-n', namespace, '-l', jobPodSelector(job)]))[0]?.metadata
            .name,
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      await kubectl(['-n', namespace, 'delete', 'pod', pod, '--force', '--grace-period=0', '--wait=false']);
      const last = await waitRecorded(request);
      const jobStatus = (await getObject(cluster, ['job', '-n', namespace, job]))?.status ?? {};
      if (Number(jobStatus['succeeded'] ?? 0) > 0) {
        console.log(
          `collector finished before the kill (attempt ${String(attempt)}): ${JSON.stringify(last)}`,
        );
        assert.equal(last.result, 'Succeeded', 'a collector that finished is recorded as such');
        assert.ok(
          attempt < attempts,
          `the collector finished before the kill in ${String(attempts)} attempts`,
        );
        continue;
      }
      faults.push(`collector pod ${pod} killed`);
      console.log(`collector killed: ${JSON.stringify(last)}`);
      assert.equal(last.result, 'Failed', last.message);
      await assertReadWriteEverywhere('collector killed');
      return;
    }
  });

  test('faults: the collector past its timeout (it cannot be scheduled): recorded TimedOut, read-only no longer than the timeout and a bounded margin', async () => {
    await applyRegistry({ timeout: '1m' });
    const node = (await listObjects(cluster, ['nodes']))[0]?.metadata.name ?? '';
    await kubectl(['cordon', node]);
    let last: LastRun;
    try {
      await requestRun('timeout');
      faults.push('collector never scheduled (node cordoned) past its 1m timeout');
      last = await waitRecorded('timeout', 420_000);
    } finally {
      await kubectl(['uncordon', node]);
    }
    console.log(`collector timed out: ${JSON.stringify(last)}`);
    assert.equal(last.result, 'TimedOut', last.message);
    // Entering (bounded by the confirm timeout) + the Job's deadline + leaving (bounded by the confirm timeout).
    const bound = 60 + 2 * confirmTimeoutSeconds + 30;
    assert.ok(
      (last.readOnlySeconds ?? Infinity) <= bound,
      `read-only ${String(last.readOnlySeconds)}s > ${String(bound)}s`,
    );
    await assertReadWriteEverywhere('collector timed out');
    await applyRegistry();
  });

  test('faults: a registry pod that never confirms read-only: nothing collected, read-write restored, the status names the pod', async () => {
    const [stuck] = (await readyPods(cluster, namespace, registrySelector)).map((p) => p.metadata.name);
    assert.ok(stuck !== undefined);
    // The token first: once a pod is stopped, a request through the Ingress may land on it and hang.
    const auth = await bearerFor(target, user, secret, 'repository:gc/keep:pull,push');
    await signalPod(cluster, namespace, stuck, 'SIGSTOP');
    faults.push(`registry pod ${stuck} stopped (SIGSTOP) before entering read-only`);
    let op: Run;
    try {
      // The stopped pod no longer answers (curl times out), while the other one still does.
      const answers = await uploadStatusByPod(auth);
      console.log(`after SIGSTOP of ${stuck}: ${JSON.stringify(answers)}`);
      assert.match(answers[stuck] ?? '', /^curl exit/, `the stopped pod answered ${String(answers[stuck])}`);
      await requestRun('stuck-pod');
      op = await waitForPhase('stuck-pod', 'LeavingReadOnly', (confirmTimeoutSeconds + 120) * 1000);
    } finally {
      await signalPod(cluster, namespace, stuck, 'SIGCONT');
    }
    const last = await waitRecorded('stuck-pod');
    console.log(`registry pod never read-only: ${JSON.stringify(last)}`);
    assert.equal(last.result, 'Failed', last.message);
    assert.ok(last.message?.includes(stuck), `the message names ${stuck}: ${String(last.message)}`);
    const condition = conditionOf(await registryObject(), 'GarbageCollecting');
    assert.ok(
      condition?.message?.includes(stuck) === true,
      `the condition names ${stuck}: ${String(condition?.message)}`,
    );
    const job = await getObject(cluster, ['job', '-n', namespace, jobObjectName(name, op.jobName ?? '')]);
    assert.equal(job, undefined, 'no collector Job was created');
    await assertReadWriteEverywhere('a pod never confirmed read-only');
  });

  test('1,000 manifests, 500 of them untagged: one run collects them; read-only seconds reported', async () => {
    const auth = await bearerFor(target, user, secret, 'repository:gc/many:pull,push,delete');
    const count = 1000;
    const pushStarted = Date.now();
    await inParallel(count, 8, async (i) => {
      const created = new Date(i * 1000).toISOString();
      await pushApiImage(target, 'gc/many', `t${String(i)}`, auth, { created });
    });
    await inParallel(count / 2, 8, async (i) => {
      const del = await ingressCall(target, 'DELETE', `/v2/gc/many/manifests/t${String(i)}`, auth);
      assert.equal(del.status, 202, del.body);
    });
    console.log(
      `pushed ${String(count)} manifests and untagged ${String(count / 2)} in ${String((Date.now() - pushStarted) / 1000)} s`,
    );
    const started = Date.now();
    await requestRun('many');
    const last = await waitRecorded('many');
    console.log(
      `garbage collection of ${String(count)} manifests (${String(count / 2)} untagged): ${JSON.stringify(last)}; ` +
        `read-only ${String(last.readOnlySeconds)} s, ${String((Date.now() - started) / 1000)} s from annotation to recorded`,
    );
    assert.equal(last.result, 'Succeeded', last.message);
    assert.ok(
      (last.manifestsDeleted ?? 0) >= count / 2,
      `manifests deleted: ${String(last.manifestsDeleted)}`,
    );
    assert.ok((last.blobsDeleted ?? 0) >= count / 2, `config blobs deleted: ${String(last.blobsDeleted)}`);
    assert.ok(
      (last.readOnlySeconds ?? Infinity) <= 600 + 2 * confirmTimeoutSeconds,
      'within timeout + margin',
    );
    const kept = await ingressCall(target, 'HEAD', `/v2/gc/many/manifests/t${String(count - 1)}`, {
      ...auth,
      ...manifestAccept,
    });
    assert.equal(kept.status, 200);
    await assertReadWriteEverywhere('1,000 manifests');
  });

  test('schedule: no run outside the maintenance window; inside it runs start at the cron times, one run per time with two operator replicas', async () => {
    const lastBefore = statusOf(await registryObject()).lastGarbageCollection?.id;
    const closedHour = (new Date().getUTCHours() + 12) % 24;
    await applyRegistry({ schedule: '* * * * *' }, [
      { schedule: `0 ${String(closedHour)} * * *`, duration: '1m' },
    ]);
    const waiting = await waitFor(
      'a due run waiting for its window',
      async () => {
        const c = conditionOf(await registryObject(), 'GarbageCollecting');
        return c?.reason === 'Waiting' && /maintenance window/.test(c.message ?? '') ? c : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1_000 },
    );
    // Across another cron time: still no run.
    await new Promise((r) => setTimeout(r, 65_000));
    const closed = statusOf(await registryObject());
    assert.equal(closed.operation, undefined, 'no run outside the window');
    assert.equal(closed.lastGarbageCollection?.id, lastBefore, 'no run recorded outside the window');
    console.log(`window closed: ${waiting.message}`);

    // A window that is always open: runs start at whole minutes. Watch for a while, both replicas running.
    const operators = await readyPods(cluster, operatorNamespace, 'app.kubernetes.io/name=berth');
    assert.equal(operators.length, 2, 'two operator replicas');
    const openedAt = Date.now();
    await applyRegistry({ schedule: '* * * * *' }, [{ schedule: '* * * * *', duration: '1h' }]);
    const runs = new Map<string, Run>();
    while (Date.now() - openedAt < 150_000) {
      const op = statusOf(await registryObject()).operation;
      if (op?.id !== undefined && !runs.has(op.id)) runs.set(op.id, op);
      await new Promise((r) => setTimeout(r, 500));
    }
    await applyRegistry();
    await waitFor(
      'the last scheduled run to end',
      async () => (statusOf(await registryObject()).operation === undefined ? true : undefined),
      {
        timeoutMs: 300_000,
        intervalMs: 1_000,
      },
    );
    const scheduled = [...runs.values()].filter((r) => r.trigger === 'Schedule');
    console.log(`scheduled runs: ${scheduled.map((r) => r.startTime).join(', ')}`);
    assert.ok(scheduled.length >= 2, `at least two scheduled runs in 150 s: ${String(scheduled.length)}`);
    // The first run is the one that was due while the window was closed: it starts when the window opens
    // (the apply lands anywhere in a minute). Every later one starts at its cron minute.
    const [first, ...later] = scheduled;
    const afterOpening = (Date.parse(first?.startTime ?? '') - openedAt) / 1000;
    assert.ok(
      afterOpening <= 15,
      `the waiting run started ${String(afterOpening)} s after the window opened`,
    );
    for (const r of later) {
      const seconds = new Date(r.startTime ?? '').getUTCSeconds();
      assert.ok(seconds <= 15, `run ${String(r.id)} started ${String(seconds)} s after its cron minute`);
    }
    // One start per run: the Events of every replica, and one collector Job per run.
    const events = (await listObjects(cluster, ['events', '-n', namespace])).filter(
      (e) => (e as { reason?: string }).reason === 'GarbageCollectionStarted',
    );
    const jobs = await listObjects(cluster, ['jobs', '-n', namespace]);
    for (const r of scheduled) {
      const starts = events.filter((e) =>
        String((e as { message?: string }).message ?? '').startsWith(`${String(r.id)} `),
      );
      assert.equal(starts.length, 1, `run ${String(r.id)} started once: ${JSON.stringify(starts)}`);
      const own = jobs.filter((j) => j.metadata.name === jobObjectName(name, r.jobName ?? ''));
      assert.equal(own.length, 1, `run ${String(r.id)} has one Job`);
    }
  });

  test('fault count: every injected fault left the registry read-write', () => {
    console.log(
      `faults injected: ${String(faults.length)} (${faults.join('; ')}); times left read-only: ${String(leftReadOnly)}`,
    );
    assert.ok(faults.length >= 6, `faults injected: ${String(faults.length)}`);
    assert.equal(leftReadOnly, 0);
  });
});
