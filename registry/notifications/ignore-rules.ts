// An endpoint's filters, as Distribution applies them: `ignoredmediatypes` and `ignore.mediatypes` match the
// target's media type exactly; `ignore.actions` matches the event's action.
import type { NotificationEvent } from './envelope.ts';

export interface IgnoreRules {
  ignoredmediatypes: string[];
  ignore: { mediatypes: string[]; actions: string[] };
}

export function ignoredBy(rules: IgnoreRules): (event: NotificationEvent) => boolean {
  const mediaTypes = new Set([...rules.ignoredmediatypes, ...rules.ignore.mediatypes]);
  const actions = new Set(rules.ignore.actions);
  return (event) =>
    actions.has(event.action) ||
    (event.target.mediaType !== undefined && mediaTypes.has(event.target.mediaType));
}
