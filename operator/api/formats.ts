// String formats shared by the CRDs: durations, ages, cron schedules, quantities, Kubernetes names.
//
// Every pattern here is used both as a JavaScript RegExp (zod) and as an RE2 pattern inside CEL or an
// OpenAPI `pattern` (the API server compiles them with Go's regexp), so they stick to the common subset and
// avoid backslashes (character classes like `[.]` and `[*]` instead), which keeps the CEL string literals
// free of escapes.
import { validateDetailed } from 'node-cron';
import { z } from 'zod';
import { parseDuration } from '../../registry/config/schema.ts';
import { celString, withRules } from './rules.ts';

// ---------------------------------------------------------------------------------------------------------
// Durations

/** A Go duration as the registry's config.yml takes it: "30s", "5m", "1h30m", "1.5h", "0". */
export const DURATION_PATTERN = '^(0|([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+)$';
const durationRe = new RegExp(DURATION_PATTERN);
const durationHint = 'a duration such as 30s, 5m or 1h30m (units ns, us, ms, s, m, h)';

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${String(ms / 3_600_000)}h`;
  if (ms % 60_000 === 0) return `${String(ms / 60_000)}m`;
  return `${String(ms / 1000)}s`;
}

/**
 * A Go duration string, optionally bounded (bounds are Go durations too). Validated by CEL with the same
 * pattern plus CEL's own `duration()` for the bounds, and by zod with the registry's `parseDuration`.
 */
export function goDuration(bounds: { min?: string; max?: string } = {}) {
  const { min, max } = bounds;
  const minMs = min === undefined ? undefined : parseDuration(min);
  const maxMs = max === undefined ? undefined : parseDuration(max);
  const range = [
    min === undefined ? undefined : `duration(self) >= duration(${celString(min)})`,
    max === undefined ? undefined : `duration(self) <= duration(${celString(max)})`,
  ].filter((s) => s !== undefined);
  const rangeText =
    min !== undefined && max !== undefined
      ? ` between ${min} and ${max}`
      : min !== undefined
        ? ` of at least ${min}`
        : max !== undefined
          ? ` of at most ${max}`
          : '';
  const message = `must be ${durationHint}${rangeText}`;
  return withRules(z.string().max(64), [
    {
      cel: { rule: [`self.matches(${celString(DURATION_PATTERN)})`, ...range].join(' && '), message },
      check: (s) => {
        if (!durationRe.test(s)) return false;
        const ms = parseDuration(s);
        if (minMs !== undefined && ms < minMs) return `${message} (got ${formatMs(ms)})`;
        if (maxMs !== undefined && ms > maxMs) return `${message} (got ${formatMs(ms)})`;
        return true;
      },
    },
  ]);
}

/** An age for cleanup policies, GitLab style: days allowed ("90d", "14d", "36h", "1d12h"). */
export const AGE_PATTERN = '^([0-9]+(d|h|m|s))+$';
const ageRe = new RegExp(AGE_PATTERN);
const ageUnitsMs: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** Milliseconds of an age string ("90d", "1d12h"). Throws on anything `AGE_PATTERN` rejects. */
export function parseAge(s: string): number {
  if (!ageRe.test(s)) throw new Error(`invalid age ${JSON.stringify(s)}: expected e.g. 90d, 14d or 36h`);
  let total = 0;
  for (const m of s.matchAll(/([0-9]+)([dhms])/g)) total += Number(m[1]) * (ageUnitsMs[m[2] ?? ''] ?? NaN);
  return total;
}

export const ageSchema = withRules(z.string().max(32), [
  {
    cel: {
      rule: `self.matches(${celString(AGE_PATTERN)})`,
      message: 'must be an age such as 90d, 14d or 36h (units d, h, m, s)',
    },
    check: (s) => ageRe.test(s),
  },
]);

// ---------------------------------------------------------------------------------------------------------
// Cron schedules

function cronField(value: string): string {
  const element = `([*]|${value}(-${value})?)(/[0-9]{1,2})?`;
  return `${element}(,${element})*`;
}
const cronFields = [
  cronField('[0-5]?[0-9]'), // minute
  cronField('(2[0-3]|[01]?[0-9])'), // hour
  `([?]|L|${cronField('(3[01]|[12][0-9]|0?[1-9])')})`, // day of month
  cronField('(1[0-2]|0?[1-9]|[A-Za-z]{3})'), // month (1-12 or JAN-DEC)
  `([?]|${cronField('([0-7]|[A-Za-z]{3})')})`, // day of week (0-7 or SUN-SAT)
];
export const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/**
 * What the API server accepts as a cron schedule: five fields (minute hour day-of-month month day-of-week)
 * with numbers in range, `*`, ranges, steps, lists, month/day names, or one of the macros. CEL cannot parse
 * cron, so this pattern catches what is obviously wrong (field count, characters, numbers out of range);
 * the operator's parse checks the rest with node-cron, the scheduler it runs the schedule with.
 */
export const CRON_PATTERN = `^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|${cronFields.join(' +')})$`;
const cronRe = new RegExp(CRON_PATTERN);
export const cronMessage =
  'must be a cron schedule: 5 fields (minute hour day-of-month month day-of-week, e.g. "0 3 * * 0") or a macro such as @daily';

/** Checks a schedule like the API server does, then with node-cron. Returns an error message or undefined. */
export function cronError(schedule: string): string | undefined {
  if (!cronRe.test(schedule)) return cronMessage;
  const detailed = validateDetailed(schedule);
  if (!detailed.valid) {
    const why = detailed.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    return `${cronMessage} (${why === '' ? 'rejected by the scheduler' : why})`;
  }
  return undefined;
}

/** A cron schedule, interpreted in UTC. */
export const cronSchema = withRules(z.string().max(128), [
  {
    cel: { rule: `self.matches(${celString(CRON_PATTERN)})`, message: cronMessage },
    check: (s) => cronError(s) ?? true,
  },
]);

// ---------------------------------------------------------------------------------------------------------
// Quantities

/** Kubernetes resource.Quantity, as the API server's own OpenAPI schema writes it. */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** A quantity ("10Gi", "500m", 2): a string or an integer (`x-kubernetes-int-or-string`). */
export const quantitySchema = z
  .union([
    z.string().regex(new RegExp(QUANTITY_PATTERN), { error: 'must be a quantity such as 10Gi, 500m or 2' }),
    z.int().min(0),
  ])
  .meta({ 'x-kubernetes-int-or-string': true });
export type Quantity = z.infer<typeof quantitySchema>;

// ---------------------------------------------------------------------------------------------------------
// Names

/** RFC 1123 subdomain: the name of most objects (Secrets, PVCs, ...). */
export const dnsSubdomainSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    error: 'must be a lowercase RFC 1123 name (a-z, 0-9, "-" and ".", starting and ending alphanumeric)',
  });

/** RFC 1123 label: namespaces, and names used in other names. */
export const dnsLabelSchema = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    error: 'must be a lowercase RFC 1123 label (a-z, 0-9 and "-", starting and ending alphanumeric)',
  });

/** A key in a Secret's data. */
export const secretKeySchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[-._a-zA-Z0-9]+$/, { error: 'must consist of alphanumerics, "-", "_" or "."' });

/** A DNS host name for an Ingress (a wildcard first label is allowed, as Ingress allows it). */
export const hostnameSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^([*][.])?[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    error: 'must be a lowercase DNS name such as registry.example.com',
  });

/** An absolute http(s) URL. */
export const httpUrlSchema = withRules(z.string().min(1).max(2048), [
  {
    cel: {
      rule: "self.matches('^https?://[^ ]+$')",
      message: 'must be an absolute http:// or https:// URL',
    },
    check: (s) => /^https?:\/\/[^ ]+$/.test(s) && URL.canParse(s),
  },
]);
