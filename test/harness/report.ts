// When a test failed, show what the daemons said: the registry's log is usually the answer.
import { tail } from './exec.ts';

export interface HasOutput {
  output(): string;
}

export interface FailureReport {
  /** Pass to afterEach: remembers whether any test failed. */
  check(ctx: object): void;
  /** Call first thing in `after` (before stopping anything); prints only if a test failed. */
  print(sources: Record<string, HasOutput | undefined>): void;
}

export function failureReport(): FailureReport {
  let failed = false;
  return {
    check(ctx) {
      // TestContext.passed exists at run time (Node 24) but the hook's declared type is a union without it.
      if ((ctx as { passed?: unknown }).passed === false) failed = true;
    },
    print(sources) {
      if (!failed) return;
      for (const [name, source] of Object.entries(sources)) {
        if (source === undefined) continue;
        const text = source.output();
        process.stderr.write(
          `\n----- ${name} output (last part) -----\n${text === '' ? '(empty)\n' : tail(text, 12_000)}\n----- end of ${name} output -----\n`,
        );
      }
    },
  };
}
