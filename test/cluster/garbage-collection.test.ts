// Garbage collection run by the operator, end to end on a real single-node cluster (test/harness/cluster.ts):
// the operator from the image built from the working tree, a ContainerRegistry on a volume, two images pushed
// with a real Docker engine through the Ingress, one tag deleted through the registry API, then a run started
// with the berth.dev/garbage-collect annotation. During the run pushes are refused (405) while pulls work,
// the registry pods are never restarted; afterwards the deleted image's blobs are gone, the kept image pulls,
// writes work again, and status.lastGarbageCollection holds the figures and the read-only seconds.
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildScratchImage, removeClientState } from '../harness/clients.ts';
import { clusterUp, type Cluster } from '../harness/cluster.ts';
import { berthImage, buildBerthImage, helmInstallBerth, saveImages } from '../harness/cluster-images.ts';
import { startDockerd, type Dockerd } from '../harness/dockerd.ts';
import { bearerFor, ingressCall, type IngressTarget } from '../harness/ingress-api.ts';
import {
  applyAccessTokenSecret,
  conditionOf,
  getObject,
  readyPods,
  type KubeObject,
} from '../harness/kube.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { waitFor } from '../harness/wait.ts';

const namespace = 'gc';
const host = 'gc.berth.test';
const name = 'registry';
const user = 'gc-bot';
const manifestAccept = {
  accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
};

let cluster: Cluster;
let dockerd: Dockerd;
let work: string;
let secret = '';
let target: IngressTarget;

const kubectl = (args: readonly string[], input?: string) =>
  cluster.kubectl(args, input === undefined ? {} : { input });
const apply = (obj: unknown) =>
  kubectl(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], JSON.stringify(obj));
const registryObject = () => getObject(cluster, ['containerregistry', '-n', namespace, name]);

interface Run {
  phase?: string;
}
interface LastRun {
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
  const pods = await readyPods(
    cluster,
    namespace,
    `app.kubernetes.io/instance=${name},app.kubernetes.io/component=registry`,
  );
  return pods
    .map((p) => {
      const statuses = (p.status?.['containerStatuses'] ?? []) as { restartCount?: number }[];
      return `${p.metadata.uid ?? ''}:${String(statuses[0]?.restartCount ?? 0)}`;
    })
    .sort();
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
    work = await makeTempDir('cluster-gc-e2e');
    dockerd = await startDockerd({ hosts: { [host]: '0.0.0.0' }, trustedRegistries: {} });
    [cluster] = await Promise.all([clusterUp(), buildBerthImage(dockerd, work)]);
    const hostsFile = path.join(dockerd.dir, 'hosts');
    await writeFile(
      hostsFile,
      (await readFile(hostsFile, 'utf8')).replaceAll('0.0.0.0', cluster.ingressAddress),
    );
    const archive = path.join(work, 'berth.tar');
    await saveImages(dockerd, [berthImage], archive);
    await cluster.importImages(archive);
  });

  after(async () => {
    await dockerd?.stop();
    await removeClientState();
    await cluster?.down();
  });

  test('the operator and a registry with two images, one of them untagged', async () => {
    await helmInstallBerth(cluster.helm, 'berth-system');
    await kubectl(['create', 'namespace', namespace]);
    secret = await applyAccessTokenSecret(cluster, {
      namespace,
      secretName: 'gc-tokens',
      label: 'registry',
      user,
      scopes: ['read_registry', 'write_registry', 'delete_registry'],
      repositories: ['gc/**'],
      file: path.join(work, 'access-tokens.yml'),
    });
    await cluster.createLocalVolume('gc-data', '2Gi');
    await apply({
      apiVersion: 'berth.dev/v1alpha1',
      kind: 'ContainerRegistry',
      metadata: { name, namespace },
      spec: {
        storage: { filesystem: { size: '2Gi', accessMode: 'ReadWriteMany' }, delete: true },
        ingress: { enabled: true, className: 'traefik', host, tls: {} },
        auth: { accessTokensFrom: { matchLabels: { 'berth.dev/access-tokens': 'registry' } } },
        garbageCollection: { deleteUntagged: true, timeout: '10m' },
        resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '768Mi' } },
      },
    });
    await waitFor(
      'ContainerRegistry Ready',
      async () => (conditionOf(await registryObject(), 'Ready')?.status === 'True' ? true : undefined),
      { timeoutMs: 420_000, intervalMs: 2_000 },
    );
    const ingress = await getObject(cluster, ['ingress', '-n', namespace, name]);
    const tlsSecret = ((ingress?.spec?.['tls'] ?? []) as { secretName?: string }[])[0]?.secretName ?? '';
    const tls = (await getObject(cluster, ['secret', '-n', namespace, tlsSecret])) as
      { data?: Record<string, string> } | undefined;
    const ca = Buffer.from(tls?.data?.['tls.crt'] ?? '', 'base64').toString('utf8');
    target = { address: cluster.ingressAddress, host, ca };
    const certDir = path.join(dockerd.dir, 'etc-docker', 'certs.d', host);
    await mkdir(certDir, { recursive: true });
    await writeFile(path.join(certDir, 'ca.crt'), ca);
    await waitFor(
      'docker login',
      async () =>
        (
          await dockerd.docker(['login', host, '-u', user, '--password-stdin'], {
            input: secret,
            check: false,
          })
        ).code === 0
          ? true
          : undefined,
      { timeoutMs: 120_000, intervalMs: 2_000 },
    );
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
    await kubectl([
      '-n',
      namespace,
      'annotate',
      'containerregistry',
      name,
      'berth.dev/garbage-collect=run-1',
    ]);

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
});
