// Package kubeapiserver is the wrapper module that builds kube-apiserver
// v1.37.2 from the Go module proxy, for the test that proves hoheit's
// Kubernetes export (internal/segment) valid against a real API server.
//
// It holds no code of its own: go.mod requires k8s.io/kubernetes at a pinned
// version, replaces every staging module (k8s.io/api, k8s.io/apiserver, ...)
// that k8s.io/kubernetes requires as v0.0.0 with its published v0.37.2
// release, and declares cmd/kube-apiserver as a tool, so
// scripts/build-kube-apiserver.sh can run
//
//	go build -o .cache/bin/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
//
// from this directory. Being its own module (nested go.mod), it is invisible
// to `go build ./...` and `go vet ./...` in the main module, and Kubernetes'
// large dependency graph never enters hoheit's.
package kubeapiserver
