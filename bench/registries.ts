// The two registries under test, started through the test harness's launchers with one shared config
// overlay, so both run the same settings on a fresh temp root on the same disk.
import { readFileSync, readlinkSync } from 'node:fs';
import { startBerth } from '../test/harness/berth.ts';
import { startDistribution } from '../test/harness/distribution.ts';
import type { ConfigObject, RegistryKind, RunningRegistry } from '../test/harness/registry.ts';
import { BenchClient } from './http-client.ts';

export const kinds = ['distribution', 'berth'] as const satisfies readonly RegistryKind[];

/**
 * Distribution's packaged config (Debian's /etc/docker/registry/config.yml, upstream's too) caches blob
 * descriptors in memory; Berth accepts the same key. Access logs are off because Berth writes none: the
 * bench measures serving, not logging (and the harness would buffer every log line in this process).
 */
export const sharedConfig: ConfigObject = {
  log: { level: 'warn', accesslog: { disabled: true } },
  storage: { cache: { blobdescriptor: 'inmemory' } },
};

export interface BenchRegistry {
  kind: RegistryKind;
  running: RunningRegistry;
  client: BenchClient;
  /** The server process itself (checked: not a wrapper). */
  pid: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Berth only: write a V8 CPU profile into this directory when the server exits. */
  profileDir?: string | undefined;
}

export async function startRegistry(kind: RegistryKind, opts: StartOptions = {}): Promise<BenchRegistry> {
  const running =
    kind === 'berth'
      ? await startBerth({
          config: sharedConfig,
          ...(opts.profileDir === undefined
            ? {}
            : { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${opts.profileDir}` } }),
        })
      : await startDistribution({ config: sharedConfig });
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
      : exe.endsWith('/docker-registry') && cmdline.includes('serve');
  if (!ok) {
    throw new Error(
      `${running.kind}: pid ${pid} is not the registry server (exe ${exe}, cmdline ${cmdline.join(' ')})`,
    );
  }
  return pid;
}
