// The registry container's resources when the ContainerRegistry names none. Node sizes its heap from the
// container's memory limit (half of it for the old generation: a 1 GiB limit gives the same heap limit as
// --max-old-space-size=512), so the bench runs Berth with that heap to measure it as its pods run
// (bench/registries.ts).

/** The default memory limit, MiB. */
export const registryMemoryLimitMiB = 1024;

export const registryDefaultResources = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { memory: `${String(registryMemoryLimitMiB)}Mi` },
};

/** The old-generation limit Node 24 derives from the default memory limit. */
export const registryPodOldSpaceMiB = registryMemoryLimitMiB / 2;
