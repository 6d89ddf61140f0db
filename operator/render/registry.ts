// The desired children of a ContainerRegistry: one builder per child object (operator/render/children), each
// rendered in memory with cdk8s and cdk8s-plus-28. Pure: the same inputs always give the same objects (no
// clocks, no randomness — generated key material is an input), so an unchanged registry re-applies
// byte-identical objects and the API server writes nothing.
//
//   ServiceAccounts           <name>-registry, <name>-token-issuer (only the issuer may mount a token)
//   Secrets                   <name>-token-signing (key + certificate), <name>-http-secret,
//                             <name>-access-tokens (merged access-token files, when accessTokensFrom is set),
//                             <name>-selfsigned-tls (Ingress without secretName/issuerRef)
//   ConfigMap                 <name>-config: config.yml (registry), token-server.yml (issuer)
//   PersistentVolumeClaim     <name>-data (filesystem storage without claimName)
//   Services + Deployments    <name>-registry (:5000), <name>-token-issuer (:5001)
//   PodDisruptionBudget       <name>-registry when replicas > 1
//   Ingress                   <name>: /v2/ and /berth/ → registry, /auth/token → issuer, TLS, the annotations
//                             its IngressClass needs for large pushes (ingress-class.ts)
//
// Every child carries the registry's labels and a controller ownerReference — except the PVC under
// deletionPolicy Retain (the default), which must outlive the ContainerRegistry and so is only labelled.
// Each pod template carries a hash of what its pods read at start (config, key material, credentials), so a
// change that needs new pods rolls them; switching read-only mode does not (the registry reloads config.yml).
import type { KubeObject } from '../runtime/objects.ts';
import { registryEndpoint } from './config.ts';
import { renderContext, type ChildBuilder, type RenderInput } from './context.ts';
import { configMap } from './children/config-map.ts';
import { dataClaim } from './children/data-claim.ts';
import { ingress } from './children/ingress.ts';
import { issuerDeployment } from './children/issuer-deployment.ts';
import { podDisruptionBudget } from './children/pod-disruption-budget.ts';
import { registryDeployment } from './children/registry-deployment.ts';
import {
  accessTokensSecret,
  registryHttpSecret,
  selfSignedCertificateSecret,
  signingKeysSecret,
} from './children/secrets.ts';
import { issuerServiceAccount, registryServiceAccount } from './children/service-accounts.ts';
import { issuerService, registryService } from './children/services.ts';
import type { ChildNames } from './names.ts';

export type { ReferencedSecret, RenderInput } from './context.ts';

export interface RenderOutput {
  /** In apply order: what pods need first, then workloads, then the way in. */
  objects: KubeObject[];
  endpoint: string;
  /** Pod-template hashes. */
  registryHash: string;
  issuerHash: string;
  names: ChildNames;
}

/** Every child builder, in apply order. */
const childBuilders: readonly ChildBuilder[] = [
  registryServiceAccount,
  issuerServiceAccount,
  signingKeysSecret,
  registryHttpSecret,
  accessTokensSecret,
  selfSignedCertificateSecret,
  configMap,
  dataClaim,
  registryService,
  issuerService,
  registryDeployment,
  issuerDeployment,
  podDisruptionBudget,
  ingress,
];

/** The registry's children. Throws ConfigRenderError when a config file fails the registry's own schema. */
export function renderRegistry(input: RenderInput): RenderOutput {
  const ctx = renderContext(input);
  const objects = childBuilders.flatMap((build) => build(ctx) ?? []);
  return {
    objects,
    endpoint: registryEndpoint(ctx.registry),
    registryHash: ctx.podConfigHash.registry,
    issuerHash: ctx.podConfigHash.issuer,
    names: ctx.names,
  };
}
