#!/usr/bin/env bash
# Builds the binaries of a real single-node Kubernetes cluster from the Go
# module proxy (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet, helm) into $K8S_CACHE/bin, outside the checkout. Idempotent: a
# binary that exists with the pinned version stamp is not rebuilt.
# Cold: ~8 min on 2 vCPUs and ~5 GB of Go caches (kept in $K8S_CACHE).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.sh"

export GOCACHE="$K8S_CACHE/go-build" GOMODCACHE="$K8S_CACHE/go-mod"
export PATH="/usr/local/go/bin:$PATH" GOFLAGS=-mod=mod CGO_ENABLED=0
bin="$K8S_CACHE/bin"; mkdir -p "$bin"
stamp() { cat "$bin/.$1.version" 2>/dev/null || true; }

# etcd: `go install` refuses modules with replace directives, so a wrapper module builds it.
if [[ ! -x $bin/etcd || $(stamp etcd) != "$ETCD_VERSION" ]]; then
  w="$K8S_CACHE/src/etcd"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
  printf 'module lightfoot.test/etcd\n\ngo 1.24\n' > go.mod
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -o "$bin/etcd" go.etcd.io/etcd/server/v3
  echo "$ETCD_VERSION" > "$bin/.etcd.version"
fi

# Kubernetes: a wrapper requiring k8s.io/kubernetes and replacing each staging
# module (./staging/src/k8s.io/X in its go.mod) with the published v0.Y.Z.
kube_cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
need=0; for c in "${kube_cmds[@]}"; do [[ -x $bin/$c ]] || need=1; done
[[ $(stamp kube) == "$KUBE_VERSION" ]] || need=1
if (( need )); then
  w="$K8S_CACHE/src/kube"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
  printf 'module lightfoot.test/kube\n\ngo 1.24\n' > go.mod
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')
  staging=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$gomod" | grep -v -e sample-cli-plugin -e sample-controller)
  v0="v0.${KUBE_VERSION#v1.}"
  { echo "require k8s.io/kubernetes $KUBE_VERSION"; for m in $staging; do echo "replace $m => $m $v0"; done; } >> go.mod
  { echo '//go:build tools'; echo; echo 'package tools'; echo; echo 'import ('
    for c in "${kube_cmds[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$c\""; done; echo ')'; } > tools.go
  go mod tidy
  major=${KUBE_VERSION#v}; major=${major%%.*}; minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  pkgs=(); for c in "${kube_cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  go build -trimpath -ldflags "$ld" -o "$bin/" "${pkgs[@]}"
  echo "$KUBE_VERSION" > "$bin/.kube.version"
fi

# helm: stamp its version and the Kubernetes version that client-side
# `helm template`/`helm lint` assume (else 1.20).
if [[ ! -x $bin/helm || $(stamp helm) != "$HELM_VERSION" ]]; then
  minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
  ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ld+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$minor"
  done
  GOBIN="$bin" go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  echo "$HELM_VERSION" > "$bin/.helm.version"
fi
echo "k8s binaries ready in $bin"
