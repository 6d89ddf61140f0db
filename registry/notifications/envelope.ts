// Distribution's notification envelope: what an endpoint receives. The shape and field names are Distribution's
// (notifications/event.go), so receivers written for Distribution or GitLab's registry read Berth's events.
import { randomUUID } from 'node:crypto';

/** Distribution 2.x and GitLab's registry send v1 (Distribution v3 renamed it v2+json; the body is the same). */
export const eventsMediaType = 'application/vnd.docker.distribution.events.v1+json';

export const eventActions = ['push', 'pull', 'delete', 'mount'] as const;
export type EventAction = (typeof eventActions)[number];

export interface EventTarget {
  mediaType?: string;
  digest?: string;
  size?: number;
  /** Same as size; Distribution keeps it for older receivers. */
  length?: number;
  repository: string;
  /** The source repository of a mount. */
  fromRepository?: string;
  url?: string;
  /** Set when the manifest was pushed or pulled by tag, and on a tag delete. */
  tag?: string;
  /** A manifest's config and layers, or an index's manifests, with `events.includereferences`. */
  references?: unknown[];
}

export interface RequestRecord {
  id: string;
  addr: string;
  host: string;
  method: string;
  useragent: string;
}

export interface SourceRecord {
  addr: string;
  instanceID: string;
}

/** What a request handler knows about an event; the dispatcher adds id, timestamp and source. */
export interface EventDraft {
  action: EventAction;
  target: EventTarget;
  request: RequestRecord;
  actor: { name?: string };
}

export interface NotificationEvent extends EventDraft {
  id: string;
  timestamp: string;
  source: SourceRecord;
}

export function completeEvent(draft: EventDraft, source: SourceRecord): NotificationEvent {
  return { id: randomUUID(), timestamp: new Date().toISOString(), ...draft, source };
}

/** The POST body for one delivery. */
export function envelopeBody(events: readonly NotificationEvent[]): string {
  return JSON.stringify({ events });
}
