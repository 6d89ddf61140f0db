// The PersistentVolumeClaim of filesystem storage, unless spec.storage.filesystem.claimName names the user's
// own. Under deletionPolicy Retain (the default) it has no ownerReference: it must outlive the registry.
import * as kplus from 'cdk8s-plus-28';
import type { ContainerRegistry } from '../../api/index.ts';
import { finishChild, synthesize } from '../child.ts';
import type { ChildBuilder } from '../context.ts';
import { childNames } from '../names.ts';

/** The claim registry pods mount: the user's or the generated one; undefined for object storage. */
export function dataClaimName(cr: ContainerRegistry): string | undefined {
  const fs = cr.spec.storage.filesystem;
  return fs === undefined ? undefined : (fs.claimName ?? childNames(cr.metadata.name).data);
}

export const dataClaim: ChildBuilder = (ctx) => {
  if (ctx.storage.driver !== 'filesystem' || ctx.storage.config.claimName !== undefined) return undefined;
  const fs = ctx.storage.config;
  const size =
    typeof fs.size === 'number'
      ? kplus.k8s.Quantity.fromNumber(fs.size)
      : kplus.k8s.Quantity.fromString(fs.size);
  const claim = synthesize(
    ctx.registry,
    (chart) =>
      new kplus.k8s.KubePersistentVolumeClaim(chart, 'data', {
        metadata: { name: ctx.names.data },
        spec: {
          accessModes: [fs.accessMode],
          resources: { requests: { storage: size } },
          ...(fs.storageClassName !== undefined ? { storageClassName: fs.storageClassName } : {}),
        },
      }),
  );
  return finishChild(ctx.registry, claim, 'storage', {
    owned: ctx.registry.spec.deletionPolicy !== 'Retain',
  });
};
