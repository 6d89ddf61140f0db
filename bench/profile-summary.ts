// Summarises a V8 .cpuprofile (from `node bench/run.ts --profile DIR`): self time per function and per file,
// and inclusive time of Berth's own functions, so the hot spots can be named as file:function with numbers.
//   node bench/profile-summary.ts FILE.cpuprofile [--top N]
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { repoRoot } from '../test/harness/tools.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const local = url.replace(/^file:\/\//, '');
  return local.startsWith(repoRoot) ? local.slice(repoRoot.length + 1) : local;
}

function label(f: CallFrame): string {
  return `${shortUrl(f.url)}:${f.lineNumber + 1} ${f.functionName || '(anonymous)'}`;
}

export function summarizeProfile(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs.entries()]
    .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
    .reduce((a, [, us]) => a + us, 0);

  const selfByFn = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  // Inclusive time of repository code: each sample counts once per distinct repo frame on its stack.
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    // (idle) is the event loop waiting; it is reported apart, not as a hot spot.
    if (!node || node.callFrame.functionName === '(idle)') continue;
    selfByFn.set(label(node.callFrame), (selfByFn.get(label(node.callFrame)) ?? 0) + us);
    const file = shortUrl(node.callFrame.url);
    selfByFile.set(file, (selfByFile.get(file) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)?.callFrame;
      if (!f || !f.url.includes('/registry/')) continue;
      const key = label(f);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const busy = total - idle;
  const fmt = (us: number): string =>
    `${(us / 1000).toFixed(0).padStart(7)} ms ${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const list = (title: string, m: Map<string, number>): string[] => [
    `\n${title} (% of busy time)`,
    ...[...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `${fmt(us)}  ${k}`),
  ];
  return [
    `profile: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s`,
    ...list('self time by function', selfByFn),
    ...list('self time by file', selfByFile),
    ...list('inclusive time of registry/ functions', inclusive),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '25' } },
    allowPositionals: true,
  });
  if (positionals.length === 0)
    throw new Error('usage: node bench/profile-summary.ts FILE.cpuprofile [--top N]');
  for (const file of positionals) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    process.stdout.write(`== ${file}\n${summarizeProfile(profile, Number(values.top))}\n\n`);
  }
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
