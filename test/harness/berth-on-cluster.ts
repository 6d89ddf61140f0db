// A Berth install on the test cluster, as the operation e2e tests need it: a Docker engine whose host name for
// the registry points at the cluster's Ingress, the Berth image built from the working tree (once for all the
// test files: berthImageArchive) and imported, the operator installed with helm, and one ContainerRegistry
// behind the Ingress with TLS, an access token and `docker login` done. Each test file gets its own cluster (and can build on this).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RegistryScope } from '../../registry/auth/grants.ts';
import { clusterUp, type Cluster } from './cluster.ts';
import { berthImageArchive, helmInstallBerth } from './cluster-images.ts';
import { startDockerd, type Dockerd } from './dockerd.ts';
import type { IngressTarget } from './ingress-api.ts';
import { applyAccessTokenSecret, conditionOf, getObject, listObjects } from './kube.ts';
import { makeTempDir } from './tmp.ts';
import { waitFor } from './wait.ts';

export interface BerthCluster {
  cluster: Cluster;
  dockerd: Dockerd;
  /** A scratch directory of the test. */
  work: string;
}

/** The cluster, a Docker engine resolving `host` to the Ingress, and the Berth image in the node. */
export async function startBerthCluster(host: string, name: string): Promise<BerthCluster> {
  const work = await makeTempDir(name);
  const dockerd = await startDockerd({ hosts: { [host]: '0.0.0.0' }, trustedRegistries: {} });
  const [cluster, archive] = await Promise.all([clusterUp(), berthImageArchive(dockerd, work)]);
  const hostsFile = path.join(dockerd.dir, 'hosts');
  await writeFile(
    hostsFile,
    (await readFile(hostsFile, 'utf8')).replaceAll('0.0.0.0', cluster.ingressAddress),
  );
  await cluster.importImages(archive);
  return { cluster, dockerd, work };
}

export interface RegistryInstall {
  /** The operator's release namespace. */
  operatorNamespace: string;
  /** `helm install --set` values. */
  helmSet?: Record<string, string>;
  namespace: string;
  name: string;
  host: string;
  user: string;
  scopes: readonly RegistryScope[];
  repositories: readonly string[];
  /** A local volume for the registry's claim (filesystem storage). */
  volume?: { name: string; size: string };
  /** Applies the ContainerRegistry (server-side apply, so later calls can change it). */
  applyRegistry: () => Promise<unknown>;
}

/** helm install, the registry Ready, TLS trusted by the engine, `docker login` done; the target and secret. */
export async function installRegistry(
  env: BerthCluster,
  o: RegistryInstall,
): Promise<{ target: IngressTarget; secret: string }> {
  const { cluster, dockerd } = env;
  await helmInstallBerth(cluster.helm, o.operatorNamespace, o.helmSet);
  await cluster.kubectl(['create', 'namespace', o.namespace]);
  const secret = await applyAccessTokenSecret(cluster, {
    namespace: o.namespace,
    secretName: `${o.name}-tokens`,
    label: 'registry',
    user: o.user,
    scopes: o.scopes,
    repositories: o.repositories,
    file: path.join(env.work, 'access-tokens.yml'),
  });
  if (o.volume !== undefined) await cluster.createLocalVolume(o.volume.name, o.volume.size);
  await o.applyRegistry();
  await waitFor(
    'ContainerRegistry Ready',
    async () => {
      const cr = await getObject(cluster, ['containerregistry', '-n', o.namespace, o.name]);
      return conditionOf(cr, 'Ready')?.status === 'True' ? true : undefined;
    },
    { timeoutMs: 420_000, intervalMs: 2_000 },
  );
  const ingress = await getObject(cluster, ['ingress', '-n', o.namespace, o.name]);
  const tlsSecret = ((ingress?.spec?.['tls'] ?? []) as { secretName?: string }[])[0]?.secretName ?? '';
  const tls = (await getObject(cluster, ['secret', '-n', o.namespace, tlsSecret])) as
    { data?: Record<string, string> } | undefined;
  const ca = Buffer.from(tls?.data?.['tls.crt'] ?? '', 'base64').toString('utf8');
  const certDir = path.join(dockerd.dir, 'etc-docker', 'certs.d', o.host);
  await mkdir(certDir, { recursive: true });
  await writeFile(path.join(certDir, 'ca.crt'), ca);
  await waitFor(
    'docker login',
    async () =>
      (
        await dockerd.docker(['login', o.host, '-u', o.user, '--password-stdin'], {
          input: secret,
          check: false,
        })
      ).code === 0
        ? true
        : undefined,
    { timeoutMs: 120_000, intervalMs: 2_000 },
  );
  return { target: { address: cluster.ingressAddress, host: o.host, ca }, secret };
}

/** The operator pod holding the leader Lease (its identity is `<pod name>_<random>`). */
export async function leaderPod(cluster: Cluster, operatorNamespace: string): Promise<string> {
  const leases = await listObjects(cluster, ['leases', '-n', operatorNamespace]);
  const lease = leases.find((l) => l.metadata.name.includes('leader'));
  const holder = String((lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? '');
  const pod = holder.split('_')[0] ?? '';
  if (pod === '') throw new Error(`no Lease holder in ${operatorNamespace}`);
  return pod;
}

/** Signals the main process of a pod's first container on the node (SIGKILL is `kill -9`). */
export async function signalPod(
  cluster: Cluster,
  namespace: string,
  pod: string,
  signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT',
): Promise<void> {
  const obj = await getObject(cluster, ['pod', '-n', namespace, pod]);
  const statuses = (obj?.status?.['containerStatuses'] ?? []) as { containerID?: string }[];
  const id = statuses[0]?.containerID;
  if (id === undefined || id === '') throw new Error(`${pod} has no container`);
  await cluster.signalContainer(id, signal);
}
