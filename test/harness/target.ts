// The "registry under test". CI tests Berth; BERTH_E2E_TARGET=distribution runs the same tests
// against Debian's docker-registry to prove the tests themselves.
import { startBerth } from './berth.ts';
import { startDistribution } from './distribution.ts';
import type { ConfigObject, RegistryKind, RunningRegistry } from './registry.ts';

export function targetKind(): RegistryKind {
  const v = process.env['BERTH_E2E_TARGET'] ?? 'berth';
  if (v !== 'berth' && v !== 'distribution') {
    throw new Error(`BERTH_E2E_TARGET must be "berth" or "distribution", not "${v}"`);
  }
  return v;
}

export interface TargetOptions {
  root?: string;
  config?: ConfigObject;
}

export function startTarget(opts: TargetOptions = {}): Promise<RunningRegistry> {
  return targetKind() === 'berth' ? startBerth(opts) : startDistribution(opts);
}
