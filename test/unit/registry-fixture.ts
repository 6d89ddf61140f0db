// A parsed ContainerRegistry for unit tests: `reg` in namespace `team`, as if read from the API server.
import { mustParseContainerRegistry, type ContainerRegistry } from '../../operator/api/index.ts';

export function parsedRegistry(spec: Record<string, unknown>, generation = 1): ContainerRegistry {
  return mustParseContainerRegistry({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'ContainerRegistry',
    metadata: { name: 'reg', namespace: 'team', uid: 'u-1', generation },
    spec,
  });
}
