// What the test cluster may change on the host, read before it starts so teardown can put it back, and a
// snapshot of the host that the hygiene test compares before `up` and after `down`.
import { existsSync } from 'node:fs';
import { readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exec } from './exec.ts';

/** Kernel settings kubelet rewrites (protectKernelDefaults off) and teardown restores. */
export const kubeletSysctls = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
] as const;

/**
 * Fixed host paths that kubelet, containerd, libcni or `ip netns` create whatever flags they get. Teardown
 * removes the ones that did not exist before, and in the others only what the cluster added.
 */
export const fixedHostPaths = [
  '/var/lib/kubelet',
  '/var/log/containers',
  '/var/log/pods',
  '/var/lib/cni',
  '/run/containerd',
  '/run/netns',
] as const;

function sysctlFile(key: string): string {
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

export async function readSysctls(keys: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const k of keys) out[k] = (await readFile(sysctlFile(k), 'utf8')).trim();
  return out;
}

export async function writeSysctls(values: Record<string, string>): Promise<void> {
  for (const [k, v] of Object.entries(values)) {
    if ((await readFile(sysctlFile(k), 'utf8')).trim() !== v) await writeFile(sysctlFile(k), `${v}\n`);
  }
}

/** Mount points of the host's mount namespace (decoded), in mount order. */
export async function mountPoints(): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => m !== undefined && m !== '')
    .map((m) => m.replace(/\\040/g, ' '));
}

/** Every file and folder below `dir` (relative, sorted); [] when it does not exist. */
async function tree(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true }).catch(() => []);
  return entries.map(String).sort();
}

/** The cgroup hierarchies mounted under /sys/fs/cgroup (cpu, memory, ..., unified). */
export async function cgroupHierarchies(): Promise<string[]> {
  return (await mountPoints())
    .filter((m) => m.startsWith('/sys/fs/cgroup/'))
    .map((m) => m.slice('/sys/fs/cgroup/'.length))
    .filter((m) => m !== '' && !m.includes('/'));
}

export interface HostSnapshot {
  sysctls: Record<string, string>;
  links: string[];
  netns: string[];
  mounts: string[];
  cgroups: Record<string, string[]>;
  paths: Record<string, string[] | 'absent'>;
  iptables: string[];
}

/**
 * Names that belong to some test cluster (its namespace, veth pair, cgroup root, CNI network, folders). The
 * snapshot leaves them out, so a developer's `npm run cluster -- up` running beside the tests does not count
 * as a change; `clusterLeftovers` checks one cluster's own names instead.
 */
const anyCluster = /berth-k8s-\d+|^bk\d+[hn]$|\/berth-cluster-|\/\.cache\/cluster\b/;

async function linkTarget(file: string): Promise<string> {
  return readlink(file).catch(() => '');
}

/** The host state a test cluster could leave changed, less what belongs to any running test cluster. */
export async function hostSnapshot(): Promise<HostSnapshot> {
  const keep = (name: string): boolean => !anyCluster.test(name);
  const links = (await exec('/usr/sbin/ip', ['-o', 'link', 'show'], { timeoutMs: 10_000 })).stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined && keep(n))
    .sort();
  const netns = (await netnsNames()).filter(keep);
  const cgroups: Record<string, string[]> = {};
  for (const h of await cgroupHierarchies()) {
    const entries = await readdir(path.join('/sys/fs/cgroup', h), { withFileTypes: true });
    cgroups[h] = entries
      .filter((e) => e.isDirectory() && keep(e.name))
      .map((e) => e.name)
      .sort();
  }
  const paths: Record<string, string[] | 'absent'> = {};
  for (const p of fixedHostPaths) {
    if (!existsSync(p)) {
      paths[p] = 'absent';
      continue;
    }
    const entries: string[] = [];
    for (const e of await tree(p)) {
      // /var/log/containers holds symlinks into a cluster's pod log folder; libcni's cache files in
      // /var/lib/cni/results name the pod's network namespace, in a cluster's folder.
      const file = path.join(p, e);
      const target = await linkTarget(file);
      const content =
        p === '/var/lib/cni' && e.startsWith('results/') ? await readFile(file, 'utf8').catch(() => '') : '';
      if (keep(e) && keep(target) && keep(content)) entries.push(e);
    }
    paths[p] = entries;
  }
  const iptables = (await exec('/usr/sbin/iptables-save', [], { check: false, timeoutMs: 30_000 })).stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''));
  return {
    sysctls: await readSysctls(kubeletSysctls),
    links,
    netns,
    mounts: (await mountPoints()).filter(keep).sort(),
    cgroups,
    paths,
    iptables,
  };
}

async function netnsNames(): Promise<string[]> {
  return (await exec('/usr/sbin/ip', ['netns', 'list'], { timeoutMs: 10_000 })).stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[0] ?? l)
    .sort();
}

/** Network namespaces of running test clusters. */
export async function runningClusters(): Promise<string[]> {
  return (await netnsNames()).filter((n) => /^berth-k8s-\d+$/.test(n));
}

/** What is left of one cluster (by its own names) after teardown; [] when nothing is. */
export async function clusterLeftovers(c: {
  dir: string;
  netns: { name: string; hostInterface: string };
  cgroupRoot: string;
  cniNetwork: string;
}): Promise<string[]> {
  const left: string[] = [];
  if ((await netnsNames()).includes(c.netns.name)) left.push(`network namespace ${c.netns.name}`);
  if (existsSync(`/sys/class/net/${c.netns.hostInterface}`)) left.push(`link ${c.netns.hostInterface}`);
  for (const h of await cgroupHierarchies()) {
    const dir = path.join('/sys/fs/cgroup', h, c.cgroupRoot);
    if (existsSync(dir)) left.push(`cgroup ${dir}`);
  }
  for (const m of await mountPoints()) if (m.startsWith(`${c.dir}/`) || m === c.dir) left.push(`mount ${m}`);
  for (const f of await readdir('/var/lib/cni/results').catch(() => [])) {
    const content = await readFile(path.join('/var/lib/cni/results', f), 'utf8').catch(() => '');
    if (f.startsWith(`${c.cniNetwork}-`) || content.includes(`${c.dir}/`))
      left.push(`/var/lib/cni/results/${f}`);
  }
  for (const f of await readdir('/var/log/containers').catch(() => [])) {
    if ((await linkTarget(path.join('/var/log/containers', f))).startsWith(c.dir))
      left.push(`/var/log/containers/${f}`);
  }
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(c.dir)) left.push(`process ${pid}: ${cmdline.replace(/\0/g, ' ').trim()}`);
  }
  if (existsSync(c.dir)) left.push(`folder ${c.dir}`);
  return left;
}
