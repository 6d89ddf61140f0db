// What the maintenance commands (garbage-collect, migrate) share: their output contract on failure — the
// message (and the usage text for a usage error) on stderr, and the JSON summary with `error` and
// `errorCode` as the last stdout line, which the operator parses — and their integer options.

export interface CommandIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export interface CommandFailure {
  /** `garbage-collect`, `migrate`: names the command in the message. */
  command: string;
  usage: string;
  code: string;
  message: string;
  /** Whether `code` is the command's usage error: then the usage text follows the message. */
  isUsage: boolean;
  /** The counts so far (or zeros), printed with the error. */
  summary: object;
  exitCode: number;
}

/** Prints a failure by the contract above; returns its exit code. */
export function reportFailure(io: CommandIO, failure: CommandFailure): number {
  io.stderr.write(`berth-registry ${failure.command}: ${failure.message}\n`);
  if (failure.isUsage) io.stderr.write(`\n${failure.usage}`);
  io.stdout.write(
    `${JSON.stringify({ ...failure.summary, error: failure.message, errorCode: failure.code })}\n`,
  );
  return failure.exitCode;
}

/** An integer option within [min, max]; otherwise `usageError` with a message naming the option. */
export function integerOption(
  name: string,
  value: string,
  min: number,
  max: number,
  usageError: (message: string) => Error,
): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw usageError(`--${name}: expected an integer from ${min} to ${max}, got ${value}`);
  }
  return n;
}

/**
 * Sizes libuv's thread pool (4 threads by default), which runs every async filesystem call, to the command's
 * concurrency, so that concurrency reaches the disk. Only before the pool's first use; no effect after.
 */
export function sizeThreadPool(concurrency: number): void {
  process.env['UV_THREADPOOL_SIZE'] ??= String(Math.min(64, Math.max(4, concurrency)));
}
