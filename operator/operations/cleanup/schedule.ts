// When a cleanup policy runs next. GitLab's semantics: a cadence counts from the last run, and saving a
// changed policy starts the interval again from the save; a cron schedule (UTC) runs at its times. Pure.
import type { Cadence } from '../../api/cleanup-policy.ts';
import { nextCronTime } from '../garbage-collection/schedule.ts';

const dayMs = 24 * 60 * 60 * 1000;

function addMonths(from: Date, months: number): Date {
  const d = new Date(from.getTime());
  d.setUTCMonth(d.getUTCMonth() + months);
  return d;
}

/** `from` plus one cadence interval (months are calendar months). */
export function afterCadence(cadence: Cadence, from: Date): Date {
  switch (cadence) {
    case '1d':
      return new Date(from.getTime() + dayMs);
    case '7d':
      return new Date(from.getTime() + 7 * dayMs);
    case '14d':
      return new Date(from.getTime() + 14 * dayMs);
    case '1month':
      return addMonths(from, 1);
    case '3month':
      return addMonths(from, 3);
  }
}

/** The first run time strictly after `from`: one cadence later, or the next cron time of `schedule`. */
export function nextRunAfter(when: { cadence?: Cadence; schedule?: string }, from: Date): Date {
  if (when.cadence !== undefined) return afterCadence(when.cadence, from);
  const next = when.schedule !== undefined ? nextCronTime(when.schedule, from) : undefined;
  // No cron time within a day (e.g. a yearly schedule): look again in a day.
  return next ?? new Date(Math.floor((from.getTime() + dayMs) / 60_000) * 60_000);
}
