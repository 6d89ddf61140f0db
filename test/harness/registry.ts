// What the e2e tests know about a running registry, whichever implementation it is, and the
// "registry under test" switch: BERTH_E2E_TARGET=distribution points every e2e test at Debian's
// docker-registry instead of Berth (to prove or debug a test); CI always tests Berth.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dump } from 'js-yaml';
import type { ChildProcess } from 'node:child_process';
import { spawnDaemon, type Daemon, type Exit } from './daemon.ts';
import { freePort } from './ports.ts';
import { makeTempDir, removeTempDir } from './tmp.ts';
import { httpStatus, waitFor } from './wait.ts';

/** 'distribution' is Debian's docker-registry (CNCF Distribution 2.8); 'distribution-v3' is v3.1 (benchmarks). */
export type RegistryKind = 'berth' | 'distribution' | 'distribution-v3';

export interface RunningRegistry {
  kind: RegistryKind;
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port>, the registry part of an image reference */
  host: string;
  /** The filesystem storage root (storage.filesystem.rootdirectory). */
  root: string;
  configPath: string;
  process: ChildProcess;
  /** Its stdout+stderr so far. */
  output(): string;
  /** Graceful stop (SIGTERM, then SIGKILL). Removes the root if the harness created it. */
  stop(): Promise<void>;
  /** Signals the process group (default SIGKILL) and waits for it to exit; the root is kept. */
  kill(signal?: NodeJS.Signals): Promise<Exit>;
}

export type ConfigObject = { [key: string]: unknown };

export interface LaunchOptions {
  kind: RegistryKind;
  file: string;
  args: (configPath: string) => string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Use this storage root (kept on stop); otherwise a temp root removed on stop. */
  root?: string;
  /** Merged over the generated config. */
  config?: ConfigObject;
  /** Statuses of GET /v2/ that mean "up". */
  readyStatuses: readonly number[];
}

export async function launchRegistry(opts: LaunchOptions): Promise<RunningRegistry> {
  const dir = await makeTempDir(opts.kind);
  const root = opts.root ?? path.join(dir, 'root');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const config = deepMerge(
    {
      version: 0.1,
      log: { level: 'warn' },
      storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } },
      http: { addr: host },
    },
    opts.config ?? {},
  );
  const configPath = path.join(dir, 'config.yml');
  await writeFile(configPath, dump(config));

  // REGISTRY_* in the caller's environment would silently override the generated config.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;
  Object.assign(env, opts.env);

  const daemon: Daemon = spawnDaemon(opts.kind, opts.file, opts.args(configPath), { env, cwd: opts.cwd });
  const stop = async (): Promise<void> => {
    await daemon.stop(10_000);
    await removeTempDir(dir);
  };
  try {
    await waitFor(
      `${opts.kind} to answer GET ${url}/v2/`,
      async () => {
        const status = await httpStatus(`${url}/v2/`);
        return status !== undefined && opts.readyStatuses.includes(status) ? status : undefined;
      },
      {
        timeoutMs: 30_000,
        abort: () =>
          daemon.running()
            ? undefined
            : `${opts.kind} exited during start-up (${opts.file} ${opts.args(configPath).join(' ')})\n${daemon.output()}`,
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kind: opts.kind,
    url,
    host,
    root,
    configPath,
    process: daemon.process,
    output: daemon.output,
    stop,
    kill: (signal = 'SIGKILL') => daemon.kill(signal),
  };
}

function isObject(v: unknown): v is ConfigObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepMerge(base: ConfigObject, over: ConfigObject): ConfigObject {
  const out: ConfigObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}
