// When a scheduled run is due and whether a maintenance window is open, from the cron expressions (UTC) with
// node-cron's own matcher (the scheduler the API validates schedules with). Pure functions of the time given:
// the controller, which only runs while this replica leads, calls them on every look and requeues itself for
// the next cron time, so no timer runs in a replica that does not lead.
import { createTask, type ScheduledTask } from 'node-cron';
import type { MaintenanceWindow } from '../../api/index.ts';
import { parseDuration } from '../../../registry/config/schema.ts';

const minuteMs = 60_000;
/** A cron time missed by more than this (operator down, leader change) is skipped, not caught up. */
export const scheduleGraceMs = 5 * minuteMs;

const tasks = new Map<string, ScheduledTask>();

/** A never-started node-cron task for the expression (used for matching only). */
function matcher(expression: string): ScheduledTask {
  let task = tasks.get(expression);
  if (task === undefined) {
    task = createTask(expression, () => undefined, { timezone: 'Etc/UTC', name: `match ${expression}` });
    tasks.set(expression, task);
  }
  return task;
}

/** The whole minutes in (from, to], newest first. */
function* minutesBetween(from: number, to: number): Generator<Date> {
  for (let t = Math.floor(to / minuteMs) * minuteMs; t > from; t -= minuteMs) yield new Date(t);
}

/**
 * Whether a cron time of `schedule` fell after the last run started (`lastStart`) and at most
 * scheduleGraceMs before `now`.
 */
export function scheduleDue(schedule: string | undefined, lastStart: Date | undefined, now: Date): boolean {
  if (schedule === undefined) return false;
  const from = Math.max(now.getTime() - scheduleGraceMs, lastStart?.getTime() ?? 0);
  const task = matcher(schedule);
  for (const m of minutesBetween(from, now.getTime())) if (task.match(m)) return true;
  return false;
}

/** The first cron time of `schedule` strictly after `from`, looking up to a day ahead (undefined: none). */
export function nextCronTime(schedule: string, from: Date): Date | undefined {
  const task = matcher(schedule);
  const first = Math.floor(from.getTime() / minuteMs) * minuteMs + minuteMs;
  for (let t = first; t <= first + 24 * 60 * minuteMs; t += minuteMs) {
    if (task.match(new Date(t))) return new Date(t);
  }
  return undefined;
}

/** Milliseconds until just after the next cron time of `schedule`, looking up to a day ahead (undefined: none). */
export function msToNextRun(schedule: string | undefined, now: Date): number | undefined {
  if (schedule === undefined) return undefined;
  const next = nextCronTime(schedule, now);
  return next === undefined ? 24 * 60 * minuteMs : next.getTime() - now.getTime() + 1000;
}

/** True when no windows are set, or one opened at most `duration` before `now`. */
export function windowOpen(windows: readonly MaintenanceWindow[] | undefined, now: Date): boolean {
  if (windows === undefined || windows.length === 0) return true;
  return windows.some((w) => {
    const task = matcher(w.schedule);
    const from = now.getTime() - parseDuration(w.duration);
    for (const m of minutesBetween(from, now.getTime())) if (task.match(m)) return true;
    return false;
  });
}
