// Storage migration run by the operator, end to end on a real single-node cluster (test/harness/cluster.ts):
// the operator (two replicas, one leads) from the image built from the working tree, a ContainerRegistry with
// two pods on a generated ReadWriteMany claim, and a real MinIO on the host end of the cluster's veth pair,
// where the pods reach it. Images are pushed with a real Docker engine through the Ingress before a change of
// spec.storage and while the migration is Syncing (a closed maintenance window holds it there: read-only
// phases only start in a window). filesystem → S3, then S3 → filesystem back into the claim that still holds
// the old data (the final sync deletes what the source no longer has). After each: every image pulls with its
// digest unchanged, status.storage names the new backend, config.yml names it, the pods' heartbeat records are
// in it (and in no other backend), the backend holds the blobs. Then the faults: spec.storage reverted while
// Syncing (Aborted), MinIO killed mid-pass (fails or retries, the registry read-write on the source, never
// empty), the migration Job's pod deleted mid-pass (the pass is retried), the operator's leader SIGKILLed in
// Syncing and in a read-only phase: each ends read-write on exactly one consistent backend with every image.
// The fault targets have a request-rate limit (maxRequestsPerSecond), so a pass lasts long enough to cut.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { load } from 'js-yaml';
import { buildScratchImage, removeClientState } from '../harness/clients.ts';
import { berthImage } from '../harness/cluster-images.ts';
import { paths } from '../harness/cluster-config.ts';
import {
  installRegistry,
  leaderPod,
  signalPod,
  startBerthCluster,
  type BerthCluster,
} from '../harness/berth-on-cluster.ts';
import type { Cluster } from '../harness/cluster.ts';
import type { Dockerd } from '../harness/dockerd.ts';
import { tail } from '../harness/exec.ts';
import { bearerFor, ingressCall, pushApiImage, type IngressTarget } from '../harness/ingress-api.ts';
import { conditionOf, getObject, listObjects, readyPods, type KubeObject } from '../harness/kube.ts';
import { startMinio, type Minio } from '../harness/minio.ts';
import { inParallel } from '../harness/parallel.ts';
import {
  blobDigests,
  describeBackend,
  freshHeartbeats,
  hasTagLink,
  type Backend,
} from '../harness/registry-storage.ts';
import { waitFor } from '../harness/wait.ts';
import { operationLabel } from '../../operator/operations/pod-template-job.ts';
import { containerName, jobObjectName } from '../../operator/operations/storage-migration/job.ts';
import { childNames, labelKeys } from '../../operator/render/names.ts';

const namespace = 'migration';
const operatorNamespace = 'berth-system';
const host = 'migration.berth.test';
const name = 'registry';
const registrySelector = `app.kubernetes.io/instance=${name},app.kubernetes.io/component=registry`;
const migrationPodSelector = `${operationLabel}=storage-migration,${labelKeys.registry}=${name}`;
const user = 'migration-bot';
const bucket = 'berth-migration';
const keysSecret = 'minio-keys';
const volumeName = 'migration-data';
/** Small images pushed through the API too: passes have some hundreds of objects to copy. */
const manyRepo = 'migration/many';
const manyCount = 100;
/** maxRequestsPerSecond of the fault targets: a pass of those objects then takes tens of seconds. */
const slowTargetRps = 40;
const manifestAccept = {
  accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
};
const readOnlyPhases = ['EnteringReadOnly', 'FinalSync', 'Switching', 'SwitchingBack'] as const;

let env: BerthCluster;
let cluster: Cluster;
let dockerd: Dockerd;
let minio: Minio;
let target: IngressTarget;
let secret = '';

/** Images pushed with docker (repo:tag under the host) → their manifest digest and blobs. */
const images = new Map<string, { digest: string; blobs: string[] }>();
/** Tags of manyRepo → manifest digest. */
const apiImages = new Map<string, string>();
/** Faults injected; images not pulled intact after one (must stay empty). */
const faults: string[] = [];
const lost: string[] = [];
/** Every backend the registry was pointed at (checked for stray heartbeats). */
const backendsUsed = new Map<string, Where>();

const kubectl = (args: readonly string[], input?: string) =>
  cluster.kubectl(args, input === undefined ? {} : { input });
const apply = (obj: unknown) =>
  kubectl(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], JSON.stringify(obj));
const registryObject = () => getObject(cluster, ['containerregistry', '-n', namespace, name]);

type Where = { kind: 'filesystem' } | { kind: 's3'; root: string; slow?: boolean };
const onFilesystem: Where = { kind: 'filesystem' };
const onS3 = (root: string, slow = false): Where => ({ kind: 's3', root, slow });
const describeWhere = (w: Where) =>
  w.kind === 'filesystem' ? 'filesystem (generated claim)' : `s3 ${w.root}`;

function storageSpec(w: Where): Record<string, unknown> {
  if (w.kind === 'filesystem') {
    return { filesystem: { size: '2Gi', accessMode: 'ReadWriteMany' }, delete: true };
  }
  return {
    s3: {
      bucket,
      endpoint: minio.endpoint,
      region: minio.region,
      forcePathStyle: true,
      rootDirectory: w.root,
      credentialsSecretRef: {
        name: keysSecret,
        accessKeyIdKey: 'accessKey',
        secretAccessKeyKey: 'secretKey',
      },
      ...(w.slow === true ? { maxRequestsPerSecond: slowTargetRps } : {}),
    },
    delete: true,
  };
}

function backendOf(w: Where): Backend {
  return w.kind === 'filesystem'
    ? { kind: 'filesystem', dir: path.join(paths(cluster.dir).volumes, volumeName) }
    : { kind: 's3', minio, bucket, root: w.root };
}

/**
 * The ContainerRegistry, applied whole (server-side apply: a field left out is removed). `windowClosed`: a
 * maintenance window that is not open now, so a migration stays in Syncing (read-only phases wait for one).
 */
function applyRegistry(w: Where, opts: { windowClosed?: boolean } = {}) {
  backendsUsed.set(describeWhere(w), w);
  const closedHour = (new Date().getUTCHours() + 12) % 24;
  return apply({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'ContainerRegistry',
    metadata: { name, namespace },
    spec: {
      replicas: 2,
      storage: storageSpec(w),
      ingress: { enabled: true, className: 'traefik', host, tls: {} },
      auth: { accessTokensFrom: { matchLabels: { 'berth.dev/access-tokens': 'registry' } } },
      ...(opts.windowClosed === true
        ? { maintenanceWindows: [{ schedule: `0 ${String(closedHour)} * * *`, duration: '1m' }] }
        : {}),
      resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '768Mi' } },
    },
  });
}

interface Operation {
  type?: string;
  id?: string;
  phase?: string;
  syncPasses?: number;
  jobName?: string;
  failures?: number;
  message?: string;
}
interface StorageIdentity {
  driver?: string;
  description?: string;
  hash?: string;
}
interface LastMigration {
  id?: string;
  result?: string;
  startTime?: string;
  completionTime?: string;
  from?: StorageIdentity;
  to?: StorageIdentity;
  objectsCopied?: number;
  bytesCopied?: number;
  readOnlySeconds?: number;
  passes?: number;
  message?: string;
}
interface Status {
  operation?: Operation;
  lastMigration?: LastMigration;
  storage?: Record<string, unknown>;
  readOnly?: boolean;
}
const statusOf = (cr: KubeObject | undefined) => (cr?.status ?? {}) as Status;
/** status.operation when it is a storage migration. */
const migrationOf = (s: Status) => (s.operation?.type === 'StorageMigration' ? s.operation : undefined);

/** What the status says, for failure messages. */
function statusSummary(cr: KubeObject | undefined): string {
  const s = statusOf(cr);
  const conditions = (cr?.status?.['conditions'] ?? []) as {
    type: string;
    status: string;
    reason?: string;
  }[];
  return JSON.stringify({
    operation: s.operation,
    lastMigration: s.lastMigration,
    storage: s.storage,
    conditions: conditions.map((c) => `${c.type}=${c.status}/${c.reason ?? ''}`),
  });
}

/** waitFor, with the registry's status in the error when it times out or gives up. */
async function waitWithStatus<T>(
  what: string,
  probe: (cr: KubeObject | undefined) => T | undefined,
  opts: {
    timeoutMs: number;
    intervalMs?: number;
    giveUp?: (cr: KubeObject | undefined) => string | undefined;
  },
): Promise<T> {
  let last: KubeObject | undefined;
  let reason: string | undefined;
  try {
    return await waitFor(
      what,
      async () => {
        last = await registryObject();
        reason = opts.giveUp?.(last);
        return reason === undefined ? probe(last) : undefined;
      },
      { timeoutMs: opts.timeoutMs, intervalMs: opts.intervalMs ?? 250, abort: () => reason },
    );
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}; status: ${statusSummary(last)}`, { cause: err });
  }
}

/** Waits until a storage migration is in one of `phases`; fails if one ends (a new lastMigration) first. */
function waitForPhase(
  phases: readonly string[],
  lastIdBefore: string | undefined,
  timeoutMs = 180_000,
): Promise<Operation> {
  return waitWithStatus(
    `a storage migration in ${phases.join(' or ')}`,
    (cr) => {
      const op = migrationOf(statusOf(cr));
      return op?.phase !== undefined && phases.includes(op.phase) ? op : undefined;
    },
    {
      timeoutMs,
      intervalMs: 100,
      giveUp: (cr) => {
        const s = statusOf(cr);
        return migrationOf(s) === undefined && s.lastMigration?.id !== lastIdBefore
          ? `a migration ended before ${phases.join(' or ')}: ${JSON.stringify(s.lastMigration)}`
          : undefined;
      },
    },
  );
}

/** Waits until migration `id` is over and recorded in status.lastMigration; the phases seen on the way. */
async function waitEnded(
  id: string,
  timeoutMs = 480_000,
): Promise<{ last: LastMigration; phases: string[]; readOnlySeen: boolean }> {
  const phases: string[] = [];
  let readOnlySeen = false;
  const last = await waitWithStatus(
    `migration ${id} recorded in status.lastMigration`,
    (cr) => {
      const s = statusOf(cr);
      const op = migrationOf(s);
      if (op?.phase !== undefined && phases.at(-1) !== op.phase) phases.push(op.phase);
      if (conditionOf(cr, 'ReadOnly')?.status === 'True') readOnlySeen = true;
      return op?.id !== id && s.lastMigration?.id === id ? s.lastMigration : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
  return { last, phases, readOnlySeen };
}

/** The running pods of the migration's Jobs (container `migrate` started), by name. */
async function runningMigrationPods(): Promise<string[]> {
  const pods = await listObjects(cluster, ['pods', '-n', namespace, '-l', migrationPodSelector]);
  return pods
    .filter((p) => {
      const statuses = (p.status?.['containerStatuses'] ?? []) as {
        name: string;
        state?: { running?: unknown };
      }[];
      return (
        p.metadata.deletionTimestamp === undefined &&
        statuses.some((c) => c.name === containerName && c.state?.running !== undefined)
      );
    })
    .map((p) => p.metadata.name);
}

/** Waits for a migration pod running its `migrate` container, other than those in `except`. */
function waitRunningMigrationPod(except: ReadonlySet<string> = new Set(), timeoutMs = 180_000) {
  return waitFor(
    'a running migration pod (container migrate)',
    async () => (await runningMigrationPods()).find((p) => !except.has(p)),
    { timeoutMs, intervalMs: 100 },
  );
}

/** The manifest digest docker recorded for `ref` when it pushed or pulled it. */
async function repoDigest(ref: string): Promise<string | undefined> {
  const res = await dockerd.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', ref], {
    check: false,
  });
  if (res.code !== 0) return undefined;
  const repo = ref.slice(0, ref.lastIndexOf(':'));
  const digests = JSON.parse(res.stdout) as string[] | null;
  return digests?.find((d) => d.startsWith(`${repo}@`))?.split('@')[1];
}

const imageRef = (repoTag: string) => `${host}/${repoTag}`;
const repoOf = (repoTag: string) => repoTag.slice(0, repoTag.lastIndexOf(':'));

/** Builds a small image of fresh content (two layers), ready to push. */
async function buildImage(repoTag: string): Promise<void> {
  await buildScratchImage(dockerd.docker, imageRef(repoTag), 2, { layerBytes: 64 * 1024 });
}

/** Pushes a built image with docker through the Ingress and records its digest and blobs. */
async function dockerPush(repoTag: string): Promise<void> {
  const ref = imageRef(repoTag);
  await dockerd.docker(['push', ref], { timeoutMs: 300_000 });
  const digest = await repoDigest(ref);
  assert.ok(digest !== undefined, `no repo digest for ${ref}`);
  const auth = await bearerFor(target, user, secret, `repository:${repoOf(repoTag)}:pull`);
  const res = await ingressCall(target, 'GET', `/v2/${repoOf(repoTag)}/manifests/${digest}`, {
    ...auth,
    ...manifestAccept,
  });
  assert.equal(res.status, 200, res.body);
  const m = JSON.parse(res.body) as { config: { digest: string }; layers: { digest: string }[] };
  images.set(repoTag, { digest, blobs: [m.config.digest, ...m.layers.map((l) => l.digest)] });
}

/**
 * Every image pushed so far pulls with docker after `docker rmi`, with its digest unchanged, and every API
 * image's tag names its manifest. What does not is counted as lost (and fails the test).
 */
async function verifyEveryImage(context: string): Promise<void> {
  const missing: string[] = [];
  for (const [repoTag, image] of images) {
    const ref = imageRef(repoTag);
    await dockerd.docker(['rmi', ref], { check: false });
    const pull = await dockerd.docker(['pull', ref], { timeoutMs: 180_000, check: false });
    if (pull.code !== 0) {
      missing.push(`${repoTag}: docker pull failed: ${tail(pull.stderr, 500)}`);
      continue;
    }
    const digest = await repoDigest(ref);
    if (digest !== image.digest) missing.push(`${repoTag}: pulled ${String(digest)}, pushed ${image.digest}`);
  }
  const auth = await bearerFor(target, user, secret, `repository:${manyRepo}:pull`);
  const tags = [...apiImages.entries()];
  await inParallel(tags.length, 8, async (i) => {
    const [tag, digest] = tags[i] ?? ['', ''];
    const res = await ingressCall(target, 'HEAD', `/v2/${manyRepo}/manifests/${tag}`, {
      ...auth,
      ...manifestAccept,
    });
    if (res.status !== 200 || res.headers['docker-content-digest'] !== digest) {
      missing.push(
        `${manyRepo}:${tag}: HTTP ${String(res.status)} ${String(res.headers['docker-content-digest'])}`,
      );
    }
  });
  lost.push(...missing.map((m) => `${context}: ${m}`));
  assert.deepEqual(missing, [], `${context}: images not pulled intact`);
}

/** Starts a blob upload through the Ingress: 202 read-write, 405 read-only. */
async function uploadStatus(): Promise<number> {
  const auth = await bearerFor(target, user, secret, 'repository:migration/probe:pull,push');
  return (await ingressCall(target, 'POST', '/v2/migration/probe/blobs/uploads/', auth)).status;
}

/** The storage section of the registry's config.yml (from its ConfigMap). */
async function renderedStorage(): Promise<Record<string, Record<string, unknown> | undefined>> {
  const cm = await getObject(cluster, ['configmap', '-n', namespace, childNames(name).config]);
  const text = ((cm as { data?: Record<string, string> } | undefined)?.data ?? {})['config.yml'] ?? '';
  const config = load(text) as { storage?: Record<string, Record<string, unknown> | undefined> } | null;
  return config?.storage ?? {};
}

/**
 * The registry serves from `w` and only from it, read-write: every registry pod keeps a fresh read-write
 * heartbeat in it and none in any other backend used, uploads start (through the Ingress; the Service picks
 * pods, so several tries); then the status: no migration runs, status.storage and config.yml name `w`.
 */
async function assertServingFrom(w: Where, context: string): Promise<void> {
  // The pods' own word: heartbeats in the backend they run on (a rolled-away pod's record goes stale or is
  // removed within 30 s).
  const others = [...backendsUsed.values()].filter((o) => describeWhere(o) !== describeWhere(w));
  const placement = await waitFor(
    `${context}: every registry pod's heartbeat in ${describeWhere(w)} and none elsewhere`,
    async () => {
      const pods = (await readyPods(cluster, namespace, registrySelector)).map((p) => p.metadata.name).sort();
      const here = await freshHeartbeats(backendOf(w));
      const hosts = [...new Set(here.map((h) => h.hostname))].sort();
      const stray: string[] = [];
      for (const o of others) {
        for (const h of await freshHeartbeats(backendOf(o)))
          stray.push(`${h.hostname} in ${describeWhere(o)}`);
      }
      const ok =
        pods.length === 2 &&
        JSON.stringify(hosts) === JSON.stringify(pods) &&
        here.every((h) => !h.readOnly) &&
        stray.length === 0;
      return ok ? { pods, stray } : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 2_000 },
  ).catch(async (err: unknown) => {
    const here = await freshHeartbeats(backendOf(w));
    const pods = (await readyPods(cluster, namespace, registrySelector)).map((p) => p.metadata.name);
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}: pods ${JSON.stringify(pods)}, heartbeats in ` +
        `${describeBackend(backendOf(w))}: ${JSON.stringify(here)}`,
      { cause: err },
    );
  });
  for (let i = 0; i < 4; i++) {
    assert.equal(
      await uploadStatus(),
      202,
      `${context}: an upload through the Ingress (try ${String(i + 1)})`,
    );
  }
  // What the status says.
  const cr = await registryObject();
  const s = statusOf(cr);
  assert.equal(migrationOf(s), undefined, `${context}: a migration still runs: ${statusSummary(cr)}`);
  assert.notEqual(conditionOf(cr, 'ReadOnly')?.status, 'True', `${context}: ReadOnly condition`);
  const migrating = conditionOf(cr, 'Migrating');
  assert.equal(migrating?.status, 'False', `${context}: Migrating condition ${JSON.stringify(migrating)}`);
  const storage = s.storage ?? {};
  const rendered = await renderedStorage();
  if (w.kind === 'filesystem') {
    assert.ok(storage['filesystem'] !== undefined, `${context}: status.storage ${JSON.stringify(storage)}`);
    assert.equal(storage['s3'], undefined, `${context}: status.storage ${JSON.stringify(storage)}`);
    assert.ok(
      rendered['filesystem'] !== undefined,
      `${context}: config.yml storage ${JSON.stringify(rendered)}`,
    );
    assert.equal(rendered['s3'], undefined, `${context}: config.yml storage ${JSON.stringify(rendered)}`);
  } else {
    const s3 = storage['s3'] as { bucket?: string; rootDirectory?: string; endpoint?: string } | undefined;
    assert.equal(s3?.bucket, bucket, `${context}: status.storage ${JSON.stringify(storage)}`);
    assert.equal(s3.rootDirectory, w.root, `${context}: status.storage ${JSON.stringify(storage)}`);
    assert.equal(storage['filesystem'], undefined, `${context}: status.storage ${JSON.stringify(storage)}`);
    assert.equal(rendered['s3']?.['bucket'], bucket, `${context}: config.yml ${JSON.stringify(rendered)}`);
    assert.equal(
      rendered['s3']?.['rootdirectory'],
      w.root,
      `${context}: config.yml ${JSON.stringify(rendered)}`,
    );
    assert.equal(rendered['filesystem'], undefined, `${context}: config.yml ${JSON.stringify(rendered)}`);
  }
  console.log(`${context}: serving from ${describeWhere(w)} with pods ${placement.pods.join(', ')}`);
}

/** The operation printer column (OPERATION: the phase) as `kubectl get containerregistry` shows it. */
async function printedPhase(): Promise<string | undefined> {
  const out = (await kubectl(['-n', namespace, 'get', 'containerregistry', name])).stdout.trim().split('\n');
  const header = (out[0] ?? '').split(/\s{2,}/);
  const row = (out[1] ?? '').split(/\s{2,}/);
  const at = header.indexOf('OPERATION');
  return at < 0 ? undefined : row[at];
}

/**
 * Changes spec.storage to `to` with the window closed, waits for Syncing, pushes `during` with docker while
 * the phase stays Syncing, opens the window and waits for the record. The source keeps serving meanwhile.
 */
async function migrateWithPushes(
  from: Where,
  to: Where,
  during: readonly string[],
  context: string,
): Promise<LastMigration> {
  for (const repoTag of during) await buildImage(repoTag);
  const lastIdBefore = statusOf(await registryObject()).lastMigration?.id;
  const started = Date.now();
  await applyRegistry(to, { windowClosed: true });
  const op = await waitForPhase(['Syncing'], lastIdBefore);
  assert.match(op.id ?? '', /^mig-\d{14}/, `operation id ${String(op.id)}`);
  const syncing = await registryObject();
  assert.equal(conditionOf(syncing, 'Migrating')?.reason, 'Syncing', statusSummary(syncing));
  const served = statusOf(syncing).storage ?? {};
  assert.ok(
    served[from.kind] !== undefined,
    `${context}: status.storage during Syncing: ${JSON.stringify(served)}`,
  );
  assert.equal(await printedPhase(), 'Syncing', 'the Operation printer column');

  for (const repoTag of during) await dockerPush(repoTag);
  const still = migrationOf(statusOf(await registryObject()));
  assert.equal(still?.id, op.id, `${context}: the same migration runs after the pushes`);
  assert.equal(still?.phase, 'Syncing', `${context}: pushed while Syncing`);
  console.log(`${context}: pushed ${during.join(', ')} while ${String(op.id)} was Syncing`);

  await applyRegistry(to);
  const { last, phases, readOnlySeen } = await waitEnded(op.id ?? '');
  const total = (Date.now() - started) / 1000;
  console.log(
    `${context}: ${JSON.stringify(last)}; phases ${phases.join(' → ')}; ReadOnly condition seen: ${String(readOnlySeen)}`,
  );
  console.log(
    `${context}: read-only ${String(last.readOnlySeconds)} s, ${String(total)} s from the spec change to the record ` +
      `(the window was held closed for the pushes)`,
  );
  assert.equal(last.result, 'Succeeded', last.message);
  assert.equal(last.from?.driver, from.kind);
  assert.equal(last.to?.driver, to.kind);
  assert.ok((last.passes ?? 0) >= 2, `passes: ${String(last.passes)} (online and final)`);
  assert.ok((last.readOnlySeconds ?? 0) > 0, 'read-only seconds recorded');
  assert.ok((last.readOnlySeconds ?? Infinity) <= 600, 'read-only within the default budget (10m)');
  return last;
}

describe('storage migration by the operator on a real cluster', { concurrency: false }, () => {
  before(async () => {
    env = await startBerthCluster(host, 'cluster-migration-e2e');
    ({ cluster, dockerd } = env);
    // On the host end of the cluster's veth pair: the pods reach it there (as they reach the API server).
    minio = await startMinio({ address: cluster.state.netns.hostAddress });
    await minio.createBucket(bucket);
  });

  after(async () => {
    await minio?.stop();
    await dockerd?.stop();
    await removeClientState();
    await cluster?.down();
  });

  test('the operator, a registry on a generated claim with images pushed by docker, and MinIO reachable from the pods', async () => {
    ({ target, secret } = await installRegistry(env, {
      operatorNamespace,
      helmSet: { replicaCount: '2', 'maintenance.confirmTimeout': '40s' },
      namespace,
      name,
      host,
      user,
      scopes: ['read_registry', 'write_registry', 'delete_registry'],
      repositories: ['migration/**'],
      volume: { name: volumeName, size: '2Gi' },
      applyRegistry: () => applyRegistry(onFilesystem),
    }));
    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: keysSecret, namespace },
      stringData: { accessKey: minio.accessKey, secretKey: minio.secretKey },
    });
    // A pod of the Berth image fetches MinIO's health endpoint: the pod network reaches it.
    const probe = 'minio-probe';
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: probe, namespace },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'probe',
            image: berthImage,
            imagePullPolicy: 'Never',
            command: [
              'node',
              '-e',
              `fetch(${JSON.stringify(`${minio.endpoint}/minio/health/ready`)}, { signal: AbortSignal.timeout(10000) })` +
                '.then((r) => { console.log(r.status); process.exit(r.status === 200 ? 0 : 1); }, (e) => { console.log(String(e)); process.exit(2); })',
            ],
          },
        ],
      },
    });
    const phase = await waitFor(
      'the MinIO probe pod to finish',
      async () => {
        const p = String(
          (await getObject(cluster, ['pod', '-n', namespace, probe]))?.status?.['phase'] ?? '',
        );
        return p === 'Succeeded' || p === 'Failed' ? p : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const log = (await kubectl(['-n', namespace, 'logs', probe], undefined)).stdout.trim();
    assert.equal(phase, 'Succeeded', `MinIO ${minio.endpoint} from a pod: ${log}`);
    await kubectl(['-n', namespace, 'delete', 'pod', probe, '--wait=false']);

    for (const repoTag of ['migration/pre-a:v1', 'migration/pre-b:v1', 'migration/extra:v1']) {
      await buildImage(repoTag);
      await dockerPush(repoTag);
    }
    const auth = await bearerFor(target, user, secret, `repository:${manyRepo}:pull,push`);
    await inParallel(manyCount, 8, async (i) => {
      apiImages.set(`t${String(i)}`, await pushApiImage(target, manyRepo, `t${String(i)}`, auth));
    });
    await assertServingFrom(onFilesystem, 'before any migration');
  });

  test('filesystem → S3 (MinIO): images pushed before and while Syncing all pull with their digests; status, config.yml, the pods and the bucket are on S3', async () => {
    const to = onS3('/e2e');
    await migrateWithPushes(
      onFilesystem,
      to,
      ['migration/during-1a:v1', 'migration/during-1b:v1'],
      'filesystem → S3',
    );
    await assertServingFrom(to, 'after filesystem → S3');
    const held = await blobDigests(backendOf(to));
    const absent = [...images.values()].flatMap((i) => i.blobs).filter((b) => !held.has(b));
    assert.deepEqual(absent, [], `blobs missing from MinIO ${bucket}/e2e (of ${String(held.size)} there)`);
    await verifyEveryImage('after filesystem → S3');
  });

  test('S3 → filesystem: back into the generated claim that still holds the old data; the final sync deletes what S3 no longer has', async () => {
    // A tag deleted on S3: the claim still has it from before the first migration.
    const auth = await bearerFor(target, user, secret, 'repository:migration/extra:pull,push,delete');
    const del = await ingressCall(target, 'DELETE', '/v2/migration/extra/manifests/v1', auth);
    assert.equal(del.status, 202, del.body);
    images.delete('migration/extra:v1');
    const fs = backendOf(onFilesystem);
    assert.equal(await hasTagLink(fs, 'migration/extra', 'v1'), true, 'the claim still holds the old tag');

    await migrateWithPushes(onS3('/e2e'), onFilesystem, ['migration/during-2a:v1'], 'S3 → filesystem');
    await assertServingFrom(onFilesystem, 'after S3 → filesystem');
    assert.equal(
      await hasTagLink(fs, 'migration/extra', 'v1'),
      false,
      'the extra tag was deleted from the claim',
    );
    const gone = await ingressCall(target, 'GET', '/v2/migration/extra/manifests/v1', {
      ...auth,
      ...manifestAccept,
    });
    assert.equal(gone.status, 404, `the deleted tag after migrating back: ${String(gone.status)}`);
    const held = await blobDigests(fs);
    const absent = [...images.values()].flatMap((i) => i.blobs).filter((b) => !held.has(b));
    assert.deepEqual(absent, [], 'blobs missing from the claim');
    await verifyEveryImage('after S3 → filesystem');
  });

  test('faults: spec.storage reverted while Syncing: recorded Aborted, read-write on the source', async () => {
    const lastIdBefore = statusOf(await registryObject()).lastMigration?.id;
    await applyRegistry(onS3('/aborted', true), { windowClosed: true });
    const op = await waitForPhase(['Syncing'], lastIdBefore);
    const pod = await waitRunningMigrationPod();
    await applyRegistry(onFilesystem);
    faults.push(`spec.storage reverted while Syncing (pass ${pod} running)`);
    const { last } = await waitEnded(op.id ?? '');
    console.log(`reverted while Syncing: ${JSON.stringify(last)}`);
    assert.equal(last.result, 'Aborted', last.message);
    await waitFor(
      'the aborted pass stopped',
      async () => ((await runningMigrationPods()).length === 0 ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    await assertServingFrom(onFilesystem, 'after the abort');
    await verifyEveryImage('after the abort');
  });

  test('faults: MinIO killed mid-pass: the migration fails or retries, the registry stays read-write on the source and never empty', async () => {
    const to = onS3('/unreachable', true);
    const lastIdBefore = statusOf(await registryObject()).lastMigration?.id;
    await applyRegistry(to, { windowClosed: true });
    const op = await waitForPhase(['Syncing'], lastIdBefore);
    const id = op.id ?? '';
    const pod = await waitRunningMigrationPod();
    await minio.kill();
    const killedAt = Date.now();
    faults.push(`MinIO killed while pass ${pod} ran`);
    const pullAuth = await bearerFor(target, user, secret, 'repository:migration/pre-a:pull');
    const preA = images.get('migration/pre-a:v1')?.digest;
    let outcome: string | undefined;
    try {
      // Until it fails, or has retried for a while: every few seconds the source serves read-write with its
      // images (status.storage names it, an upload starts, an image resolves to its digest).
      let checks = 0;
      let cr: KubeObject | undefined;
      while (outcome === undefined) {
        assert.ok(
          Date.now() - killedAt < 360_000,
          `MinIO down: neither failed nor retried within 6 min: ${statusSummary(cr)}`,
        );
        cr = await registryObject();
        const s = statusOf(cr);
        const running = migrationOf(s);
        if (running === undefined && s.lastMigration?.id === id) {
          outcome = `ended ${String(s.lastMigration.result)}`;
        } else if ((running?.failures ?? 0) >= 1 && Date.now() - killedAt > 45_000) {
          outcome = `retrying (failures ${String(running?.failures)}: ${String(running?.message)})`;
        }
        const served = s.storage ?? {};
        assert.ok(
          served['filesystem'] !== undefined,
          `status.storage while MinIO is down: ${JSON.stringify(served)}`,
        );
        assert.equal(await uploadStatus(), 202, 'an upload while MinIO is down');
        const head = await ingressCall(target, 'HEAD', '/v2/migration/pre-a/manifests/v1', {
          ...pullAuth,
          ...manifestAccept,
        });
        assert.equal(head.status, 200, 'an image while MinIO is down');
        assert.equal(head.headers['docker-content-digest'], preA);
        checks++;
        if (outcome === undefined) await sleep(3_000);
      }
      console.log(
        `MinIO down: ${outcome}; the source served read-write with its images at ${String(checks)} checks`,
      );
      assert.ok(
        outcome.startsWith('ended Failed') || outcome.startsWith('retrying'),
        `MinIO down: ${outcome} (${statusSummary(cr)})`,
      );
    } finally {
      await minio.restart();
    }
    // Back to the source spec: a retrying run aborts, a failed one has nothing left to do.
    await applyRegistry(onFilesystem);
    const last = await waitWithStatus(
      `migration ${id} over`,
      (cr) => {
        const s = statusOf(cr);
        return migrationOf(s) === undefined && s.lastMigration?.id === id ? s.lastMigration : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 1_000 },
    );
    console.log(`MinIO killed mid-pass: ${JSON.stringify(last)}`);
    assert.ok(['Failed', 'Aborted'].includes(last.result ?? ''), `recorded ${String(last.result)}`);
    await assertServingFrom(onFilesystem, 'after MinIO was unreachable');
    await verifyEveryImage('after MinIO was unreachable');
  });

  test('faults: the Job pod deleted mid-pass (the pass is retried), the operator SIGKILLed in Syncing and in a read-only phase: read-write on one consistent backend', async () => {
    const to = onS3('/faults', true);
    const lastIdBefore = statusOf(await registryObject()).lastMigration?.id;
    await applyRegistry(to, { windowClosed: true });
    const op = await waitForPhase(['Syncing'], lastIdBefore);
    const id = op.id ?? '';
    const first = await waitRunningMigrationPod();
    const jobBefore = migrationOf(statusOf(await registryObject()))?.jobName;
    await kubectl(['-n', namespace, 'delete', 'pod', first, '--force', '--grace-period=0', '--wait=false']);
    faults.push(`migration pod ${first} (Job ${jobObjectName(name, jobBefore ?? '?')}) deleted mid-pass`);

    // The operator runs the pass again (a new pod), still Syncing.
    const second = await waitRunningMigrationPod(new Set([first]), 300_000);
    const retried = migrationOf(statusOf(await registryObject()));
    console.log(`pass retried: pod ${second}, job ${String(retried?.jobName)} (was ${String(jobBefore)})`);
    assert.equal(retried?.id, id);
    assert.equal(retried.phase, 'Syncing');

    // The leader killed while the retried pass runs: the next leader adopts the pass and completes it.
    const leader1 = await leaderPod(cluster, operatorNamespace);
    await signalPod(cluster, operatorNamespace, leader1, 'SIGKILL');
    faults.push(`operator ${leader1} SIGKILLed in Syncing (pass ${second} running)`);
    const synced = await waitWithStatus(
      'a completed pass after the operator restart',
      (cr) => {
        const s = migrationOf(statusOf(cr));
        return s?.id === id && (s.syncPasses ?? 0) >= 1 ? s : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1_000 },
    );
    assert.equal(synced.phase, 'Syncing', 'held in Syncing by the closed window');

    // Open the window; kill the leader again once the fleet is read-only.
    await applyRegistry(to);
    const ro = await waitForPhase(readOnlyPhases, lastIdBefore, 300_000);
    const leader2 = await leaderPod(cluster, operatorNamespace);
    await signalPod(cluster, operatorNamespace, leader2, 'SIGKILL');
    faults.push(`operator ${leader2} SIGKILLed in ${String(ro.phase)}`);
    const { last, phases } = await waitEnded(id, 600_000);
    console.log(`faults migration: ${JSON.stringify(last)}; phases ${phases.join(' → ')}`);
    assert.ok(['Succeeded', 'Failed'].includes(last.result ?? ''), `recorded ${String(last.result)}`);
    // Succeeded: on the target; Failed: back on the source. Either way, one backend, every image.
    const where = last.result === 'Succeeded' ? to : onFilesystem;
    await assertServingFrom(where, `after the faults migration (${String(last.result)})`);
    await verifyEveryImage('after the faults migration');
  });

  test('fault count: every injected fault left every image in place', () => {
    console.log(
      `faults injected: ${String(faults.length)} (${faults.join('; ')}); images lost: ${String(lost.length)}` +
        (lost.length > 0 ? ` (${lost.join('; ')})` : ''),
    );
    assert.ok(faults.length >= 5, `faults injected: ${String(faults.length)}`);
    assert.deepEqual(lost, []);
  });
});
