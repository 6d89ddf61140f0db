// A real single-node Kubernetes cluster for the end-to-end tests and for developers (`npm run cluster`):
// etcd + kube-apiserver (control-plane.ts), kubelet on Debian's containerd + runc, kube-controller-manager,
// kube-scheduler, kube-proxy, CoreDNS and Traefik as the Ingress controller, all built here
// (test/tools/install-*.sh). Nothing is pulled: the pause image is written in-process and other images are
// imported into containerd (`importImages`).
//
// Network: every daemon except etcd and kube-apiserver runs in a network namespace of its own (netns.ts);
// kube-apiserver listens on the host end of its veth pair, where both the host and the pods reach it.
// containerd and kubelet also share a mount namespace of their own whose /etc/hosts is the cluster's, so the
// node pulls from a registry behind the Ingress by its host name (`trustRegistry`), as a real node would
// through DNS; sharing it keeps kubelet's volume mounts visible to runc.
// Host hygiene: kubelet's per-cluster cgroup root, sysctls and the fixed paths it writes are recorded in the
// state file before anything starts, and `down` puts them back (host-state.ts lists what; a test checks it).
import { existsSync } from 'node:fs';
import {
  appendFile,
  chmod,
  mkdir,
  readFile,
  readdir,
  readlink,
  rm,
  rmdir,
  writeFile,
} from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import {
  clusterObjects,
  cniConfig,
  containerdConfig,
  corefile,
  kubeletConfig,
  kubeProxyConfig,
  localVolume,
  nodeName,
  paths,
  traefikArgs,
  traefikPingPort,
  type ClusterLayout,
} from './cluster-config.ts';
import { pauseImage, writePauseImageArchive } from './cluster-images.ts';
import { spawnLoggedDaemon, stopProcessGroup, type Daemon } from './daemon.ts';
import { exec, tail, type ExecOptions, type ExecResult } from './exec.ts';
import {
  cgroupHierarchies,
  fixedHostPaths,
  kubeletSysctls,
  mountPoints,
  readSysctls,
  writeSysctls,
} from './host-state.ts';
import {
  createNetworkNamespace,
  deleteNetworkNamespace,
  inNamespace,
  type NetworkNamespace,
} from './netns.ts';
import { makeTempDir } from './tmp.ts';
import { repoRoot, requireRoot } from './tools.ts';
import { waitFor } from './wait.ts';

const bin = path.join(repoRoot, '.cache/bin');
const binaries = {
  kubelet: path.join(bin, 'kubelet'),
  controllerManager: path.join(bin, 'kube-controller-manager'),
  scheduler: path.join(bin, 'kube-scheduler'),
  kubeProxy: path.join(bin, 'kube-proxy'),
  coredns: path.join(bin, 'coredns'),
  traefik: path.join(bin, 'traefik'),
  pause: path.join(bin, 'pause'),
  containerd: '/usr/bin/containerd',
  ctr: '/usr/bin/ctr',
  runc: '/usr/sbin/runc',
  cniBridge: '/usr/lib/cni/bridge',
} as const;

/** Everything `down` needs, written to <dir>/state.json before anything is changed. */
export interface ClusterState {
  dir: string;
  netns: NetworkNamespace;
  cgroupRoot: string;
  cniNetwork: string;
  /** Host sysctls as they were before kubelet started. */
  sysctls: Record<string, string>;
  /** fixedHostPaths entries that did not exist before `up` (removed whole by `down`). */
  absentPaths: string[];
  /** /run/netns was not a mount point before `up` (`ip netns add` makes it one). */
  netnsDirWasMounted: boolean;
  /** Process-group leaders, in start order (stopped in reverse). */
  pids: Record<string, number>;
  kubeconfigPath?: string;
  server?: string;
}

export interface Cluster {
  readonly state: ClusterState;
  readonly dir: string;
  /** Admin kubeconfig (token in the file). */
  readonly kubeconfigPath: string;
  /** Where the Ingress controller listens (ports 80 and 443), and the node's InternalIP. */
  readonly ingressAddress: string;
  readonly controlPlane: ControlPlane;
  kubectl(args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  helm(args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Imports a `docker save` / OCI archive into the node's containerd (namespace k8s.io). */
  importImages(archive: string): Promise<void>;
  /**
   * Lets the node pull from a registry served by the Ingress: `host` resolves to the Ingress address in the
   * node's /etc/hosts and containerd trusts `caPem` for it (hosts.toml). Pods then pull `host/repo:tag` the
   * normal way, with imagePullSecrets for credentials.
   */
  trustRegistry(host: string, caPem: string): Promise<void>;
  /** A hostPath PersistentVolume of class berth-local (the default class) for one claim. */
  createLocalVolume(name: string, size: string): Promise<void>;
  /**
   * Sends a signal to a container's main process through containerd, as `kill` on the node would (fault
   * injection: SIGKILL, SIGSTOP, SIGCONT). `containerId` as in a pod's status (`containerd://<id>` or bare).
   */
  signalContainer(containerId: string, signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'): Promise<void>;
  /** The tail of every component's log, for failure reports. */
  logs(maxBytesEach?: number): Promise<string>;
  down(): Promise<void>;
}

export interface ClusterOptions {
  /** Directory of the cluster (default: a fresh temp dir). `npm run cluster` uses .cache/cluster. */
  dir?: string;
  /** Daemons outlive this process (`npm run cluster -- up`); `down` is then run from the state file. */
  persistent?: boolean;
}

function checkInstalled(): void {
  const missing = Object.values(binaries).filter((b) => !existsSync(b));
  if (missing.length > 0) {
    throw new Error(
      `test cluster: missing ${missing.join(', ')}: run test/tools/install-system.sh ` +
        '(Debian containerd, runc, containernetworking-plugins; Go-built Kubernetes, CoreDNS and Traefik)',
    );
  }
}

async function saveState(state: ClusterState): Promise<void> {
  await writeFile(paths(state.dir).state, `${JSON.stringify(state, null, 2)}\n`);
}

export async function readClusterState(dir: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await readFile(paths(dir).state, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

/** Creates the per-cluster cgroup in every hierarchy (cpuset needs its cpus and mems before use). */
async function createCgroupRoot(name: string): Promise<void> {
  for (const h of await cgroupHierarchies()) {
    const dir = path.join('/sys/fs/cgroup', h, name);
    await mkdir(dir, { recursive: true });
    if (h === 'cpuset') {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        const parent = await readFile(path.join('/sys/fs/cgroup', h, f), 'utf8');
        await writeFile(path.join(dir, f), parent.trim());
      }
    }
  }
}

/** Kills every process in the cgroup tree and removes it, deepest first. */
async function removeCgroupRoot(name: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    let left = 0;
    for (const h of await cgroupHierarchies()) {
      const root = path.join('/sys/fs/cgroup', h, name);
      if (!existsSync(root)) continue;
      let entries;
      try {
        entries = await readdir(root, { recursive: true, withFileTypes: true });
      } catch {
        // kubelet or runc removed a cgroup while it was being listed: look again.
        left++;
        continue;
      }
      const dirs = [
        root,
        ...entries.filter((e) => e.isDirectory()).map((e) => path.join(e.parentPath, e.name)),
      ];
      for (const d of dirs) {
        const procs = await readFile(path.join(d, 'cgroup.procs'), 'utf8').catch(() => '');
        for (const pid of procs.split('\n').filter(Boolean)) {
          left++;
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
      if (left === 0) {
        for (const d of dirs.sort((a, b) => b.length - a.length)) await rmdir(d).catch(() => undefined);
      }
    }
    const remaining = (await cgroupHierarchies()).filter((h) =>
      existsSync(path.join('/sys/fs/cgroup', h, name)),
    );
    if (left === 0 && remaining.length === 0) break;
    await sleep(100);
  }
  for (const h of await cgroupHierarchies()) {
    const root = path.join('/sys/fs/cgroup', h, name);
    if (existsSync(root)) throw new Error(`cannot remove cgroup ${root}`);
  }
}

/**
 * A mount namespace kept by a bind mount of its nsfs file at `nsFile`, with `hostsFile` (a copy of the host's
 * /etc/hosts to start with) bind-mounted on /etc/hosts. Mounts made in it (kubelet's volumes, containers'
 * rootfs) stay in it and go with it; `unmountBelow` releases the nsfs file.
 */
async function createNodeMountNamespace(nsFile: string, hostsFile: string): Promise<void> {
  await mkdir(path.dirname(nsFile), { recursive: true });
  const base = await readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1 localhost\n');
  await writeFile(hostsFile, `${base.trimEnd()}\n`);
  await writeFile(nsFile, '');
  await exec(
    '/usr/bin/unshare',
    [`--mount=${nsFile}`, '--propagation=private', '/usr/bin/mount', '--bind', hostsFile, '/etc/hosts'],
    { timeoutMs: 30_000 },
  );
}

/** Unmounts everything below `dir`, deepest first (kubelet volumes, overlay rootfs, shm, pod netns). */
async function unmountBelow(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const mounts = (await mountPoints()).filter((m) => m === dir || m.startsWith(`${dir}/`)).reverse();
    if (mounts.length === 0) return;
    for (const m of mounts) await exec('/usr/bin/umount', ['-l', m], { check: false, timeoutMs: 30_000 });
  }
}

/** Processes whose command line mentions `needle` (containerd's shims outlive containerd). */
async function pidsMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) pids.push(Number(entry));
  }
  return pids;
}

/** Kills and deletes every task and container in containerd's k8s.io namespace (best effort). */
async function deleteAllTasks(socket: string): Promise<void> {
  if (!existsSync(socket)) return;
  const ctr = (args: readonly string[]) =>
    exec(binaries.ctr, ['--address', socket, '--namespace', 'k8s.io', ...args], {
      check: false,
      timeoutMs: 30_000,
    });
  const ids = (await ctr(['containers', 'list', '--quiet'])).stdout.split('\n').filter(Boolean);
  for (const id of ids) await ctr(['tasks', 'kill', '--all', '--signal', 'SIGKILL', id]);
  for (const id of ids) {
    await waitFor(
      `task ${id} to stop`,
      async () => {
        const r = await ctr(['tasks', 'delete', id]);
        return r.code === 0 || /not found/i.test(r.stderr) ? true : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    ).catch(() => undefined);
    await ctr(['containers', 'delete', id]);
  }
}

/**
 * Tears a cluster down from its state file: stops the daemons, kills every pod process and shim, unmounts,
 * removes the cgroups, the network namespace and what kubelet, containerd and libcni left in fixed host
 * paths, and restores the sysctls kubelet changed. Idempotent; safe on a half-made cluster.
 */
export async function teardownCluster(state: ClusterState): Promise<void> {
  const problems: string[] = [];
  const step = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  // kubelet first, so nothing restarts containers; kube-apiserver and etcd last.
  const order = Object.entries(state.pids).reverse();
  for (const [name, pid] of order) {
    if (name === 'containerd' || name === 'kube-apiserver' || name === 'etcd') continue;
    await step(`stop ${name}`, () => stopProcessGroup(pid, 10_000));
  }
  // Through containerd while it runs, so each shim exits the normal way and removes its socket in
  // /run/containerd/s (a fixed path); killing shims outright leaves the sockets behind.
  await step('delete containers', () => deleteAllTasks(paths(state.dir).containerdSocket));
  await step('kill pod processes', () => removeCgroupRoot(state.cgroupRoot));
  await step('stop shims', async () => {
    for (const pid of await pidsMentioning(paths(state.dir).containerdState)) {
      await stopProcessGroup(pid, 2_000);
    }
    for (const pid of await pidsMentioning(state.dir)) {
      if (
        pid !== state.pids['containerd'] &&
        pid !== state.pids['kube-apiserver'] &&
        pid !== state.pids['etcd']
      ) {
        await stopProcessGroup(pid, 2_000);
      }
    }
  });
  for (const name of ['containerd', 'kube-apiserver', 'etcd']) {
    const pid = state.pids[name];
    if (pid !== undefined) await step(`stop ${name}`, () => stopProcessGroup(pid, 10_000));
  }
  await step('unmount', () => unmountBelow(state.dir));
  await step('cgroups', () => removeCgroupRoot(state.cgroupRoot));
  await step('network namespace', async () => {
    await deleteNetworkNamespace(state.netns);
    if (!state.netnsDirWasMounted && existsSync('/run/netns')) {
      const left = await readdir('/run/netns');
      if (left.length === 0) await exec('/usr/bin/umount', ['/run/netns'], { check: false });
    }
  });
  await step('fixed host paths', () => cleanFixedPaths(state));
  await step('sysctls', () => writeSysctls(state.sysctls));
  if (problems.length > 0) throw new Error(`cluster teardown incomplete:\n${problems.join('\n')}`);
}

/** What the cluster left in paths kubelet, containerd and libcni write whatever they are told. */
async function cleanFixedPaths(state: ClusterState): Promise<void> {
  // Only the cluster's own entries where the path existed before: libcni's cache files are named after the
  // network, /var/log/containers symlinks point into the cluster's pod log dir.
  // libcni's cache files: the pod network's are named after it, the loopback network's ("cni-loopback-<id>-lo")
  // name the pod's namespace, which lives in this cluster's containerd state.
  const results = '/var/lib/cni/results';
  for (const f of await readdir(results).catch(() => [])) {
    const file = path.join(results, f);
    const mine =
      f.startsWith(`${state.cniNetwork}-`) ||
      (await readFile(file, 'utf8').catch(() => '')).includes(`${state.dir}/`);
    if (mine) await rm(file, { force: true });
  }
  for (const f of await readdir('/var/log/containers').catch(() => [])) {
    const link = path.join('/var/log/containers', f);
    const target = await readlink(link).catch(() => '');
    if (target.startsWith(state.dir)) await rm(link, { force: true });
  }
  // Another test cluster still running uses these too (they are fixed paths): it is left to remove them.
  if (await otherClusterRunning(state)) return;
  for (const p of state.absentPaths) {
    if (p === '/run/netns') {
      if (existsSync(p) && (await readdir(p)).length === 0) await rmdir(p).catch(() => undefined);
      continue;
    }
    await rm(p, { recursive: true, force: true });
  }
}

/** Whether a test cluster other than this one is up (its network namespace exists). */
async function otherClusterRunning(state: ClusterState): Promise<boolean> {
  const names = await readdir('/run/netns').catch(() => []);
  return names.some((n) => /^berth-k8s-\d+$/.test(n) && n !== state.netns.name);
}

export async function clusterUp(opts: ClusterOptions = {}): Promise<Cluster> {
  requireRoot('the test cluster');
  checkInstalled();
  const dir = opts.dir ?? (await makeTempDir('cluster'));
  const p = paths(dir);
  for (const d of [p.logs, p.cniConfDir, p.cniDataDir, p.kubeletRoot, p.kubeletCerts, p.podLogs, p.volumes]) {
    await mkdir(d, { recursive: true });
  }
  const persistent = opts.persistent === true;
  // Read before anything changes: `ip netns add` creates /run/netns and makes it a mount point.
  const absentPaths = fixedHostPaths.filter((f) => !existsSync(f));
  const netnsDirWasMounted = (await mountPoints()).includes('/run/netns');
  const sysctls = await readSysctls(kubeletSysctls);
  const netns = await createNetworkNamespace();
  const state: ClusterState = {
    dir,
    netns,
    cgroupRoot: netns.name,
    cniNetwork: netns.name,
    sysctls,
    absentPaths,
    netnsDirWasMounted,
    pids: {},
  };
  await saveState(state);

  const daemons: Daemon[] = [];
  const start = async (
    name: string,
    file: string,
    args: readonly string[],
    where: 'host' | 'netns' | 'node',
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<Daemon> => {
    const [cmd, cmdArgs] =
      where === 'host'
        ? [file, [...args]]
        : inNamespace(netns, file, args, where === 'node' ? p.nodeMountNamespace : undefined);
    const d = spawnLoggedDaemon(name, cmd, cmdArgs, {
      logFile: path.join(p.logs, `${name}.log`),
      env,
      persistent,
    });
    daemons.push(d);
    state.pids[name] = d.pid;
    await saveState(state);
    return d;
  };
  const abortIfExited = (d: Daemon) => () =>
    d.running() ? undefined : `${d.name} exited:\n${tail(d.output(), 4_000)}`;

  let controlPlane: ControlPlane | undefined;
  const down = async (): Promise<void> => {
    await teardownCluster(state);
    if (!persistent) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    await createCgroupRoot(state.cgroupRoot);

    // --- control plane on the host end of the veth pair
    controlPlane = await startControlPlane({
      dir: path.join(dir, 'control-plane'),
      address: netns.hostAddress,
      extraServingAltNames: [`IP:${netns.hostAddress}`],
      spawn: (name, file, args, env) => {
        const d = spawnLoggedDaemon(name, file, args, {
          logFile: path.join(p.logs, `${name}.log`),
          env,
          persistent,
        });
        state.pids[name] = d.pid;
        void saveState(state);
        return d;
      },
      apiserverArgs: [
        // A real `kubernetes` Service endpoint (the host end of the veth), for pods' in-cluster config.
        '--endpoint-reconciler-type=lease',
        '--kubelet-preferred-address-types=InternalIP',
      ],
    });
    state.kubeconfigPath = controlPlane.kubeconfigPath;
    state.server = controlPlane.server;
    await saveState(state);
    const cp = controlPlane;
    const pki = path.join(cp.dir, 'pki');

    const layout: ClusterLayout = {
      dir,
      nodeAddress: netns.nsAddress,
      cgroupRoot: `/${state.cgroupRoot}`,
      cniNetwork: state.cniNetwork,
      kubeconfigPath: cp.kubeconfigPath,
      containerdSocket: p.containerdSocket,
    };
    await mkdir(path.dirname(p.containerdConfig), { recursive: true });
    await writeFile(p.containerdConfig, containerdConfig(layout, pauseImage));
    await writeFile(path.join(p.cniConfDir, '10-berth.conflist'), cniConfig(layout));
    await writeFile(p.kubeletConfig, kubeletConfig(layout));
    await writeFile(p.kubeProxyConfig, kubeProxyConfig(layout));
    await writeFile(p.corefile, corefile(layout));
    await writeFile(p.resolvConf, `nameserver ${netns.nsAddress}\nsearch ${'cluster.local'}\n`);

    // --- the node's mount namespace, then containerd, and the pause image in it
    await createNodeMountNamespace(p.nodeMountNamespace, p.nodeHosts);
    const containerd = await start(
      'containerd',
      binaries.containerd,
      ['--config', p.containerdConfig],
      'node',
    );
    const ctr = (args: readonly string[], execOpts: ExecOptions = {}) =>
      exec(binaries.ctr, ['--address', layout.containerdSocket, '--namespace', 'k8s.io', ...args], {
        timeoutMs: 600_000,
        ...execOpts,
      });
    await waitFor(
      'containerd',
      async () => ((await ctr(['version'], { check: false })).code === 0 ? true : undefined),
      {
        timeoutMs: 60_000,
        intervalMs: 200,
        abort: abortIfExited(containerd),
      },
    );
    const pauseArchive = path.join(dir, 'pause.oci.tar');
    await writePauseImageArchive(pauseArchive);
    await ctr(['images', 'import', pauseArchive]);

    // --- kubelet
    const kubelet = await start(
      'kubelet',
      binaries.kubelet,
      [
        `--config=${p.kubeletConfig}`,
        `--kubeconfig=${cp.kubeconfigPath}`,
        `--root-dir=${p.kubeletRoot}`,
        `--cert-dir=${p.kubeletCerts}`,
        `--hostname-override=${nodeName}`,
        `--node-ip=${netns.nsAddress}`,
        // cAdvisor's stats come from this containerd, not a system one at the default socket.
        `--containerd=${layout.containerdSocket}`,
        // Never garbage-collect the sandbox image: it cannot be pulled back.
        `--pod-infra-container-image=${pauseImage}`,
        '--v=1',
      ],
      'node',
    );

    // --- the rest of the control plane, in the namespace on its loopback
    await start(
      'kube-controller-manager',
      binaries.controllerManager,
      [
        `--kubeconfig=${cp.kubeconfigPath}`,
        '--bind-address=127.0.0.1',
        `--cert-dir=${path.join(dir, 'controller-manager')}`,
        '--leader-elect=false',
        `--service-account-private-key-file=${path.join(pki, 'sa.key')}`,
        `--root-ca-file=${cp.caFile}`,
        '--use-service-account-credentials=false',
        '--cluster-name=berth-test',
        '--v=1',
      ],
      'netns',
    );
    await start(
      'kube-scheduler',
      binaries.scheduler,
      [`--kubeconfig=${cp.kubeconfigPath}`, '--bind-address=127.0.0.1', '--leader-elect=false', '--v=1'],
      'netns',
    );
    await start('kube-proxy', binaries.kubeProxy, [`--config=${p.kubeProxyConfig}`, '--v=1'], 'netns');
    const coredns = await start('coredns', binaries.coredns, ['-conf', p.corefile], 'netns');
    const traefik = await start('traefik', binaries.traefik, traefikArgs(layout), 'netns', {
      ...process.env,
      KUBECONFIG: cp.kubeconfigPath,
    });

    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: clusterObjects() }),
    });

    await waitFor(
      `node ${nodeName} Ready`,
      async () => {
        const res = await cp.kubectl(['get', 'node', nodeName, '-o', 'json'], { check: false });
        if (res.code !== 0) return undefined;
        const node = JSON.parse(res.stdout) as {
          status?: { conditions?: { type: string; status: string }[] };
        };
        return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
          ? true
          : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1_000, abort: abortIfExited(kubelet) },
    );
    await waitFor(
      'the default ServiceAccount and kube-root-ca.crt (controller-manager)',
      async () => {
        const sa = await cp.kubectl(['-n', 'default', 'get', 'serviceaccount', 'default'], { check: false });
        const ca = await cp.kubectl(['-n', 'default', 'get', 'configmap', 'kube-root-ca.crt'], {
          check: false,
        });
        return sa.code === 0 && ca.code === 0 ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    const resolver = new Resolver({ timeout: 1_000, tries: 1 });
    resolver.setServers([netns.nsAddress]);
    await waitFor(
      'CoreDNS to resolve kubernetes.default.svc.cluster.local',
      async () =>
        (await resolver.resolve4('kubernetes.default.svc.cluster.local')).length > 0 ? true : undefined,
      { timeoutMs: 60_000, intervalMs: 500, abort: abortIfExited(coredns) },
    );
    await waitFor(
      'Traefik /ping',
      async () => {
        const res = await fetch(`http://${netns.nsAddress}:${String(traefikPingPort)}/ping`, {
          signal: AbortSignal.timeout(2_000),
        });
        return res.ok ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, abort: abortIfExited(traefik) },
    );

    const logs = async (maxBytesEach = 6_000): Promise<string> => {
      const files = await readdir(p.logs).catch(() => []);
      const parts: string[] = [];
      for (const f of files.sort()) {
        const text = await readFile(path.join(p.logs, f), 'utf8').catch(() => '');
        parts.push(`--- ${f}\n${tail(text, maxBytesEach)}`);
      }
      return parts.join('\n');
    };

    return {
      state,
      dir,
      kubeconfigPath: cp.kubeconfigPath,
      ingressAddress: netns.nsAddress,
      controlPlane: cp,
      kubectl: cp.kubectl,
      helm: cp.helm,
      importImages: async (archive) => {
        await ctr(['images', 'import', '--no-unpack=false', archive]);
      },
      trustRegistry: async (host, caPem) => {
        const hostDir = path.join(p.registryHostsDir, host);
        await mkdir(hostDir, { recursive: true });
        await writeFile(path.join(hostDir, 'ca.crt'), caPem);
        await writeFile(
          path.join(hostDir, 'hosts.toml'),
          `server = "https://${host}"\n\n[host."https://${host}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${path.join(hostDir, 'ca.crt')}"\n`,
        );
        // appendFile keeps the inode the node's bind mount shows.
        await appendFile(p.nodeHosts, `${netns.nsAddress} ${host}\n`);
      },
      createLocalVolume: async (name, size) => {
        const hostPath = path.join(p.volumes, name);
        await mkdir(hostPath, { recursive: true });
        // The registry runs as a non-root user and hostPath volumes ignore fsGroup.
        await chmod(hostPath, 0o777);
        await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(localVolume(name, hostPath, size)) });
      },
      signalContainer: async (containerId, signal) => {
        await ctr(['tasks', 'kill', '--signal', signal, containerId.replace(/^containerd:\/\//, '')]);
      },
      logs,
      down,
    };
  } catch (err) {
    const report: string[] = daemons.map((d) => `--- ${d.name}\n${tail(d.output(), 3_000)}`);
    await down().catch((e: unknown) => report.push(String(e)));
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`test cluster did not come up: ${message}\n${report.join('\n')}`, { cause: err });
  }
}

/** Tears down the cluster whose state file is in `dir` (`npm run cluster -- down`). */
export async function clusterDown(dir: string): Promise<boolean> {
  const state = await readClusterState(dir);
  if (state === undefined) return false;
  await teardownCluster(state);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  return true;
}
