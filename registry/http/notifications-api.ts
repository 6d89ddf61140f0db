// The wire format of `GET /berth/v1/notifications`: how this registry pod's notification endpoints are doing,
// shared with its client (the operator copies it into the ContainerRegistry status). Figures count from the
// pod's start; a failure reason is a short code (`ECONNREFUSED`, `timeout`, `status 500`), never a URL or a
// header value.
import { z } from 'zod';

const count = z.int().min(0);
const time = z.iso.datetime({ offset: true });

export const endpointHealthSchema = z.object({
  name: z.string().min(1),
  /** No failed attempt since the last delivery. */
  healthy: z.boolean(),
  pending: count,
  sent: count,
  /** Failed delivery attempts (retries included). */
  failed: count,
  dropped: count,
  consecutiveFailures: count,
  /** Why the last failed attempt failed. */
  lastFailure: z.string().min(1).optional(),
  lastSuccessTime: time.optional(),
  /** The first failed attempt of the current run of failures; absent while healthy. */
  failingSince: time.optional(),
});
export type EndpointHealth = z.infer<typeof endpointHealthSchema>;

export const notificationsHealthResponseSchema = z.object({
  /** The pod (host name) that answered: every pod delivers, and counts, its own events. */
  pod: z.string().min(1),
  /** The enabled endpoints; empty when there is none. */
  endpoints: z.array(endpointHealthSchema),
});
export type NotificationsHealthResponse = z.infer<typeof notificationsHealthResponseSchema>;
