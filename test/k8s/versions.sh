# Pinned versions of the test cluster (kubelet 1.38 drops containerd 1.6: stay on 1.34-1.37).
KUBE_VERSION=${KUBE_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
HELM_VERSION=${HELM_VERSION:-v3.22.0}
LIGHTFOOT_CACHE=${LIGHTFOOT_CACHE:-/var/cache/lightfoot}
K8S_CACHE=${LIGHTFOOT_K8S_CACHE:-$LIGHTFOOT_CACHE/k8s}
