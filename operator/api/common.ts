// Kubernetes building blocks used by both kinds: object metadata, conditions, label selectors,
// scheduling fields, resource requirements.
import { z } from 'zod';
import { dnsSubdomainSchema, quantitySchema } from './formats.ts';

export const group = 'berth.dev';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;

const timestamp = z.iso.datetime({ offset: true });

/**
 * Object metadata as the operator reads it. Only what the operator uses is typed; the rest is kept
 * (loose), since metadata belongs to the API server, not to these schemas.
 */
export const objectMetaSchema = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().min(1),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
});
export type ObjectMeta = z.infer<typeof objectMetaSchema>;

// ---------------------------------------------------------------------------------------------------------
// Conditions (metav1.Condition)

export const conditionStatuses = ['True', 'False', 'Unknown'] as const;
export type ConditionStatus = (typeof conditionStatuses)[number];

export const conditionSchema = z
  .strictObject({
    type: z
      .string()
      .max(316)
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*[/])?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
      )
      .meta({ description: 'Ready, Progressing, Degraded, or a domain condition of this kind.' }),
    status: z.enum(conditionStatuses),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .meta({ description: 'The metadata.generation the condition was computed from.' }),
    lastTransitionTime: timestamp.meta({ description: 'When status last changed.' }),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .meta({ description: 'A CamelCase reason for the last transition.' }),
    message: z.string().max(32768).meta({ description: 'What is happening, for people.' }),
  })
  .meta({ description: 'A condition, as metav1.Condition.' });
export type Condition = z.infer<typeof conditionSchema>;

/** Conditions list: one entry per type (a list-map on `type`, so server-side apply merges by type). */
export const conditionsSchema = z
  .array(conditionSchema)
  .max(32)
  .meta({
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  });

/** The generic condition types every Berth kind reports (see each kind for its domain conditions). */
export const ConditionType = {
  /** The object's desired state is in place and working. */
  Ready: 'Ready',
  /** The operator is moving the object towards its desired state (rollout, operation running). */
  Progressing: 'Progressing',
  /** Something is wrong that needs attention; the message says what. */
  Degraded: 'Degraded',
} as const;

/** Reason used with Ready=False when the spec does not parse; the message names the field. */
export const InvalidSpecReason = 'InvalidSpec';

// ---------------------------------------------------------------------------------------------------------
// References, selectors, scheduling, resources

export const localObjectReferenceSchema = z.strictObject({ name: dnsSubdomainSchema });

export const labelSelectorSchema = z
  .strictObject({
    matchLabels: z.record(z.string().max(317), z.string().max(63)).optional(),
    matchExpressions: z
      .array(
        z.strictObject({
          key: z.string().min(1).max(317),
          operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
          values: z.array(z.string().max(63)).max(64).optional(),
        }),
      )
      .max(16)
      .optional(),
  })
  .meta({ description: 'A label selector, as metav1.LabelSelector.' });
export type LabelSelector = z.infer<typeof labelSelectorSchema>;

export const tolerationSchema = z.strictObject({
  key: z.string().max(317).optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().max(63).optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.int().optional(),
});
export type Toleration = z.infer<typeof tolerationSchema>;

export const resourceRequirementsSchema = z
  .strictObject({
    limits: z.record(z.string().max(253), quantitySchema).optional(),
    requests: z.record(z.string().max(253), quantitySchema).optional(),
  })
  .meta({ description: 'Compute resources of the registry container, as corev1.ResourceRequirements.' });
export type ResourceRequirements = z.infer<typeof resourceRequirementsSchema>;

/**
 * Free-form object passed through to the pod spec unchanged (e.g. corev1.Affinity). The CRD keeps every
 * field (`x-kubernetes-preserve-unknown-fields`); the API server validates it when the operator writes the
 * Deployment.
 */
export const freeFormObjectSchema = z.record(z.string(), z.unknown());
