// The two custom resources as the API server knows them: names, scope, printer columns and the zod schema
// each CRD is generated from. The operator uses the same descriptors for API paths and watches.
import type { z } from 'zod';
import { cleanupPolicyKind, cleanupPolicySchema } from './cleanup-policy.ts';
import { group, version } from './common.ts';
import { containerRegistryKind, containerRegistrySchema } from './container-registry.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface ResourceDefinition {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  scope: 'Namespaced';
  description: string;
  /** The whole object (apiVersion, kind, metadata, spec, status); the CRD schema comes from spec and status. */
  schema: z.ZodType;
  printerColumns: PrinterColumn[];
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const containerRegistryResource: ResourceDefinition = {
  group,
  version,
  kind: containerRegistryKind,
  listKind: 'ContainerRegistryList',
  plural: 'containerregistries',
  singular: 'containerregistry',
  shortNames: ['creg'],
  categories: ['berth'],
  scope: 'Namespaced',
  description:
    'An OCI container registry run by the Berth operator: registry and token-issuer Deployments, storage, Ingress with TLS, and scheduled maintenance.',
  schema: containerRegistrySchema,
  printerColumns: [
    {
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: 'Whether the registry serves.',
    },
    {
      name: 'Endpoint',
      type: 'string',
      jsonPath: '.status.endpoint',
      description: 'Where clients reach the registry.',
    },
    {
      name: 'Reason',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
      priority: 1,
    },
    {
      name: 'Operation',
      type: 'string',
      jsonPath: '.status.operation.phase',
      description:
        'The phase of the maintenance operation in progress (garbage collection, storage migration).',
    },
    { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas', priority: 1 },
    {
      name: 'Failing Hooks',
      type: 'string',
      jsonPath: '.status.notifications.endpoints[?(@.healthy==false)].name',
      description: 'Notification endpoints whose deliveries are failing.',
      priority: 1,
    },
    age,
  ],
};

export const cleanupPolicyResource: ResourceDefinition = {
  group,
  version,
  kind: cleanupPolicyKind,
  listKind: 'CleanupPolicyList',
  plural: 'cleanuppolicies',
  singular: 'cleanuppolicy',
  shortNames: ['cpol'],
  categories: ['berth'],
  scope: 'Namespaced',
  description:
    'Which tags of a ContainerRegistry expire and when the cleanup runs (GitLab cleanup-policy semantics).',
  schema: cleanupPolicySchema,
  printerColumns: [
    {
      name: 'Registry',
      type: 'string',
      jsonPath: '.spec.registryRef.name',
      description: 'The ContainerRegistry it cleans up.',
    },
    {
      name: 'Last run',
      type: 'date',
      jsonPath: '.status.lastRun.startTime',
      description: 'When the last run started.',
    },
    {
      name: 'Result',
      type: 'string',
      jsonPath: '.status.lastRun.result',
      priority: 1,
    },
    { name: 'Next run', type: 'date', jsonPath: '.status.nextRun', priority: 1 },
    age,
  ],
};

export const resources: readonly ResourceDefinition[] = [containerRegistryResource, cleanupPolicyResource];
