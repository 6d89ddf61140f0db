// Parsing custom resources with the same schemas the CRDs come from. Errors name the field
// (`spec.storage.s3.bucket: required`), so the operator can put them in a status condition as they are.
import { z } from 'zod';
import { cleanupPolicySchema, cleanupPolicySpecSchema, type CleanupPolicy } from './cleanup-policy.ts';
import { InvalidSpecReason } from './common.ts';
import {
  containerRegistrySchema,
  containerRegistrySpecSchema,
  type ContainerRegistry,
  type ContainerRegistrySpec,
} from './container-registry.ts';
import type { CleanupPolicySpec } from './cleanup-policy.ts';

export interface FieldIssue {
  /** e.g. `spec.storage.s3.bucket`, `spec.tolerations[0].effect`, `spec.nodeSelector["kubernetes.io/os"]`. */
  field: string;
  message: string;
}

export type ParseResult<T> =
  | { success: true; data: T }
  | {
      success: false;
      issues: FieldIssue[];
      /** All issues in one line: `spec.replicas: must be at most 100; spec.storage: ...`. */
      message: string;
      /** The condition reason to report with it. */
      reason: typeof InvalidSpecReason;
    };

/** Thrown by the `must…` variants. */
export class InvalidSpecError extends Error {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[]) {
    super(issues.map(formatIssue).join('; '));
    this.name = 'InvalidSpecError';
    this.issues = issues;
  }
}

export function formatIssue(issue: FieldIssue): string {
  return issue.field === '' ? issue.message : `${issue.field}: ${issue.message}`;
}

/** Renders a zod path as a field path: `spec.tolerations[0].key`, `spec.nodeSelector["a/b"]`. */
export function fieldPath(path: readonly PropertyKey[], prefix: readonly string[] = []): string {
  let out = '';
  for (const segment of [...prefix, ...path]) {
    if (typeof segment === 'number') out += `[${String(segment)}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(segment))
      out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function expectedType(expected: string): string {
  switch (expected) {
    case 'int':
    case 'integer':
      return 'an integer';
    case 'array':
      return 'a list';
    case 'object':
      return 'an object';
    default:
      return `a ${expected}`;
  }
}

function sizeUnit(origin: string): string {
  switch (origin) {
    case 'string':
      return ' characters';
    case 'array':
    case 'set':
      return ' items';
    default:
      return '';
  }
}

/** One zod issue as field issues, in plain words. */
function toFieldIssues(issue: z.core.$ZodIssue, prefix: readonly string[]): FieldIssue[] {
  const field = fieldPath(issue.path, prefix);
  switch (issue.code) {
    case 'invalid_type':
      return [
        {
          field,
          message:
            issue.input === undefined
              ? 'required'
              : `expected ${expectedType(issue.expected)}, got ${describeValue(issue.input)}`,
        },
      ];
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        field: fieldPath([...issue.path, key], prefix),
        message: 'unknown field',
      }));
    case 'invalid_value':
      return [
        {
          field,
          message:
            issue.values.length === 1
              ? `must be ${JSON.stringify(issue.values[0])}`
              : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
        },
      ];
    case 'too_small':
      return [
        {
          field,
          message:
            issue.origin === 'array' && issue.minimum === 1
              ? 'must not be empty'
              : `must be at least ${String(issue.minimum)}${sizeUnit(issue.origin)}`,
        },
      ];
    case 'too_big':
      return [{ field, message: `must be at most ${String(issue.maximum)}${sizeUnit(issue.origin)}` }];
    case 'invalid_union':
      // Quantities are the only unions: say what is expected rather than each branch's complaint.
      return [
        { field, message: issue.message.startsWith('Invalid input') ? 'invalid value' : issue.message },
      ];
    default:
      return [{ field, message: issue.message }];
  }
}

function fromZod(error: z.ZodError, prefix: readonly string[]): FieldIssue[] {
  return error.issues.flatMap((i) => toFieldIssues(i, prefix));
}

function parseWith<T>(schema: z.ZodType<T>, input: unknown, prefix: readonly string[]): ParseResult<T> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return { success: true, data: result.data };
  const issues = fromZod(result.error, prefix);
  return {
    success: false,
    issues,
    message: issues.map(formatIssue).join('; '),
    reason: InvalidSpecReason,
  };
}

/** A ContainerRegistry as read from the API server (or a file): defaults applied, every rule checked. */
export function parseContainerRegistry(input: unknown): ParseResult<ContainerRegistry> {
  return parseWith(containerRegistrySchema, input, []);
}

/** Only the spec; issue fields still start with `spec.`. */
export function parseContainerRegistrySpec(spec: unknown): ParseResult<ContainerRegistrySpec> {
  return parseWith(containerRegistrySpecSchema, spec, ['spec']);
}

export function parseCleanupPolicy(input: unknown): ParseResult<CleanupPolicy> {
  return parseWith(cleanupPolicySchema, input, []);
}

export function parseCleanupPolicySpec(spec: unknown): ParseResult<CleanupPolicySpec> {
  return parseWith(cleanupPolicySpecSchema, spec, ['spec']);
}

function must<T>(result: ParseResult<T>): T {
  if (result.success) return result.data;
  throw new InvalidSpecError(result.issues);
}

export function mustParseContainerRegistry(input: unknown): ContainerRegistry {
  return must(parseContainerRegistry(input));
}

export function mustParseCleanupPolicy(input: unknown): CleanupPolicy {
  return must(parseCleanupPolicy(input));
}
