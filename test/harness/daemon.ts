// A long-running child process (dockerd, a registry) with its output kept for failure reports.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { killGroup, trackGroup, untrackGroup } from './cleanup.ts';

const maxLogBytes = 4 * 1024 * 1024;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Daemon {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves when the main process has exited. */
  readonly exited: Promise<Exit>;
  running(): boolean;
  /** stdout and stderr interleaved (the last few MiB). */
  output(): string;
  /** Send `signal` to the whole process group and wait for the main process to exit. */
  kill(signal?: NodeJS.Signals): Promise<Exit>;
  /** SIGTERM to the main process (it shuts down its own children), SIGKILL to the group after a grace period. */
  stop(graceMs?: number): Promise<Exit>;
}

export interface DaemonOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** The child's exit (or failure to start, reported through `onStartError`), as a promise and as a getter. */
function watchExit(
  child: ChildProcess,
  onStartError: (err: Error) => void,
): { exited: Promise<Exit>; exit: () => Exit | undefined } {
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.on('error', (err) => {
      onStartError(err);
      exit ??= { code: null, signal: null };
      resolve(exit);
    });
    // 'exit', not 'close': grandchildren (containerd) may hold the pipes open.
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  return { exited, exit: () => exit };
}

export function spawnDaemon(
  name: string,
  file: string,
  args: readonly string[],
  opts: DaemonOptions = {},
): Daemon {
  const child = spawn(file, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  const append = (b: Buffer): void => {
    log += b.toString('utf8');
    if (log.length > maxLogBytes) log = log.slice(-maxLogBytes / 2);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const { exited, exit } = watchExit(child, (err) =>
    append(Buffer.from(`[harness] cannot start ${name} (${file}): ${err.message}\n`)),
  );
  const pid = child.pid ?? -1;
  if (pid > 0) trackGroup(pid);
  void exited.then(() => {
    // Leftovers of a crashed daemon must not outlive it; then forget the group id (it may be reused).
    if (pid > 0) {
      killGroup(pid, 'SIGKILL');
      untrackGroup(pid);
    }
  });

  return {
    name,
    process: child,
    pid,
    exited,
    running: () => exit() === undefined,
    output: () => log,
    async kill(signal = 'SIGKILL') {
      if (exit() === undefined && pid > 0) killGroup(pid, signal);
      return exited;
    },
    async stop(graceMs = 15_000) {
      if (exit() === undefined && pid > 0) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
        // Abort the grace timer once the process is gone, or it would keep the test process alive.
        const grace = new AbortController();
        const done = await Promise.race([
          exited,
          sleep(graceMs, undefined, { signal: grace.signal }).then(
            () => undefined,
            () => undefined,
          ),
        ]);
        grace.abort();
        if (done === undefined) {
          append(Buffer.from(`[harness] ${name} ignored SIGTERM for ${graceMs} ms; sending SIGKILL\n`));
          killGroup(pid, 'SIGKILL');
        }
      }
      return exited;
    },
  };
}

export function describeExit(e: Exit): string {
  return e.signal !== null ? `killed by ${e.signal}` : `exit code ${String(e.code)}`;
}

export interface LoggedDaemonOptions extends DaemonOptions {
  /** stdout and stderr go here (appended), not to a pipe, so the daemon can outlive this process. */
  logFile: string;
  /** Leave it running when this process exits (`npm run cluster -- up`); else it is killed at exit. */
  persistent?: boolean;
}

/** A daemon that writes to a log file: for daemons that outlive the process that started them. */
export function spawnLoggedDaemon(
  name: string,
  file: string,
  args: readonly string[],
  opts: LoggedDaemonOptions,
): Daemon {
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true,
    });
  } finally {
    closeSync(fd);
  }
  const { exited, exit } = watchExit(child, (err) =>
    appendFileSync(opts.logFile, `[harness] cannot start ${name} (${file}): ${err.message}\n`),
  );
  const pid = child.pid ?? -1;
  if (opts.persistent === true) child.unref();
  else if (pid > 0) trackGroup(pid);
  void exited.then(() => {
    if (pid > 0 && opts.persistent !== true) untrackGroup(pid);
  });
  const output = (): string => {
    try {
      const text = readFileSync(opts.logFile, 'utf8');
      return text.length > maxLogBytes ? text.slice(-maxLogBytes / 2) : text;
    } catch {
      return '';
    }
  };
  return {
    name,
    process: child,
    pid,
    exited,
    running: () => exit() === undefined,
    output,
    async kill(signal = 'SIGKILL') {
      if (exit() === undefined && pid > 0) killGroup(pid, signal);
      return exited;
    },
    async stop(graceMs = 15_000) {
      if (exit() === undefined && pid > 0) {
        await stopProcessGroup(pid, graceMs);
      }
      return exited;
    },
  };
}

/** SIGTERM to `pid`, then SIGKILL to its process group if it is still alive after `graceMs`. */
export async function stopProcessGroup(pid: number, graceMs: number): Promise<void> {
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await sleep(100);
  killGroup(pid, 'SIGKILL');
  while (alive() && Date.now() < deadline + 5_000) await sleep(50);
}
