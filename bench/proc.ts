// Server CPU time from /proc/<pid>/stat (all threads: Node's thread pool and Go's Ms included). CPU seconds
// per GB moved is far less sensitive to a busy shared machine than wall-clock throughput.
import { readFileSync } from 'node:fs';

/** USER_HZ is 100 on every Linux architecture Node supports (it is fixed by the kernel ABI). */
const ticksPerSecond = 100;

export interface CpuTime {
  user: number;
  system: number;
}

export function readCpuTime(pid: number): CpuTime {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
  return { user: Number(fields[11]) / ticksPerSecond, system: Number(fields[12]) / ticksPerSecond };
}

/** CPU seconds a process used while `work` ran. */
export async function measureCpu<T>(
  pid: number,
  work: () => Promise<T>,
): Promise<{ result: T; cpu: CpuTime }> {
  const before = readCpuTime(pid);
  const result = await work();
  const after = readCpuTime(pid);
  return {
    result,
    cpu: {
      user: +(after.user - before.user).toFixed(2),
      system: +(after.system - before.system).toFixed(2),
    },
  };
}
