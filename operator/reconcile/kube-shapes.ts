// The parts of the Kubernetes objects the ContainerRegistry reconciler reads (children's status, Secret data).
import type { KubeObject } from '../runtime/objects.ts';

export interface DeploymentCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface Deployment extends KubeObject {
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    unavailableReplicas?: number;
    conditions?: DeploymentCondition[];
  };
}

export interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

export interface Pvc extends KubeObject {
  status?: { phase?: string };
}

export interface IngressObject extends KubeObject {
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}
