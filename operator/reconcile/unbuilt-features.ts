// Spec fields the API accepts but Berth does not act on yet. Each is said in its description and, when a
// registry uses it, as a problem (Degraded=True with the reason), so nobody relies on it unknowingly.
import { RegistryProblemReason, type ContainerRegistry } from '../api/index.ts';
import type { Problem } from './registry-status.ts';

export function unbuiltFeatures(cr: ContainerRegistry): Problem[] {
  const problems: Problem[] = [];
  const endpoints = cr.spec.notifications?.endpoints.filter((e) => !e.disabled) ?? [];
  if (endpoints.length > 0) {
    problems.push({
      reason: RegistryProblemReason.NotificationsNotDelivered,
      message: `spec.notifications: webhook delivery is not built yet; no event is sent to ${endpoints
        .map((e) => e.name)
        .join(', ')}`,
    });
  }
  return problems;
}
