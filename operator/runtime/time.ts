// Time as Kubernetes objects hold it, and as operation run ids show it.

/** RFC 3339 with second precision, as metav1.Time serialises. */
export function kubeTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `<prefix>-<UTC yyyymmddhhmmss>`: a run id usable in object names, sorting by start time. */
export function timedId(prefix: string, d: Date): string {
  return `${prefix}-${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
}
