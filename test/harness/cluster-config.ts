// Configuration of the test cluster's daemons: pure functions of the cluster layout, so the choices (and
// why) are in one place. See cluster.ts for how they are started.

/** Where things are: one directory per cluster and one network namespace. */
export interface ClusterLayout {
  dir: string;
  /** The node's address in the namespace: kubelet, Ingress (Traefik), cluster DNS (CoreDNS). */
  nodeAddress: string;
  /** cgroup parent of every pod (one per cluster, below each hierarchy's root), e.g. /berth-k8s-0. */
  cgroupRoot: string;
  /** CNI network name; libcni names its cache files after it. */
  cniNetwork: string;
  kubeconfigPath: string;
  containerdSocket: string;
}

export const nodeName = 'berth-node';
export const podCidr = '10.244.0.0/24';
export const clusterDomain = 'cluster.local';
export const ingressClassName = 'traefik';
export const storageClassName = 'berth-local';
/** Traefik's ping endpoint port on the node address (readiness of the ingress controller). */
export const traefikPingPort = 9000;

export function paths(dir: string) {
  return {
    containerdConfig: `${dir}/containerd/config.toml`,
    containerdRoot: `${dir}/containerd/root`,
    containerdState: `${dir}/containerd/state`,
    containerdSocket: `${dir}/containerd/containerd.sock`,
    /** Per-registry settings of the node's containerd (hosts.toml and CA files), one folder per host. */
    registryHostsDir: `${dir}/containerd/certs.d`,
    /** The node's /etc/hosts, bind-mounted in the node's mount namespace. */
    nodeHosts: `${dir}/node/hosts`,
    /** The node's mount namespace (containerd and kubelet), kept by a bind mount of its nsfs file. */
    nodeMountNamespace: `${dir}/node/mount-ns`,
    cniConfDir: `${dir}/cni/net.d`,
    cniDataDir: `${dir}/cni/networks`,
    kubeletConfig: `${dir}/kubelet/config.json`,
    kubeletRoot: `${dir}/kubelet/root`,
    kubeletCerts: `${dir}/kubelet/pki`,
    kubeletVolumePlugins: `${dir}/kubelet/volume-plugins`,
    podLogs: `${dir}/pod-logs`,
    resolvConf: `${dir}/resolv.conf`,
    kubeProxyConfig: `${dir}/kube-proxy.json`,
    corefile: `${dir}/Corefile`,
    volumes: `${dir}/volumes`,
    logs: `${dir}/logs`,
    state: `${dir}/state.json`,
  };
}

/**
 * containerd's config: private root, state and socket; runc with cgroupfs (PID 1 is not systemd); the CRI
 * plugin's sandbox image is the locally imported pause image (never pulled); the CNI config, the pods'
 * network namespaces and the registries' hosts.toml files live in the cluster directory. restrict_oom_score_adj: root here lacks
 * CAP_SYS_RESOURCE, and without it runc fails with "can't get final child's PID from pipe: EOF".
 */
export function containerdConfig(l: ClusterLayout, pauseImage: string): string {
  const p = paths(l.dir);
  return `version = 2
root = "${p.containerdRoot}"
state = "${p.containerdState}"

[grpc]
  address = "${l.containerdSocket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${l.dir}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        # runc's state in the cluster folder, not /run/containerd/runc
        Root = "${l.dir}/containerd/runc"
  # Registries the node pulls from (trustRegistry in cluster.ts): read at each pull, so hosts can be added later.
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${p.registryHostsDir}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${p.cniConfDir}"
`;
}

/**
 * Pods on a bridge inside the namespace, addresses from host-local with its store in the cluster directory.
 * ipMasq: pod traffic to the API server (on the host end of the veth) leaves with the node's address, so the
 * host needs no route back to the pod network.
 */
export function cniConfig(l: ClusterLayout): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: l.cniNetwork,
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: paths(l.dir).cniDataDir,
            ranges: [[{ subnet: podCidr }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

/**
 * kubelet: cgroupfs under a per-cluster cgroup root; every directory it writes in the cluster directory
 * (except the few fixed paths it ignores flags for: host-state.ts); image GC and eviction effectively off,
 * because the images are imported and cannot be pulled back; anonymous, always-allowed kubelet API on the
 * node address only (`kubectl logs` through the API server), reachable from the host alone.
 */
export function kubeletConfig(l: ClusterLayout): string {
  const p = paths(l.dir);
  return `${JSON.stringify(
    {
      kind: 'KubeletConfiguration',
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      cgroupDriver: 'cgroupfs',
      cgroupRoot: l.cgroupRoot,
      cgroupsPerQOS: true,
      failSwapOn: false,
      containerRuntimeEndpoint: `unix://${l.containerdSocket}`,
      address: l.nodeAddress,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: 10248,
      authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
      authorization: { mode: 'AlwaysAllow' },
      clusterDomain,
      clusterDNS: [l.nodeAddress],
      resolvConf: p.resolvConf,
      podLogsDir: p.podLogs,
      volumePluginDir: p.kubeletVolumePlugins,
      podCIDR: podCidr,
      evictionHard: {
        'memory.available': '50Mi',
        'nodefs.available': '1%',
        'nodefs.inodesFree': '1%',
        'imagefs.available': '1%',
      },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      protectKernelDefaults: false,
      serializeImagePulls: false,
      registerNode: true,
      maxPods: 110,
      shutdownGracePeriod: '0s',
      shutdownGracePeriodCriticalPods: '0s',
    },
    null,
    2,
  )}\n`;
}

/**
 * kube-proxy, iptables mode inside the namespace. masqueradeAll: a pod that reaches a Service backed by a
 * pod on the same bridge gets replies through the node, not straight over the bridge. Conntrack limits are
 * global kernel settings: left alone (0).
 */
export function kubeProxyConfig(l: ClusterLayout): string {
  return `${JSON.stringify(
    {
      kind: 'KubeProxyConfiguration',
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      mode: 'iptables',
      clusterCIDR: podCidr,
      hostnameOverride: nodeName,
      clientConnection: { kubeconfig: l.kubeconfigPath },
      healthzBindAddress: '127.0.0.1:10256',
      metricsBindAddress: '127.0.0.1:10249',
      iptables: { masqueradeAll: true, syncPeriod: '10s', minSyncPeriod: '0s' },
      conntrack: {
        maxPerCore: 0,
        min: 0,
        tcpEstablishedTimeout: '0s',
        tcpCloseWaitTimeout: '0s',
        udpTimeout: '0s',
        udpStreamTimeout: '0s',
      },
    },
    null,
    2,
  )}\n`;
}

/** CoreDNS: the cluster domain from the API server, on the node address; nothing forwarded (no internet). */
export function corefile(l: ClusterLayout): string {
  return `${clusterDomain}:53 in-addr.arpa:53 ip6.arpa:53 {
    bind ${l.nodeAddress}
    errors
    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {
        kubeconfig ${l.kubeconfigPath}
        pods insecure
        ttl 5
    }
    cache 5
}
.:53 {
    bind ${l.nodeAddress}
    errors
    template ANY ANY {
        rcode NXDOMAIN
    }
}
`;
}

/**
 * Traefik as the Ingress controller (IngressClass traefik), run as a process with the admin kubeconfig.
 * No TLS on the entry point itself: an Ingress is served over TLS only when its annotations say so, which is
 * what the operator's class-specific annotations must get right. readTimeout 0: Traefik v3 cuts a request
 * body after 60 s by default, too short for a multi-GiB push (README, "Ingress").
 */
export function traefikArgs(l: ClusterLayout): string[] {
  return [
    `--entryPoints.web.address=${l.nodeAddress}:80`,
    `--entryPoints.websecure.address=${l.nodeAddress}:443`,
    '--entryPoints.websecure.transport.respondingTimeouts.readTimeout=0',
    `--entryPoints.ping.address=${l.nodeAddress}:${String(traefikPingPort)}`,
    '--ping=true',
    '--ping.entryPoint=ping',
    '--providers.kubernetesingress=true',
    `--providers.kubernetesingress.ingressendpoint.ip=${l.nodeAddress}`,
    '--global.checknewversion=false',
    '--global.sendanonymoususage=false',
    '--log.level=INFO',
  ];
}

/** Objects every test cluster has: the IngressClass (default) and a default StorageClass for local volumes. */
export function clusterObjects(): unknown[] {
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: {
        name: ingressClassName,
        annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' },
      },
      spec: { controller: 'traefik.io/ingress-controller' },
    },
    {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: {
        name: storageClassName,
        annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      },
      provisioner: 'kubernetes.io/no-provisioner',
      volumeBindingMode: 'Immediate',
      reclaimPolicy: 'Retain',
    },
  ];
}

/** A hostPath PersistentVolume in the cluster directory (class berth-local), for one claim. */
export function localVolume(name: string, hostPath: string, size: string): unknown {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name },
    spec: {
      capacity: { storage: size },
      accessModes: ['ReadWriteOnce', 'ReadWriteMany'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName,
      hostPath: { path: hostPath, type: 'Directory' },
    },
  };
}
