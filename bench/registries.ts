// The registries under test (Berth and the two references, Distribution 2.8 and v3.1), started through the
// test harness's launchers with one shared config overlay, so all run the same settings on a fresh temp
// root on the same disk.
import { readFileSync, readlinkSync } from 'node:fs';
import { startBerth } from '../test/harness/berth.ts';
import { startDistribution } from '../test/harness/distribution.ts';
import type { ConfigObject, RegistryKind, RunningRegistry } from '../test/harness/registry.ts';
import { BenchClient } from './http-client.ts';
import { registryMemoryLimitMiB } from '../operator/render/children/registry-resources.ts';

export const kinds = ['distribution', 'distribution-v3', 'berth'] as const satisfies readonly RegistryKind[];
/** The references Berth is compared with, oldest first. */
export const references = ['distribution', 'distribution-v3'] as const satisfies readonly RegistryKind[];
export type Reference = (typeof references)[number];
/** The list starting at its (n mod length)-th element: each registry goes first in turn. */
export function rotate<T>(list: readonly T[], n: number): T[] {
  const k = n % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
/** Report names of the registries. */
export const kindLabels: Record<RegistryKind, string> = {
  distribution: 'Distribution 2.8',
  'distribution-v3': 'Distribution v3.1',
  berth: 'Berth',
};
/** The registry binary each kind's server process runs (serverPid checks it). */
const serverExe: Record<Exclude<RegistryKind, 'berth'>, string> = {
  distribution: '/docker-registry',
  'distribution-v3': '/distribution-v3',
};

/**
 * Distribution's packaged config (Debian's /etc/docker/registry/config.yml, upstream's too) caches blob
 * descriptors in memory; Berth and Distribution v3.1 accept the same keys. Access logs are off because
 * Berth writes none: the bench measures serving, not logging (and the harness would buffer every log line
 * in this process).
 */
export const sharedConfig: ConfigObject = {
  log: { level: 'warn', accesslog: { disabled: true } },
  storage: { cache: { blobdescriptor: 'inmemory' } },
};

/**
 * Berth's heap limit in its pod. Node sizes V8's heap from the container's memory limit, half of it for the
 * old generation (the operator's default 1 GiB gives a 515 MiB heap limit, measured in a memory cgroup), and
 * V8 grows the old generation by a larger factor when the limit is large. The bench host has no limit (a 4099
 * MiB heap on 24 GiB), so without this flag the bench would measure a garbage collector tuned for a machine
 * the registry never runs on. The references are Go programs, which ignore the limit unless GOMEMLIMIT is set.
 */
export const berthPodHeapFlag = `--max-old-space-size=${String(registryMemoryLimitMiB / 2)}`;

export interface BenchRegistry<K extends RegistryKind = RegistryKind> {
  kind: K;
  running: RunningRegistry;
  client: BenchClient;
  /** The server process itself (checked: not a wrapper). */
  pid: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Berth only: write a V8 CPU profile into this directory when the server exits. */
  profileDir?: string | undefined;
  /** Berth only: NODE_COMPILE_CACHE, as the image sets it (filled by fillImageCompileCache). */
  compileCacheDir?: string | undefined;
}

export async function startRegistry(kind: RegistryKind, opts: StartOptions = {}): Promise<BenchRegistry> {
  const running =
    kind === 'berth'
      ? await startBerth({
          config: sharedConfig,
          env: {
            NODE_OPTIONS: [
              berthPodHeapFlag,
              ...(opts.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`]),
            ].join(' '),
            ...(opts.compileCacheDir === undefined ? {} : { NODE_COMPILE_CACHE: opts.compileCacheDir }),
          },
        })
      : await startDistribution({ config: sharedConfig, version: kind === 'distribution-v3' ? 3 : 2 });
  const client = new BenchClient(running.url);
  try {
    const pid = serverPid(running);
    return {
      kind,
      running,
      client,
      pid,
      async stop() {
        client.close();
        await running.stop();
      },
    };
  } catch (err) {
    client.close();
    await running.stop();
    throw err;
  }
}

/**
 * The pid whose memory is the server's. The harness execs the registry binary directly (node is an ELF
 * binary in node_modules, not a shell or npm wrapper); this proves it, so RSS is never read off a wrapper.
 */
function serverPid(running: RunningRegistry): number {
  const pid = running.process.pid;
  if (pid === undefined) throw new Error(`${running.kind}: no pid`);
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const exe = readlinkSync(`/proc/${pid}/exe`);
  const ok =
    running.kind === 'berth'
      ? /\/node(\s|$)/.test(exe) && cmdline.includes('registry/cli.ts') && cmdline.includes('serve')
      : exe.endsWith(serverExe[running.kind]) && cmdline.includes('serve');
  if (!ok) {
    throw new Error(
      `${running.kind}: pid ${pid} is not the registry server (exe ${exe}, cmdline ${cmdline.join(' ')})`,
    );
  }
  return pid;
}
