#!/usr/bin/env bash
# A real single-node Kubernetes cluster on loopback, for the k8s tests.
#   cluster.sh up-api   etcd + kube-apiserver only (tier 1: fake nodes)
#   cluster.sh up       + controller-manager, scheduler, containerd, kubelet (tier 2)
#   cluster.sh down     stop everything this script started, restore sysctls, drop the nftables table
#   cluster.sh status
# Idempotent: `up` on a running cluster only starts what is missing. Binaries
# come from build.sh (cached under $K8S_CACHE); state lives under $K8S_RUN.
# Network safety: there is no kube-proxy, so the Service range would route out
# of the machine. An nftables table drops it and is verified before any pod
# can start; pods use hostNetwork; clients use 127.0.0.1:6443.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"
BIN="$K8S_CACHE/bin"
RUN=${LIGHTFOOT_K8S_RUN:-/run/lightfoot-k8s}
SERVICE_RANGE=10.0.0.0/24
NODE=$(hostname)
export PATH="$BIN:$PATH"
mkdir -p "$RUN/log" "$RUN/pid"

log() { echo "k8s: $*" >&2; }
# Alive and not a zombie (our daemons are reparented to a pid 1 that may not reap them).
running() {
  [[ -f $RUN/pid/$1 ]] || return 1
  local st; st=$(awk '{print $3}' "/proc/$(cat "$RUN/pid/$1")/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}
start() { # name cmd...
  local name=$1; shift
  running "$name" && return 0
  setsid "$@" >"$RUN/log/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/pid/$name"
}
wait_for() { # what seconds cmd...
  local what=$1 secs=$2; shift 2
  for ((i = 0; i < secs * 5; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  log "$what did not come up in ${secs}s; last log lines:"; tail -n 20 "$RUN/log/$what.log" >&2 || true; return 1
}

certs() {
  local d=$RUN/pki; [[ -f $d/done ]] && return 0
  mkdir -p "$d"; cd "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj /CN=lightfoot-test-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:%s,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n' "$NODE" > san.ext
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 30 -extfile san.ext 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  local admin node
  admin=$(openssl rand -hex 24); node=$(openssl rand -hex 24)
  printf '%s,admin,admin,system:masters\n%s,system:node:%s,system:node:%s,system:nodes\n' "$admin" "$node" "$NODE" "$NODE" > tokens.csv
  kubeconfig "$admin" admin > "$RUN/admin.kubeconfig"
  kubeconfig "$node" "system:node:$NODE" > "$RUN/kubelet.kubeconfig"
  touch done; cd - >/dev/null
}
kubeconfig() { # token user
  cat <<KC
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:6443", certificate-authority: "$RUN/pki/ca.crt"}}]
users: [{name: "$2", user: {token: "$1"}}]
contexts: [{name: local, context: {cluster: local, user: "$2"}}]
current-context: local
KC
}

firewall() {
  nft -f - <<NFT
table inet lightfoot_k8s
delete table inet lightfoot_k8s
table inet lightfoot_k8s {
  chain lf_out { type filter hook output priority -10; policy accept; ip daddr $SERVICE_RANGE counter drop; }
  chain lf_fwd { type filter hook forward priority -10; policy accept; ip daddr $SERVICE_RANGE counter drop; }
}
NFT
  # Re-apply once if something (another test flushing the ruleset) removed it meanwhile.
  check_firewall 2>/dev/null || { nft add table inet lightfoot_k8s && nft add chain inet lightfoot_k8s lf_out '{ type filter hook output priority -10; policy accept; }' && nft add rule inet lightfoot_k8s lf_out ip daddr $SERVICE_RANGE counter drop; }
  check_firewall
}
check_firewall() {
  nft list chain inet lightfoot_k8s lf_out 2>/dev/null | grep -q "ip daddr $SERVICE_RANGE .*drop" \
    || { log "nftables drop of the Service range $SERVICE_RANGE is NOT in place: refusing to start pods"; return 1; }
}

up_api() {
  for b in etcd kube-apiserver; do [[ -x $BIN/$b ]] || { log "missing $BIN/$b: run test/k8s/build.sh"; exit 1; }; done
  certs
  firewall
  start etcd etcd --data-dir "$RUN/etcd" --name local --unsafe-no-fsync \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster local=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381
  wait_for etcd 30 curl -sf http://127.0.0.1:2381/health
  start kube-apiserver kube-apiserver --etcd-servers http://127.0.0.1:2379 \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port 6443 \
    --tls-cert-file "$RUN/pki/apiserver.crt" --tls-private-key-file "$RUN/pki/apiserver.key" \
    --client-ca-file "$RUN/pki/ca.crt" --token-auth-file "$RUN/pki/tokens.csv" \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$RUN/pki/sa.pub" \
    --service-account-signing-key-file "$RUN/pki/sa.key" --service-cluster-ip-range "$SERVICE_RANGE" \
    --authorization-mode Node,RBAC --endpoint-reconciler-type none --allow-privileged \
    --kubelet-preferred-address-types Hostname,InternalIP --profiling=false
  wait_for kube-apiserver 90 kubectl --kubeconfig "$RUN/admin.kubeconfig" get --raw /readyz
}

up_node() {
  for b in kube-controller-manager kube-scheduler kubelet; do [[ -x $BIN/$b ]] || { log "missing $BIN/$b"; exit 1; }; done
  local kc=$RUN/admin.kubeconfig
  start kube-controller-manager kube-controller-manager --kubeconfig "$kc" --authentication-kubeconfig "$kc" \
    --authorization-kubeconfig "$kc" --service-account-private-key-file "$RUN/pki/sa.key" \
    --root-ca-file "$RUN/pki/ca.crt" --use-service-account-credentials=false --leader-elect=false \
    --bind-address 127.0.0.1 --service-cluster-ip-range "$SERVICE_RANGE" --controllers '*,-nodeipam,-service-lb-controller,-route'
  start kube-scheduler kube-scheduler --kubeconfig "$kc" --authentication-kubeconfig "$kc" \
    --authorization-kubeconfig "$kc" --leader-elect=false --bind-address 127.0.0.1
  # containerd: our own instance, root and socket (restrict_oom_score_adj: the VM lacks CAP_SYS_RESOURCE).
  mkdir -p "$RUN/containerd" "$RUN/cni"
  cat > "$RUN/cni/10-loopback.conflist" <<CNI
{"cniVersion": "0.4.0", "name": "lightfoot-loopback", "plugins": [{"type": "loopback"}]}
CNI
  cat > "$RUN/containerd/config.toml" <<TOML
version = 2
root = "$RUN/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$RUN/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni"
TOML
  start containerd containerd --config "$RUN/containerd/config.toml"
  wait_for containerd 30 ctr --address "$RUN/containerd/containerd.sock" version
  bash "$here/images.sh" pause
  check_firewall
  cat > "$RUN/kubelet.yaml" <<KCFG
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
address: 127.0.0.1
readOnlyPort: 0
authentication: {anonymous: {enabled: false}, webhook: {enabled: false}, x509: {clientCAFile: "$RUN/pki/ca.crt"}}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: "unix://$RUN/containerd/containerd.sock"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
resolvConf: /etc/resolv.conf
KCFG
  # The kubelet rewrites these sysctls; remember them for `down`.
  [[ -f $RUN/sysctl.saved ]] || sysctl -n vm.overcommit_memory kernel.panic kernel.panic_on_oops > "$RUN/sysctl.saved"
  start kubelet kubelet --config "$RUN/kubelet.yaml" --kubeconfig "$RUN/kubelet.kubeconfig" \
    --root-dir "$RUN/kubelet" --node-ip 127.0.0.1 --hostname-override "$NODE"
  wait_for kubelet 90 bash -c "kubectl --kubeconfig $kc get node $NODE -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -q True"
  # kube-controller-manager publishes kube-root-ca.crt and the default ServiceAccounts.
  wait_for kube-controller-manager 60 kubectl --kubeconfig "$kc" -n default get serviceaccount default
}

down() {
  local pods=()
  for n in kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do
    running "$n" && { kill "$(cat "$RUN/pid/$n")" 2>/dev/null || true; pods+=("$n"); }
  done
  # containerd last: stop the pods' containers first so no cgroup is left behind.
  if running containerd; then
    local a=$RUN/containerd/containerd.sock
    for t in $(ctr --address "$a" -n k8s.io tasks ls -q 2>/dev/null); do ctr --address "$a" -n k8s.io tasks kill -s KILL "$t" >/dev/null 2>&1 || true; done
    sleep 1
    for t in $(ctr --address "$a" -n k8s.io tasks ls -q 2>/dev/null); do ctr --address "$a" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1 || true; done
    kill "$(cat "$RUN/pid/containerd")" 2>/dev/null || true
    pods+=(containerd)
  fi
  for n in "${pods[@]}"; do
    local p; p=$(cat "$RUN/pid/$n"); for ((i = 0; i < 50; i++)); do running "$n" || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true; rm -f "$RUN/pid/$n"
  done
  pkill_shims
  if [[ -f $RUN/sysctl.saved ]]; then
    mapfile -t v < "$RUN/sysctl.saved"
    sysctl -q -w vm.overcommit_memory="${v[0]}" kernel.panic="${v[1]}" kernel.panic_on_oops="${v[2]}"
    rm -f "$RUN/sysctl.saved"
  fi
  for m in $(awk -v r="$RUN" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$RUN/etcd" "$RUN/kubelet" "$RUN/containerd/state"
  nft delete table inet lightfoot_k8s 2>/dev/null || true
}
# Shims of our containerd (found by their -address argument, not by name).
pkill_shims() {
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $RUN/containerd/containerd.sock" || true); do kill -9 "$p" 2>/dev/null || true; done
}

case ${1:-} in
  up-api) up_api ;;
  up) up_api; up_node ;;
  down) down ;;
  status) for n in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet; do
            running "$n" && echo "$n running (pid $(cat "$RUN/pid/$n"))" || echo "$n stopped"; done ;;
  *) echo "usage: $0 up-api|up|down|status" >&2; exit 2 ;;
esac
