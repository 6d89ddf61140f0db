// CleanupPolicy (berth.dev/v1alpha1): which tags of a registry expire, and when the cleanup runs.
// The algorithm is GitLab's (operator/operations/cleanup/algorithm.ts): never `latest`; a tag expires when it
// matches nameRegex, does not match nameRegexKeep, is not among the keepN newest of the tags left, and is
// older than olderThan.
import { z } from 'zod';
import { repositoryPatternSchema } from '../../registry/auth/patterns.ts';
import { apiVersion, conditionsSchema, objectMetaSchema } from './common.ts';
import { ageSchema, cronSchema, dnsSubdomainSchema, goDuration } from './formats.ts';
import { withRules } from './rules.ts';
import { tagRegexError } from './tag-regex.ts';

export { compileTagRegex, tagRegexError } from './tag-regex.ts';

const describe = <S extends z.ZodType>(schema: S, description: string): S => schema.meta({ description });

export const cadences = ['1d', '7d', '14d', '1month', '3month'] as const;
export type Cadence = (typeof cadences)[number];

/** A tag-name regular expression, matched against the whole tag name. */
const tagRegexSchema = withRules(
  z
    .string()
    .min(1)
    .max(255)
    .superRefine((s, ctx) => {
      const error = tagRegexError(s);
      if (error !== undefined) ctx.addIssue({ code: 'custom', message: error, input: s });
    }),
  [
    {
      // The API server compiles the pattern with its own RE2 (CEL's matches fails on a pattern RE2 refuses),
      // so lookaround, backreferences and plain syntax errors are refused at admission with the field named;
      // the check above (run by the operator) also refuses what JavaScript would read differently.
      cel: { rule: "''.matches(self) ? true : true", message: 'not an RE2 regular expression' },
      check: () => true,
    },
  ],
);

export const cleanupPolicySpecSchema = withRules(
  z.strictObject({
    registryRef: describe(
      z.strictObject({ name: dnsSubdomainSchema }),
      'The ContainerRegistry (same namespace) whose tags this policy cleans up.',
    ),
    enabled: describe(z.boolean().default(true), 'false: the policy does nothing.'),
    cadence: describe(
      z.enum(cadences).optional(),
      'How often to run (GitLab cadences). Set cadence or schedule, not both.',
    ),
    schedule: describe(cronSchema.optional(), 'When to run (cron, UTC). Set cadence or schedule, not both.'),
    keepN: describe(
      z.int().min(0).max(10000).default(10),
      'Keep the newest keepN of the tags nameRegex selects in each repository (latest and tags matching ' +
        'nameRegexKeep are kept anyway and do not count).',
    ),
    olderThan: describe(
      ageSchema.default('90d'),
      'Only tags older than this expire (e.g. 7d, 14d, 30d, 90d).',
    ),
    nameRegex: describe(
      tagRegexSchema.default('.*'),
      'Tags whose names match expire (RE2, whole name). `latest` never expires.',
    ),
    nameRegexKeep: describe(
      tagRegexSchema.optional(),
      'Tags whose names match are kept, whatever else matches (RE2, whole name).',
    ),
    repositories: describe(
      z
        .strictObject({
          include: z.array(repositoryPatternSchema).min(1).max(100).default(['**']),
          exclude: z.array(repositoryPatternSchema).max(100).default([]),
        })
        .prefault({}),
      'Repository patterns ("team/**", "base/*") the policy applies to.',
    ),
    dryRun: describe(z.boolean().default(false), 'Report what would be deleted; delete nothing.'),
    maxTagsPerRun: describe(
      z.int().min(1).max(100000).default(1000),
      'Most tags one run deletes, over all repositories; the oldest expired tags go first and the rest are ' +
        'left to the next run (lastRun.truncated).',
    ),
    timeout: describe(
      goDuration({ min: '1m', max: '24h' }).default('1h'),
      'Longest a run may take; a run that reaches it stops deleting and reports truncated, and the next run ' +
        'goes on.',
    ),
    suspend: describe(
      z.boolean().default(false),
      'Skip scheduled runs (a run in progress finishes; on-demand runs still work).',
    ),
  }),
  [
    {
      cel: {
        rule: 'has(self.cadence) != has(self.schedule)',
        message: 'set exactly one of cadence or schedule',
      },
      check: (s) => (s.cadence === undefined) !== (s.schedule === undefined),
    },
  ],
);
export type CleanupPolicySpec = z.infer<typeof cleanupPolicySpecSchema>;
export type CleanupPolicySpecInput = z.input<typeof cleanupPolicySpecSchema>;

const timestamp = z.iso.datetime({ offset: true });

export const cleanupRunSchema = z.strictObject({
  id: describe(z.string().min(1).max(63).optional(), 'The run (cleanup-<UTC yyyymmddhhmmss>).'),
  trigger: describe(
    z.enum(['Schedule', 'OnDemand']).optional(),
    'What started it: the cadence or schedule, or the berth.dev/run annotation.',
  ),
  request: describe(
    z.string().max(253).optional(),
    'The berth.dev/run annotation value acknowledged by this run (a new value starts a run).',
  ),
  report: describe(
    z.string().max(253).optional(),
    "The ConfigMap holding the run's report (tags deleted, deferred, kept and why).",
  ),
  startTime: timestamp,
  completionTime: timestamp.optional(),
  result: z.enum(['Succeeded', 'Failed', 'Aborted']).optional(),
  dryRun: z.boolean().default(false),
  repositories: z.int().min(0).optional(),
  tagsDeleted: z.int().min(0).optional(),
  tagsKept: z.int().min(0).optional(),
  tagsInUse: describe(
    z.int().min(0).optional(),
    'Tags the policy would have deleted but kept because a Pod in the cluster runs their image.',
  ),
  truncated: describe(
    z.boolean().default(false),
    'The run stopped at maxTagsPerRun or timeout; the rest is deleted by the next runs.',
  ),
  message: z.string().max(32768).optional(),
});
export type CleanupRun = z.infer<typeof cleanupRunSchema>;

export const cleanupPolicyStatusSchema = z.strictObject({
  observedGeneration: z.int().min(0).optional(),
  conditions: conditionsSchema.optional(),
  lastRun: describe(cleanupRunSchema.optional(), 'The last run started (and its report when it finished).'),
  nextRun: describe(timestamp.optional(), 'When the next scheduled run starts.'),
  operation: describe(
    z
      .looseObject({
        id: z.string().min(1).max(253),
        phase: z.string().min(1).max(64),
        startTime: timestamp,
        message: z.string().max(32768).optional(),
      })
      .optional(),
    'The run in progress, if any (a resumable state machine).',
  ),
});
export type CleanupPolicyStatus = z.infer<typeof cleanupPolicyStatusSchema>;

/** The domain condition types of a CleanupPolicy (next to Ready, Progressing, Degraded). */
export const CleanupConditionType = {
  /** The referenced ContainerRegistry exists and allows deletes (spec.storage.delete). */
  RegistryReady: 'RegistryReady',
  /** The last run finished without errors. */
  LastRunSucceeded: 'LastRunSucceeded',
} as const;

export const cleanupPolicyKind = 'CleanupPolicy';

export const cleanupPolicySchema = z.object({
  apiVersion: z.literal(apiVersion),
  kind: z.literal(cleanupPolicyKind),
  metadata: objectMetaSchema,
  spec: cleanupPolicySpecSchema,
  status: cleanupPolicyStatusSchema.optional(),
});
export type CleanupPolicy = z.infer<typeof cleanupPolicySchema>;
