// How often the operator asks a registry for its usage: at the registry's scan interval (asking more often
// only reads the same scan again), or never when its scans are off.
import { parseDuration } from '../../../registry/config/schema.ts';
import type { ContainerRegistry } from '../../api/index.ts';

/** The registry's default `berth.usage.interval`. */
export const defaultUsageInterval = '10m';

/** Milliseconds between polls, or undefined when spec.usage.enabled is false. */
export function usagePollMs(spec: ContainerRegistry['spec']): number | undefined {
  if (spec.usage?.enabled === false) return undefined;
  return parseDuration(spec.usage?.interval ?? defaultUsageInterval);
}
