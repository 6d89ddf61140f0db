// What the test cluster may change on the host, read before it starts so teardown can put it back, and a
// snapshot of the host that the hygiene test compares before `up` and after `down`.
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
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
  processes: string[];
}

/**
 * The host state a cluster could leave changed. `processesMatching` picks processes to list by command
 * line (the cluster's directory), so unrelated processes of a busy machine do not count.
 */
export async function hostSnapshot(processesMatching: string): Promise<HostSnapshot> {
  const links = (await exec('/usr/sbin/ip', ['-o', 'link', 'show'], { timeoutMs: 10_000 })).stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
  const netns = (await exec('/usr/sbin/ip', ['netns', 'list'], { timeoutMs: 10_000 })).stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[0] ?? l)
    .sort();
  const cgroups: Record<string, string[]> = {};
  for (const h of await cgroupHierarchies()) {
    const entries = await readdir(path.join('/sys/fs/cgroup', h), { withFileTypes: true });
    cgroups[h] = entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  }
  const paths: Record<string, string[] | 'absent'> = {};
  for (const p of fixedHostPaths) paths[p] = existsSync(p) ? await tree(p) : 'absent';
  const iptables = (await exec('/usr/sbin/iptables-save', [], { check: false, timeoutMs: 30_000 })).stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''));
  const processes: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(processesMatching)) processes.push(cmdline.replace(/\0/g, ' ').trim());
  }
  return {
    sysctls: await readSysctls(kubeletSysctls),
    links,
    netns,
    mounts: (await mountPoints()).sort(),
    cgroups,
    paths,
    iptables,
    processes: processes.sort(),
  };
}
