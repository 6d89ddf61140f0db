// ContainerRegistry (berth.dev/v1alpha1): a registry the operator deploys and runs.
import { z } from 'zod';
import { repositoryPatternSchema } from '../../registry/auth/patterns.ts';
import {
  S3_MAX_CHUNK_SIZE,
  S3_MIN_CHUNK_SIZE,
  S3_STORAGE_CLASSES,
} from '../../registry/storage/s3-params.ts';
import {
  apiVersion,
  conditionsSchema,
  freeFormObjectSchema,
  labelSelectorSchema,
  localObjectReferenceSchema,
  objectMetaSchema,
  resourceRequirementsSchema,
  tolerationSchema,
} from './common.ts';
import {
  cronSchema,
  dnsLabelSchema,
  dnsSubdomainSchema,
  goDuration,
  hostnameSchema,
  httpUrlSchema,
  quantitySchema,
  secretKeySchema,
} from './formats.ts';
import { withRules } from './rules.ts';

const describe = <S extends z.ZodType>(schema: S, description: string): S => schema.meta({ description });

// ---------------------------------------------------------------------------------------------------------
// storage

export const accessModes = ['ReadWriteOnce', 'ReadWriteOncePod', 'ReadWriteMany'] as const;

export const filesystemStorageSchema = describe(
  z.strictObject({
    size: describe(quantitySchema.default('10Gi'), 'Size of the PersistentVolumeClaim the operator creates.'),
    storageClassName: describe(
      z.string().min(1).max(253).optional(),
      'StorageClass of the claim; unset: the cluster default.',
    ),
    accessMode: describe(
      z.enum(accessModes).default('ReadWriteOnce'),
      'Access mode of the claim. More than one replica needs ReadWriteMany.',
    ),
    claimName: describe(
      dnsSubdomainSchema.optional(),
      'Use this existing PersistentVolumeClaim instead of creating one (size and storageClassName are then ignored; set accessMode to what the claim provides).',
    ),
  }),
  'A PersistentVolumeClaim mounted into every registry pod.',
);

export const s3StorageSchema = withRules(
  describe(
    z.strictObject({
      bucket: describe(z.string().min(3).max(63), 'Bucket name.'),
      region: describe(z.string().min(1).max(64).default('us-east-1'), 'Bucket region.'),
      endpoint: describe(
        httpUrlSchema.optional(),
        'S3-compatible endpoint URL (MinIO, Ceph, R2, ...); unset: AWS.',
      ),
      forcePathStyle: describe(
        z.boolean().default(false),
        'Path-style addressing (bucket in the path, not the host name); most S3-compatible servers need it.',
      ),
      rootDirectory: describe(
        z.string().max(1024).optional(),
        'Key prefix under which the registry keeps everything.',
      ),
      encrypt: describe(z.boolean().default(false), 'Server-side encryption of stored objects.'),
      kmsKeyId: describe(
        z.string().min(1).max(2048).optional(),
        'KMS key for server-side encryption (needs encrypt: true); unset: S3-managed keys.',
      ),
      credentialsSecretRef: describe(
        z
          .strictObject({
            name: dnsSubdomainSchema,
            accessKeyIdKey: secretKeySchema.default('AWS_ACCESS_KEY_ID'),
            secretAccessKeyKey: secretKeySchema.default('AWS_SECRET_ACCESS_KEY'),
          })
          .optional(),
        'Secret (in the registry namespace) holding the access key pair; unset: the default AWS credential chain (e.g. IRSA / pod identity).',
      ),
      // The keys below are optional without defaults: unset, config.yml leaves them out and the driver's own
      // defaults apply (so a registry that does not set them renders exactly as before they existed).
      storageClass: describe(
        z.enum(S3_STORAGE_CLASSES).optional(),
        'Storage class of new objects (storageclass); NONE sends none (for servers without classes). Unset: STANDARD.',
      ),
      chunkSize: describe(
        z.int().min(S3_MIN_CHUNK_SIZE).max(S3_MAX_CHUNK_SIZE).optional(),
        'Multipart part size in bytes (chunksize), 5 MiB to 5 GiB. Unset: 10 MiB.',
      ),
      secure: describe(
        z.boolean().optional(),
        "Distribution's secure: HTTPS or not. The endpoint URL's scheme already says it, so it must agree with it (true for https://, false for http://); AWS itself is HTTPS only.",
      ),
      skipVerify: describe(
        z.boolean().optional(),
        "Accept any TLS certificate from the endpoint (skipverify), e.g. a self-signed MinIO's. Unset: false.",
      ),
      maxRequestsPerSecond: describe(
        z.int().min(0).optional(),
        'Upper bound on requests per second from each registry pod to the bucket, retries included (maxrequestspersecond); 0 or unset: none.',
      ),
    }),
    'An S3 or S3-compatible bucket.',
  ),
  [
    {
      cel: {
        rule: '!has(self.kmsKeyId) || (has(self.encrypt) && self.encrypt)',
        message: 'kmsKeyId needs encrypt: true',
        fieldPath: '.kmsKeyId',
      },
      check: (s) => s.kmsKeyId === undefined || s.encrypt,
    },
    {
      // The registry takes the scheme of a full endpoint URL over `secure` (as Distribution does), so a
      // contradicting value would be ignored there: refuse it here instead.
      cel: {
        rule: "!has(self.secure) || (has(self.endpoint) ? self.endpoint.startsWith(self.secure ? 'https://' : 'http://') : self.secure)",
        message:
          'secure must agree with the endpoint: true for https://, false for http://; AWS is HTTPS only',
        fieldPath: '.secure',
      },
      check: (s) =>
        s.secure === undefined ||
        (s.endpoint !== undefined ? s.endpoint.startsWith(s.secure ? 'https://' : 'http://') : s.secure),
    },
  ],
);

export const gcsStorageSchema = describe(
  z.strictObject({
    bucket: describe(z.string().min(3).max(222), 'Bucket name.'),
    rootDirectory: describe(z.string().max(1024).optional(), 'Object name prefix.'),
    credentialsSecretRef: describe(
      z
        .strictObject({
          name: dnsSubdomainSchema,
          key: secretKeySchema.default('credentials.json'),
        })
        .optional(),
      'Secret holding a service-account key file (JSON); unset: the default credentials (e.g. Workload Identity).',
    ),
  }),
  'A Google Cloud Storage bucket.',
);

export const azureStorageSchema = describe(
  z.strictObject({
    accountName: describe(
      z
        .string()
        .min(3)
        .max(24)
        .regex(/^[a-z0-9]+$/, { error: 'must be 3-24 lowercase letters and digits' }),
      'Storage account name.',
    ),
    container: describe(dnsLabelSchema.min(3), 'Blob container name.'),
    rootDirectory: describe(z.string().max(1024).optional(), 'Blob name prefix.'),
    endpoint: describe(
      httpUrlSchema.optional(),
      'Blob service URL (e.g. Azurite or a sovereign cloud); unset: https://<accountName>.blob.core.windows.net.',
    ),
    credentialsSecretRef: describe(
      z
        .strictObject({
          name: dnsSubdomainSchema,
          accountKeyKey: secretKeySchema.default('accountKey'),
        })
        .optional(),
      'Secret holding the account key; unset: the default Azure credentials (e.g. Workload Identity).',
    ),
  }),
  'An Azure Blob Storage container.',
);

export const storageCacheSchema = withRules(
  describe(
    z.strictObject({
      blobDescriptor: describe(
        z.enum(['inmemory']).optional(),
        'inmemory: each registry pod remembers blob sizes and links it has seen (storage.cache.blobdescriptor), sparing object-store round trips on blob HEAD and redirected GET. Unset: no cache.',
      ),
      blobDescriptorSize: describe(
        z.int().min(1).optional(),
        'Entries the cache keeps (storage.cache.blobdescriptorsize). Unset: 10000.',
      ),
    }),
    'Caches of the registry (storage.cache).',
  ),
  [
    {
      cel: {
        rule: '!has(self.blobDescriptorSize) || has(self.blobDescriptor)',
        message: 'blobDescriptorSize needs blobDescriptor',
        fieldPath: '.blobDescriptorSize',
      },
      check: (c) => c.blobDescriptorSize === undefined || c.blobDescriptor !== undefined,
    },
  ],
);

export const storageDrivers = ['filesystem', 's3', 'gcs', 'azure'] as const;
export type StorageDriver = (typeof storageDrivers)[number];

export const storageSchema = withRules(
  describe(
    z.strictObject({
      filesystem: filesystemStorageSchema.optional(),
      s3: s3StorageSchema.optional(),
      gcs: gcsStorageSchema.optional(),
      azure: azureStorageSchema.optional(),
      delete: describe(
        z.boolean().default(false),
        'Allow deleting manifests and tags through the API (storage.delete.enabled). CleanupPolicies need it.',
      ),
      redirect: describe(
        z.boolean().default(true),
        'Redirect blob downloads to presigned URLs of the object store (ignored for filesystem storage). Clients must be able to reach the store.',
      ),
      cache: storageCacheSchema.optional(),
      uploadPurging: describe(
        z
          .strictObject({
            enabled: z.boolean().default(true),
            age: goDuration({ min: '1h' }).default('168h'),
            interval: goDuration({ min: '1m' }).default('24h'),
            dryRun: z.boolean().default(false),
          })
          .prefault({}),
        'Removal of abandoned uploads older than age, every interval (paused while read-only).',
      ),
      migration: describe(
        z
          .strictObject({
            readOnlyBudget: describe(
              goDuration({ min: '10s', max: '24h' }).default('10m'),
              'Longest read-only window of a migration (from switching to read-only until the final sync ' +
                'is verified). A final sync that would take longer is given up: the registry goes back to ' +
                'read-write on the source and syncs again (three times at most, then the migration fails).',
            ),
          })
          .prefault({}),
        'How a change of location is carried out (see storage).',
      ),
    }),
    'Where the registry keeps its data: exactly one of filesystem, s3, gcs, azure. Changing the location ' +
      '(driver, bucket, endpoint, root directory, claim) migrates the data: the registry keeps serving from the ' +
      'source while Jobs copy it online, then goes read-only for a final sync with deletes and a verify ' +
      '(bounded by migration.readOnlyBudget), switches to the target and returns to read-write. Reverting ' +
      'the spec during a migration aborts it. The source data is kept. Changing anything else (credentials, ' +
      'redirect, cache, delete) applies in place.',
  ),
  [
    {
      cel: {
        rule: '[has(self.filesystem), has(self.s3), has(self.gcs), has(self.azure)].filter(x, x).size() == 1',
        message: 'exactly one storage driver must be set: filesystem, s3, gcs or azure',
      },
      check: (s) => storageDrivers.filter((d) => s[d] !== undefined).length === 1,
    },
  ],
);
export type StorageSpec = z.infer<typeof storageSchema>;
export type FilesystemStorage = z.infer<typeof filesystemStorageSchema>;
export type S3Storage = z.infer<typeof s3StorageSchema>;
export type GcsStorage = z.infer<typeof gcsStorageSchema>;
export type AzureStorage = z.infer<typeof azureStorageSchema>;

export type SelectedStorage =
  | { driver: 'filesystem'; config: FilesystemStorage }
  | { driver: 's3'; config: S3Storage }
  | { driver: 'gcs'; config: GcsStorage }
  | { driver: 'azure'; config: AzureStorage };

/** The one configured driver of a parsed storage spec (the schema guarantees exactly one). */
export function selectedStorage(storage: StorageSpec): SelectedStorage {
  if (storage.filesystem !== undefined) return { driver: 'filesystem', config: storage.filesystem };
  if (storage.s3 !== undefined) return { driver: 's3', config: storage.s3 };
  if (storage.gcs !== undefined) return { driver: 'gcs', config: storage.gcs };
  if (storage.azure !== undefined) return { driver: 'azure', config: storage.azure };
  throw new Error('no storage driver configured');
}

/** Whether every replica can use the storage at once (object storage, or a ReadWriteMany claim). */
export function isSharedStorage(storage: StorageSpec): boolean {
  return storage.filesystem === undefined || storage.filesystem.accessMode === 'ReadWriteMany';
}

// ---------------------------------------------------------------------------------------------------------
// ingress

export const ingressSchema = withRules(
  describe(
    z.strictObject({
      enabled: describe(z.boolean().default(false), 'Create an Ingress for the registry.'),
      className: describe(
        z.string().min(1).max(253).optional(),
        'IngressClass; unset: the cluster default. Picks the default annotations large pushes need: nginx (also when unset) and traefik get them, any other class none.',
      ),
      host: describe(
        hostnameSchema.optional(),
        'Host name clients use (docker login <host>). Required when enabled.',
      ),
      annotations: describe(
        z.record(z.string().max(317), z.string()).optional(),
        "Extra Ingress annotations; they override the operator's defaults for the class (body size, timeouts, buffering, TLS).",
      ),
      tls: describe(
        withRules(
          z.strictObject({
            secretName: describe(
              dnsSubdomainSchema.optional(),
              'An existing kubernetes.io/tls Secret with the certificate for host.',
            ),
            issuerRef: describe(
              z
                .strictObject({
                  name: dnsSubdomainSchema,
                  kind: z.enum(['Issuer', 'ClusterIssuer']).default('ClusterIssuer'),
                  group: z.string().min(1).max(253).default('cert-manager.io'),
                })
                .optional(),
              'A cert-manager issuer that issues the certificate (through the Ingress annotation).',
            ),
          }),
          [
            {
              cel: {
                rule: '!(has(self.secretName) && has(self.issuerRef))',
                message: 'set either tls.secretName or tls.issuerRef, not both',
              },
              check: (t) => t.secretName === undefined || t.issuerRef === undefined,
            },
          ],
        ).prefault({}),
        'TLS for host: at most one of secretName or issuerRef; with neither, the operator generates a self-signed certificate.',
      ),
    }),
    'How clients outside the cluster reach the registry.',
  ),
  [
    {
      cel: {
        rule: '!has(self.enabled) || !self.enabled || has(self.host)',
        message: 'ingress.host is required when the ingress is enabled',
        fieldPath: '.host',
        reason: 'FieldValueRequired',
      },
      check: (i) => !i.enabled || i.host !== undefined,
    },
  ],
);
export type IngressSpec = z.infer<typeof ingressSchema>;

// ---------------------------------------------------------------------------------------------------------
// auth

export const authSchema = describe(
  z.strictObject({
    issuer: describe(
      z.string().min(1).max(253).default('berth-token-issuer'),
      'Token issuer name (the iss claim the registry checks).',
    ),
    service: describe(
      z.string().min(1).max(253).default('berth-registry'),
      'Service name (the aud claim; docker sends it as service=).',
    ),
    tokenLifetime: describe(
      goDuration({ min: '1m', max: '24h' }).default('5m'),
      'Lifetime of the bearer tokens the issuer signs.',
    ),
    publicRepositories: describe(
      z.array(repositoryPatternSchema).max(100).default([]),
      'Repository patterns anyone may pull without logging in ("library/**", "base/*").',
    ),
    accessTokensFrom: describe(
      labelSelectorSchema.optional(),
      'Secrets in the registry namespace with these labels hold access-token files (written by `berth-registry access-token create`); they are projected into the token issuer. Unset: no access tokens.',
    ),
    serviceAccountAccess: describe(
      z
        .strictObject({
          enabled: z.boolean().default(false),
          namespaces: describe(
            z.array(dnsLabelSchema).max(256).optional(),
            'Namespaces whose ServiceAccounts may log in; unset: all.',
          ),
          audiences: describe(
            z.array(z.string().min(1).max(253)).max(8).optional(),
            'Audiences the ServiceAccount tokens must carry; unset: the API server default.',
          ),
        })
        .prefault({}),
      'Logins with Kubernetes ServiceAccount tokens (docker login -u serviceaccount): a ServiceAccount may pull and push <its namespace>/**. The token issuer checks them with TokenReview.',
    ),
  }),
  'Token authentication: the operator runs a token issuer next to the registry.',
);
export type AuthSpec = z.infer<typeof authSchema>;

// ---------------------------------------------------------------------------------------------------------
// maintenance: garbage collection, maintenance windows

export const garbageCollectionSchema = describe(
  z.strictObject({
    schedule: describe(
      cronSchema.optional(),
      'When to collect garbage (cron, UTC); unset: only on demand. The registry is read-only during the sweep.',
    ),
    deleteUntagged: describe(
      z.boolean().default(false),
      'Also delete manifests no tag points to (garbage-collect --delete-untagged).',
    ),
    dryRun: describe(z.boolean().default(false), 'Report what would be freed; delete nothing.'),
    suspend: describe(
      z.boolean().default(false),
      'Start no new runs, scheduled or on demand (a run under way finishes).',
    ),
    timeout: describe(
      goDuration({ min: '1m', max: '24h' }).default('1h'),
      'Longest a run may take; the registry leaves read-only mode then, whatever happened.',
    ),
  }),
  'Garbage collection of unreferenced blobs.',
);
export type GarbageCollectionSpec = z.infer<typeof garbageCollectionSchema>;

export const maintenanceWindowSchema = z.strictObject({
  schedule: describe(cronSchema, 'When the window opens (cron, UTC).'),
  duration: describe(goDuration({ min: '1m', max: '168h' }), 'How long it stays open.'),
});
export type MaintenanceWindow = z.infer<typeof maintenanceWindowSchema>;

// ---------------------------------------------------------------------------------------------------------
// notifications

export const notificationEndpointSchema = z.strictObject({
  name: describe(dnsLabelSchema, 'Unique name of the endpoint.'),
  url: describe(httpUrlSchema, 'Where events are POSTed.'),
  headers: describe(
    z.record(z.string().min(1).max(256), z.array(z.string())).optional(),
    'Extra headers (name: [values]).',
  ),
  headersSecretRef: describe(
    localObjectReferenceSchema.optional(),
    'A Secret whose keys are header names and values header values (e.g. Authorization), for credentials.',
  ),
  timeout: describe(goDuration().default('1s'), 'How long one delivery attempt may take.'),
  threshold: describe(
    z.int().min(0).max(1000).default(10),
    'Consecutive failed attempts after which every retry first waits backoff.',
  ),
  backoff: describe(goDuration().default('1s'), 'The wait before a retry once threshold is reached.'),
  maxRetries: describe(
    z.int().min(0).max(1000).optional(),
    'Retries of a failed event before it is dropped (and counted in registry_notifications_dropped_total); ' +
      'unset: retried until delivered or pushed out of the queue of 1000 events.',
  ),
  ignoredMediaTypes: describe(
    z.array(z.string().max(255)).max(64).optional(),
    'Events whose target has one of these media types are not sent (blobs are application/octet-stream).',
  ),
  ignoredActions: describe(
    z
      .array(z.enum(['pull', 'push', 'delete', 'mount']))
      .max(4)
      .optional(),
    'Events with these actions are not sent.',
  ),
  disabled: describe(z.boolean().default(false), 'Keep the endpoint configured but send it nothing.'),
});
export type NotificationEndpoint = z.infer<typeof notificationEndpointSchema>;

export const notificationsSchema = describe(
  z.strictObject({
    endpoints: z
      .array(notificationEndpointSchema)
      .max(16)
      .default([])
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
    includeReferences: describe(
      z.boolean().default(false),
      'Include references (layers, index children) in events.',
    ),
  }),
  'Webhook notifications: every registry pod POSTs push, pull, mount and delete events of blobs and manifests ' +
    'to each enabled endpoint in the Distribution envelope (application/vnd.docker.distribution.events.v1+json), ' +
    'from a bounded in-memory queue per endpoint (events still queued when a pod stops get a short flush, then ' +
    'are dropped). Delivery is reported in the registry metrics registry_notifications_{pending,sent_total,' +
    'failed_total,dropped_total}.',
);
export type NotificationsSpec = z.infer<typeof notificationsSchema>;

// ---------------------------------------------------------------------------------------------------------
// spec

export const deletionPolicies = ['Retain', 'Delete'] as const;

export const containerRegistrySpecSchema = withRules(
  z.strictObject({
    replicas: describe(
      z.int().min(1).max(100).default(1),
      'Registry pods. More than one needs shared storage: object storage or a ReadWriteMany claim.',
    ),
    image: describe(
      z.string().min(1).max(1024).optional(),
      "Image of the registry and token issuer; unset: the operator's own image (the chart's registryImage).",
    ),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
    imagePullSecrets: z.array(localObjectReferenceSchema).max(16).optional(),
    resources: resourceRequirementsSchema.optional(),
    nodeSelector: z.record(z.string().max(317), z.string().max(63)).optional(),
    tolerations: z.array(tolerationSchema).max(64).optional(),
    affinity: describe(freeFormObjectSchema.optional(), 'Pod affinity rules, as corev1.Affinity.'),
    readOnly: describe(
      z.boolean().default(false),
      'Refuse pushes and deletes (maintenance read-only mode), without restarting pods.',
    ),
    storage: storageSchema,
    ingress: ingressSchema.prefault({}),
    auth: authSchema.prefault({}),
    garbageCollection: garbageCollectionSchema.prefault({}),
    maintenanceWindows: describe(
      z.array(maintenanceWindowSchema).max(16).optional(),
      'When read-only phases (the GC sweep, the final sync of a storage migration) may start; unset or empty: any time.',
    ),
    notifications: notificationsSchema.optional(),
    usage: describe(
      z
        .strictObject({
          enabled: describe(
            z.boolean().default(true),
            'Scan the storage for usage (false: no scans, no status.usage).',
          ),
          interval: describe(
            goDuration({ min: '1m' }).default('10m'),
            'Time between the registry’s storage usage scans; the operator copies each result into status.usage.',
          ),
        })
        .optional(),
      'Storage usage per repository (GET /berth/v1/usage, status.usage). Unset: scans every 10m.',
    ),
    deletionPolicy: describe(
      z.enum(deletionPolicies).default('Retain'),
      'What happens to the stored images when the ContainerRegistry is deleted: Retain keeps the PersistentVolumeClaim (bucket data is never touched); Delete removes the claim the operator created.',
    ),
  }),
  [
    {
      cel: {
        rule: "!has(self.replicas) || self.replicas <= 1 || !has(self.storage.filesystem) || (has(self.storage.filesystem.accessMode) && self.storage.filesystem.accessMode == 'ReadWriteMany')",
        message:
          'replicas > 1 needs shared storage: filesystem storage with accessMode ReadWriteMany, or s3, gcs or azure',
        fieldPath: '.replicas',
      },
      check: (spec) => spec.replicas <= 1 || isSharedStorage(spec.storage),
    },
  ],
);
export type ContainerRegistrySpec = z.infer<typeof containerRegistrySpecSchema>;
/** What a user may write (defaults not yet applied). */
export type ContainerRegistrySpecInput = z.input<typeof containerRegistrySpecSchema>;

// ---------------------------------------------------------------------------------------------------------
// status

const timestamp = z.iso.datetime({ offset: true });

export const operationTypes = ['GarbageCollection', 'StorageMigration'] as const;

/**
 * The maintenance operation in progress (a resumable state machine). Only the common fields are typed; an
 * operation records its own progress next to them (the CRD keeps unknown fields here).
 */
export const operationStatusSchema = z.looseObject({
  type: z.enum(operationTypes),
  id: describe(z.string().min(1).max(253), 'Unique per run (e.g. used in the Job name).'),
  phase: describe(z.string().min(1).max(64), 'The state machine step.'),
  startTime: timestamp,
  phaseStartTime: timestamp.optional(),
  attempt: z.int().min(0).optional(),
  message: z.string().max(32768).optional(),
});
export type OperationStatus = z.infer<typeof operationStatusSchema>;

export const garbageCollectionResultSchema = z.strictObject({
  id: describe(z.string().max(253).optional(), 'The run (status.operation.id while it ran).'),
  trigger: describe(z.enum(['Schedule', 'OnDemand']).optional(), 'What started the run.'),
  request: describe(
    z.string().max(1024).optional(),
    'The last berth.dev/garbage-collect annotation value acknowledged (a run was started for it).',
  ),
  startTime: timestamp,
  completionTime: timestamp.optional(),
  result: z.enum(['Succeeded', 'Failed', 'TimedOut', 'Aborted']),
  dryRun: z.boolean().default(false),
  readOnlySeconds: describe(
    z.number().min(0).optional(),
    'How long the registry was read-only for the run: from switching until read-write was confirmed.',
  ),
  blobsDeleted: z.int().min(0).optional(),
  manifestsDeleted: z.int().min(0).optional(),
  bytesFreed: z.int().min(0).optional(),
  message: z.string().max(32768).optional(),
});

const storageIdentitySchema = z.strictObject({
  driver: z.enum(storageDrivers),
  description: describe(z.string().max(1024), 'The location, for people (no credentials).'),
  hash: describe(z.string().max(128), 'Hash of the location: equal hashes name the same data.'),
});

export const migrationResultSchema = z.strictObject({
  id: describe(z.string().max(253), 'The run (status.operation.id while it ran).'),
  request: describe(
    z.string().max(1024).optional(),
    'The berth.dev/migrate annotation value acknowledged (a failed migration is retried for a new value).',
  ),
  startTime: timestamp,
  completionTime: timestamp,
  result: z.enum(['Succeeded', 'Failed', 'Aborted']),
  from: storageIdentitySchema,
  to: storageIdentitySchema,
  objectsCopied: z.int().min(0),
  bytesCopied: z.int().min(0),
  readOnlySeconds: describe(
    z.number().min(0),
    'How long the registry was read-only, over every read-only window of the run.',
  ),
  passes: describe(z.int().min(0), '`berth-registry migrate` runs that completed (online and final).'),
  generation: describe(z.int().min(0), 'metadata.generation when it ended.'),
  sourceData: describe(
    z.enum(['Kept', 'DeleteRequested']).optional(),
    'What became of the source after a success (Berth keeps it).',
  ),
  message: z.string().max(32768),
});

/** How many repositories status.usage lists (the largest). */
export const usageTopRepositories = 10;

export const storageUsageStatusSchema = z.strictObject({
  totalBytes: describe(
    z.int().min(0),
    'Bytes of every blob some repository holds, each counted once however many repositories share it.',
  ),
  repositories: describe(
    z
      .array(z.strictObject({ name: z.string().min(1).max(255), bytes: z.int().min(0) }))
      .max(usageTopRepositories),
    `The ${String(usageTopRepositories)} largest repositories: the bytes of the distinct blobs each holds.`,
  ),
  scannedAt: describe(timestamp, "When the registry's usage scan these numbers come from finished."),
});
export type StorageUsageStatus = z.infer<typeof storageUsageStatusSchema>;

const deliveries = z.int().min(0);

export const notificationEndpointStatusSchema = z.strictObject({
  name: describe(dnsLabelSchema, 'The endpoint (spec.notifications.endpoints[].name).'),
  healthy: describe(z.boolean(), 'No failed delivery attempt since the last successful one.'),
  pending: describe(deliveries, 'Events queued for the endpoint, waiting to be delivered.'),
  sent: describe(deliveries, 'Events the endpoint accepted.'),
  failed: describe(deliveries, 'Failed delivery attempts, retries included.'),
  dropped: describe(deliveries, 'Events given up: queue full, retries exhausted, or the pod stopping.'),
  lastFailure: describe(
    z.string().max(128).optional(),
    'Why the last failed attempt failed: a short reason such as ECONNREFUSED, timeout or status 500.',
  ),
  failingSince: describe(
    timestamp.optional(),
    'When the current run of failed attempts began; absent while healthy.',
  ),
});
export type NotificationEndpointStatus = z.infer<typeof notificationEndpointStatusSchema>;

export const notificationsStatusSchema = z.strictObject({
  endpoints: describe(
    z
      .array(notificationEndpointStatusSchema)
      .max(16)
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
    'Each enabled endpoint.',
  ),
  pod: describe(
    z.string().max(253),
    'The registry pod that answered: every pod delivers its own events, and these figures are that one ' +
      'pod’s; its counters reset when it restarts.',
  ),
  checkedAt: describe(timestamp, 'When the operator asked.'),
});
export type NotificationsStatus = z.infer<typeof notificationsStatusSchema>;

export const containerRegistryStatusSchema = z.strictObject({
  observedGeneration: z.int().min(0).optional(),
  conditions: conditionsSchema.optional(),
  endpoint: describe(
    z.string().max(2048).optional(),
    'Where clients reach the registry: https://<ingress host>, or the in-cluster Service URL.',
  ),
  replicas: z.int().min(0).optional(),
  readyReplicas: z.int().min(0).optional(),
  readOnly: describe(z.boolean().optional(), 'Whether the registry fleet is currently read-only.'),
  storage: describe(
    storageSchema.optional(),
    'The storage the registry serves from: spec.storage, except while a migration to a new location runs ' +
      '(the source until the switch) or after one failed (the source).',
  ),
  lastGarbageCollection: garbageCollectionResultSchema.optional(),
  lastMigration: describe(migrationResultSchema.optional(), 'The last storage migration, once it ended.'),
  operation: describe(operationStatusSchema.optional(), 'The maintenance operation in progress, if any.'),
  usage: describe(
    storageUsageStatusSchema.optional(),
    'Storage used, from the registry (GET /berth/v1/usage), copied at its scan interval (spec.usage.interval).',
  ),
  notifications: describe(
    notificationsStatusSchema.optional(),
    'Health of the webhook notification endpoints, from one registry pod (GET /berth/v1/notifications), ' +
      'checked every minute while spec.notifications has an enabled endpoint.',
  ),
});
export type ContainerRegistryStatus = z.infer<typeof containerRegistryStatusSchema>;

/** The domain condition types of a ContainerRegistry (next to Ready, Progressing, Degraded). */
export const RegistryConditionType = {
  /** The storage is provisioned and the registry's storage health check passes. */
  StorageReady: 'StorageReady',
  /** The token issuer is running and its keys are in place. */
  AuthReady: 'AuthReady',
  /** The Ingress has an address and a certificate. */
  IngressReady: 'IngressReady',
  /** Every replica reports read-only mode (spec.readOnly, or a maintenance operation). */
  ReadOnly: 'ReadOnly',
  /** A garbage collection is running. */
  GarbageCollecting: 'GarbageCollecting',
  /** A storage migration is running (or the last one failed). */
  Migrating: 'Migrating',
} as const;

// ---------------------------------------------------------------------------------------------------------
// the object

export const containerRegistryKind = 'ContainerRegistry';

/** Longest ContainerRegistry name: child objects are named `<name>-<suffix>` within the 63-character limit. */
export const maxRegistryNameLength = 40;

export const containerRegistrySchema = withRules(
  z.object({
    apiVersion: z.literal(apiVersion),
    kind: z.literal(containerRegistryKind),
    metadata: objectMetaSchema,
    spec: containerRegistrySpecSchema,
    status: containerRegistryStatusSchema.optional(),
  }),
  [
    {
      cel: {
        rule: `self.metadata.name.size() <= ${String(maxRegistryNameLength)} && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')`,
        message: `ContainerRegistry names must be DNS-1035 labels (lowercase letters, digits and "-", starting with a letter) of at most ${String(maxRegistryNameLength)} characters: they name Services`,
      },
      path: ['metadata', 'name'],
      check: (o) =>
        o.metadata.name.length <= maxRegistryNameLength &&
        /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(o.metadata.name),
    },
  ],
);
export type ContainerRegistry = z.infer<typeof containerRegistrySchema>;
