// Runs the OCI distribution-spec conformance tool (built by test/tools/install-system.sh) against a
// registry and reads its junit.xml / results.yaml.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { load } from 'js-yaml';
import { exec } from './exec.ts';
import { makeTempDir } from './tmp.ts';
import { requireTool } from './tools.ts';

export interface Spec {
  name: string;
  /** junit status: passed, failure, error, skipped (disabled specs are not listed) */
  status: string;
  /** The tool's error messages for the spec. */
  message: string;
  /** Redacted requests and responses the spec made. */
  trace: string;
}

export interface ConformanceRun {
  code: number;
  stdout: string;
  stderr: string;
  resultsDir: string;
  specs: Spec[];
  /** results.yaml `apis` and `data`: feature name → Pass | FAIL | Skip | Disabled | Error */
  apis: Record<string, string>;
  data: Record<string, string>;
}

export interface ConformanceOptions {
  /** 127.0.0.1:<port>, plain HTTP */
  registry: string;
  repo1: string;
  repo2: string;
  env?: Record<string, string>;
}

export async function runConformance(opts: ConformanceOptions): Promise<ConformanceRun> {
  const bin = requireTool('conformance');
  // Also the working dir: an oci-conformance.yaml lying around in the repo must not change the run.
  const resultsDir = await makeTempDir('conformance');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OCI_')) env[k] = v;
  Object.assign(env, {
    OCI_VERSION: '1.1',
    OCI_REGISTRY: opts.registry,
    OCI_TLS: 'disabled',
    OCI_REPO1: opts.repo1,
    OCI_REPO2: opts.repo2,
    OCI_RESULTS_DIR: resultsDir,
    OCI_LOG: 'warn',
    ...opts.env,
  });
  const result = await exec(bin, [], { env, cwd: resultsDir, check: false, timeoutMs: 600_000 });
  let junit: string;
  try {
    junit = await readFile(path.join(resultsDir, 'junit.xml'), 'utf8');
  } catch {
    throw new Error(
      `the conformance tool wrote no junit.xml (exit ${result.code})\n${result.stdout.slice(-4_000)}\n${result.stderr.slice(-4_000)}`,
    );
  }
  const yaml = load(await readFile(path.join(resultsDir, 'results.yaml'), 'utf8')) as {
    apis?: Record<string, string>;
    data?: Record<string, string>;
  };
  return {
    code: result.code,
    stdout: result.stdout,
    stderr: result.stderr,
    resultsDir,
    specs: parseJunit(junit),
    apis: yaml.apis ?? {},
    data: yaml.data ?? {},
  };
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return entities[e] ?? whole;
  });
}

/** The leaf test cases of the tool's junit report (a flat list; no nesting inside <testcase>). */
export function parseJunit(xml: string): Spec[] {
  const specs: Spec[] = [];
  const re = /<testcase\s([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const attrs = m[1] ?? '';
    const body = m[2] ?? '';
    const attr = (name: string): string =>
      unescapeXml(new RegExp(`\\b${name}="([^"]*)"`).exec(attrs)?.[1] ?? '');
    const child = (tag: string): string =>
      unescapeXml(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(body)?.[1] ?? '');
    let status = attr('status');
    if (status === '')
      status = /<failure\b/.test(body) ? 'failure' : /<error\b/.test(body) ? 'error' : 'passed';
    specs.push({ name: attr('name'), status, message: child('system-out'), trace: child('system-err') });
  }
  return specs;
}
