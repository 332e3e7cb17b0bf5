#!/bin/sh
# Validate examples/deploy/k8s: kubeconform (strict, from the Kubernetes JSON schemas) when it can
# reach its schemas, and always scripts/k8s-validate (a strict decode into k8s.io/api's Go types
# plus cross-object checks), which needs only the Go module proxy. Not part of `npm test`.
set -eu
cd "$(dirname "$0")/.."
MANIFESTS=$(ls examples/deploy/k8s/*.yaml)
GOBIN=${GOBIN:-$PWD/.cache/gobin}
export GOBIN
if [ ! -x "$GOBIN/kubeconform" ]; then go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0; fi
if "$GOBIN/kubeconform" -strict -summary $MANIFESTS; then
  echo "kubeconform: valid"
else
  echo "kubeconform could not validate (its schemas are downloaded from GitHub; see above)"
fi
(cd scripts/k8s-validate && go run . $(for m in $MANIFESTS; do echo "../../$m"; done))
