// The guard against collecting under a live read-write registry — the classic way to lose data with
// `registry garbage-collect`: a layer pushed after the mark phase, and not yet referenced by a manifest,
// is swept, and the manifest push that follows then points at a missing blob.
//
// Every running Berth registry records a heartbeat in the storage itself (registry/heartbeat.ts), so the
// check works on every driver and sees every replica wherever it runs. The rule:
//
//   1. any fresh heartbeat with readOnly=false                        → refuse;
//   2. any fresh heartbeat at all, while the config given to the collector does not have
//      storage.maintenance.readonly.enabled=true                        → refuse: the collector should run
//      with the configuration the fleet runs with, and that configuration says the fleet is (or is about
//      to be again) read-write; a replica's heartbeat can also lag a mode change by one interval;
//   3. otherwise (no live registry, or all live registries read-only under a read-only config) → allowed.
//
// The check runs before the mark phase and again just before the first deletion (a replica started or
// switched to read-write during a long mark phase is caught). `--force-live` skips it.
//
// Limits, stated plainly: a CNCF Distribution process (or a Berth older than the heartbeat) writes no
// heartbeat and cannot be detected; a heartbeat is "fresh" for 30 s by this machine's clock, so clocks
// skewed by more than that between hosts defeat the check; a registry killed without a clean shutdown
// leaves a record that blocks collection until it goes stale (30 s).
import type { StorageDriver } from '../storage/driver.ts';
import { liveInstances, staleAfterMs, type Heartbeat } from '../heartbeat.ts';
import { GcError } from './errors.ts';

export interface GuardVerdict {
  allowed: boolean;
  /** Every fresh heartbeat found. */
  instances: Heartbeat[];
  /** Why collection is refused (when not allowed). */
  reason?: string;
}

function describe(instance: Heartbeat, now: number): string {
  const age = Math.max(0, Math.round((now - Date.parse(instance.updatedAt)) / 1000));
  return (
    `  instance ${instance.instance} on host ${instance.hostname}, pid ${instance.pid}, ` +
    `${instance.readOnly ? 'read-only' : 'READ-WRITE'}, config revision ${instance.revision}, ` +
    `last heartbeat ${age}s ago`
  );
}

const howToProceed = [
  'To collect safely, either stop every registry that serves this storage, or switch all of them to',
  'read-only mode (storage.maintenance.readonly.enabled: true; applied without a restart) and run',
  'garbage-collect with that same read-only config once their heartbeats report read-only.',
  `A record left by a process that is gone stops counting ${staleAfterMs / 1000}s after its last heartbeat.`,
  '--force-live skips this check: blobs pushed while the collector runs may then be lost.',
].join('\n');

/** Applies the rule above to the heartbeats in storage. */
export async function checkLiveRegistries(
  driver: StorageDriver,
  configReadOnly: boolean,
  now = Date.now(),
): Promise<GuardVerdict> {
  const instances = await liveInstances(driver, now);
  const writable = instances.filter((i) => !i.readOnly);
  if (writable.length > 0) {
    return {
      allowed: false,
      instances,
      reason:
        `refusing to collect garbage: ${writable.length} registry instance(s) serve this storage read-write:\n` +
        `${writable.map((i) => describe(i, now)).join('\n')}\n${howToProceed}`,
    };
  }
  if (instances.length > 0 && !configReadOnly) {
    return {
      allowed: false,
      instances,
      reason:
        `refusing to collect garbage: ${instances.length} registry instance(s) are running on this storage ` +
        `and this config does not have storage.maintenance.readonly.enabled=true, so they may be (or turn) ` +
        `read-write:\n${instances.map((i) => describe(i, now)).join('\n')}\n${howToProceed}`,
    };
  }
  return { allowed: true, instances };
}

/** Throws GC_LIVE_REGISTRY when the rule refuses. */
export async function assertNoLiveWriter(driver: StorageDriver, configReadOnly: boolean): Promise<void> {
  const verdict = await checkLiveRegistries(driver, configReadOnly);
  if (!verdict.allowed) throw new GcError('GC_LIVE_REGISTRY', verdict.reason ?? 'live registry');
}
