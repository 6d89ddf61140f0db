// Validation rules that hold in two places: the API server enforces them as CEL `x-kubernetes-validations`
// in the generated CRD, and zod enforces the same condition when the operator parses an object (objects
// created before a rule existed, unit tests, `kubectl apply --validate=false` against an old CRD). One
// declaration gives both, so they cannot drift apart; test/operator/crds.test.ts and api.test.ts feed the
// same bad specs to both.
import { z } from 'zod';

/** One entry of `x-kubernetes-validations` (apiextensions.k8s.io/v1 ValidationRule). */
export interface CelRule {
  /** The CEL expression; `self` is the value of the schema node the rule is attached to. */
  rule: string;
  /** Shown by the API server when the rule fails; also the zod issue message. */
  message: string;
  /** JSON path (relative to `self`) of the field to blame, e.g. `.storage`. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueDuplicate';
}

export interface Rule<T> {
  cel: CelRule;
  /**
   * The same condition in TypeScript, run by zod on the parsed (defaulted) value. `true` passes; `false`
   * fails with `cel.message`; a string fails with that (more specific) message.
   */
  check: (value: T) => boolean | string;
  /** Where zod reports the issue, when `cel.fieldPath` cannot say it (e.g. metadata, which CRDs do not describe). */
  path?: string[];
}

export const celRulesKey = 'x-kubernetes-validations';

/** The CEL rules already attached to a schema (through `.meta()`). */
export function celRulesOf(schema: z.ZodType): CelRule[] {
  const rules = z.globalRegistry.get(schema)?.[celRulesKey];
  return Array.isArray(rules) ? (rules as CelRule[]) : [];
}

/** Zod path segments for a CEL `fieldPath` such as `.storage.filesystem` (only dotted names are used here). */
function pathOf(fieldPath: string | undefined): string[] {
  if (fieldPath === undefined) return [];
  return fieldPath.split('.').filter((s) => s !== '');
}

/**
 * Attaches rules to a schema: a zod refinement per rule, and the CEL form in the schema's metadata (read by
 * the CRD generator). Returns a schema of the same type.
 */
export function withRules<S extends z.ZodType>(schema: S, rules: readonly Rule<z.output<S>>[]): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const r of rules) {
      const result = r.check(value as z.output<S>);
      if (result === true) continue;
      ctx.addIssue({
        code: 'custom',
        message: result === false ? r.cel.message : result,
        path: r.path ?? pathOf(r.cel.fieldPath),
        input: value,
      });
    }
  });
  return refined.meta({ [celRulesKey]: [...celRulesOf(schema), ...rules.map((r) => r.cel)] }) as S;
}

/** Quotes a JS string as a CEL single-quoted string literal (patterns here avoid backslashes). */
export function celString(s: string): string {
  if (s.includes('\\') || s.includes("'")) throw new Error(`celString: unsupported character in ${s}`);
  return `'${s}'`;
}
