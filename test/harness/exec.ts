// Run a command to completion and collect its output.
import { spawn } from 'node:child_process';
import { killGroup, trackGroup, untrackGroup } from './cleanup.ts';

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** stdout exactly as written (e.g. a raw manifest whose digest matters). */
  stdoutBytes: Buffer;
  /** Exit code; -1 when the process was killed by a signal. */
  code: number;
}

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  timeoutMs?: number;
  /** Throw when the exit code is not 0 (default true). */
  check?: boolean;
}

export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

export function exec(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const { env = process.env, cwd, input, timeoutMs = 300_000, check = true } = opts;
  const cmd = commandLine(file, args);
  return new Promise((resolve, reject) => {
    // Own process group, so a timeout kills whatever the command started too.
    const child = spawn(file, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    if (child.pid !== undefined) trackGroup(child.pid);
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (child.pid !== undefined) untrackGroup(child.pid);
      const hint = e.code === 'ENOENT' ? ' (not installed? run test/tools/install-system.sh)' : '';
      reject(new Error(`cannot run ${cmd}: ${e.message}${hint}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (child.pid !== undefined) untrackGroup(child.pid);
      const stdoutBytes = Buffer.concat(out);
      const result: ExecResult = {
        stdout: stdoutBytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBytes,
        code: code ?? -1,
      };
      if (timedOut) {
        reject(
          new Error(
            `timed out after ${timeoutMs} ms: ${cmd}\n${tail(result.stdout)}\n${tail(result.stderr)}`,
          ),
        );
      } else if (check && result.code !== 0) {
        reject(
          new Error(
            `command failed (exit ${result.code}): ${cmd}\n--- stdout\n${tail(result.stdout)}\n--- stderr\n${tail(result.stderr)}`,
          ),
        );
      } else {
        resolve(result);
      }
    });
    child.stdin.on('error', () => {
      // the command may exit without reading its input
    });
    child.stdin.end(input);
  });
}

/** The last `max` characters of a (log) text. */
export function tail(text: string, max = 8_000): string {
  return text.length <= max ? text : `…${text.slice(-max)}`;
}
