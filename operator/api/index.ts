// The Berth API (berth.dev/v1alpha1): zod schemas that are the single source of truth for the CRDs
// (operator/crd generates them) and for how the operator parses objects.
export * from './common.ts';
export * from './container-registry.ts';
export * from './cleanup-policy.ts';
export * from './formats.ts';
export * from './parse.ts';
export * from './resources.ts';
export * from './rules.ts';
export * from './reasons.ts';
