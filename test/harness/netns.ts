// The test cluster's own network: a network namespace joined to the host by a veth pair. Every cluster
// daemon runs inside it (through `nsenter --net=`, not `ip netns exec`, whose private mount namespace would
// hide kubelet's volume mounts from containerd), pods hang off a CNI bridge inside it, and the host reaches
// it only through the veth pair. Traffic never leaves the machine: there is no default route in the
// namespace and nothing is routed from the host into it but the pair's own /30.
import { exec } from './exec.ts';

const ip = '/usr/sbin/ip';
const nsenter = '/usr/bin/nsenter';

export interface NetworkNamespace {
  /** `ip netns` name, e.g. berth-k8s-7 */
  name: string;
  /** /run/netns/<name> */
  path: string;
  /** The veth end on the host, and its address (the API server binds here). */
  hostInterface: string;
  hostAddress: string;
  /** The veth end in the namespace, and its address (the node's InternalIP and the Ingress address). */
  nsInterface: string;
  nsAddress: string;
}

/**
 * Command and arguments that run `file args` inside the namespace's network (and only its network), or also
 * inside the mount namespace kept at `mountNamespace`.
 */
export function inNamespace(
  ns: Pick<NetworkNamespace, 'path'>,
  file: string,
  args: readonly string[],
  mountNamespace?: string,
): [string, string[]] {
  const mount = mountNamespace !== undefined ? [`--mount=${mountNamespace}`] : [];
  return [nsenter, [`--net=${ns.path}`, ...mount, '--', file, ...args]];
}

/** Runs a command in the namespace and returns its stdout. */
export async function execInNamespace(
  ns: Pick<NetworkNamespace, 'path'>,
  file: string,
  args: readonly string[],
): Promise<string> {
  const [cmd, cmdArgs] = inNamespace(ns, file, args);
  return (await exec(cmd, cmdArgs, { timeoutMs: 30_000 })).stdout;
}

/**
 * Picks the first 10.210.<n>.0/30 that no interface on the host uses (so a developer's `npm run cluster up`
 * and a test run can coexist) and creates namespace berth-k8s-<n> with a veth pair in it.
 */
export async function createNetworkNamespace(): Promise<NetworkNamespace> {
  const [addrs, names] = await Promise.all([
    exec(ip, ['-4', '-o', 'addr', 'show'], { timeoutMs: 10_000 }).then((r) => r.stdout),
    exec(ip, ['netns', 'list'], { timeoutMs: 10_000 }).then((r) => r.stdout),
  ]);
  for (let n = 0; n < 64; n++) {
    const name = `berth-k8s-${String(n)}`;
    if (addrs.includes(`10.210.${String(n)}.`) || new RegExp(`^${name}\\b`, 'm').test(names)) continue;
    const ns: NetworkNamespace = {
      name,
      path: `/run/netns/${name}`,
      hostInterface: `bk${String(n)}h`,
      hostAddress: `10.210.${String(n)}.1`,
      nsInterface: `bk${String(n)}n`,
      nsAddress: `10.210.${String(n)}.2`,
    };
    try {
      await setUp(ns);
    } catch (err) {
      await deleteNetworkNamespace(ns);
      throw err;
    }
    return ns;
  }
  throw new Error('no free 10.210.<n>.0/30 for a test cluster (64 in use?): run `npm run cluster -- down`');
}

async function setUp(ns: NetworkNamespace): Promise<void> {
  const run = (args: string[]) => exec(ip, args, { timeoutMs: 10_000 });
  await run(['netns', 'add', ns.name]);
  await run(['link', 'add', ns.hostInterface, 'type', 'veth', 'peer', 'name', ns.nsInterface]);
  await run(['link', 'set', ns.nsInterface, 'netns', ns.name]);
  await run(['addr', 'add', `${ns.hostAddress}/30`, 'dev', ns.hostInterface]);
  await run(['link', 'set', ns.hostInterface, 'up']);
  const inNs = (args: string[]) => run(['-n', ns.name, ...args]);
  await inNs(['link', 'set', 'lo', 'up']);
  await inNs(['addr', 'add', `${ns.nsAddress}/30`, 'dev', ns.nsInterface]);
  await inNs(['link', 'set', ns.nsInterface, 'up']);
  // Per-namespace sysctls: pods reach Services (DNAT) and the API server (on the host end) through the
  // namespace's routing, and bridged pod traffic must pass iptables for kube-proxy's rules.
  await execInNamespace(ns, '/bin/sh', [
    '-c',
    'echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables',
  ]);
}

/** Deletes the namespace (and with it the veth pair and all iptables state in it). Idempotent. */
export async function deleteNetworkNamespace(
  ns: Pick<NetworkNamespace, 'name' | 'hostInterface'>,
): Promise<void> {
  await exec(ip, ['netns', 'delete', ns.name], { check: false, timeoutMs: 10_000 });
  // The pair goes with the namespace; a half-made one (failed set-up) may still have its host end.
  await exec(ip, ['link', 'delete', ns.hostInterface], { check: false, timeoutMs: 10_000 });
}
