// The registry container's resources when the ContainerRegistry names none. Node sizes its heap from the
// memory limit, so the bench derives Berth's heap from it too (bench/registries.ts).

/** The default memory limit, MiB. */
export const registryMemoryLimitMiB = 1024;

export const registryDefaultResources = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { memory: `${String(registryMemoryLimitMiB)}Mi` },
};
