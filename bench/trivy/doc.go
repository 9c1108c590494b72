// Package trivy is the wrapper module that builds trivy v0.69.3 for the
// benchmark comparison in bench/compare.sh.
//
// It holds no code of its own: go.mod requires github.com/aquasecurity/trivy
// at a pinned version and declares its cmd/trivy as a tool, so
// bench/build-trivy.sh can run
//
//	go build -o .cache/bin/trivy github.com/aquasecurity/trivy/cmd/trivy
//
// from this directory, exactly as trivy's own release build does (CGO off,
// GOEXPERIMENT=jsonv2). Being its own module (nested go.mod), it is invisible
// to `go build ./...` and `go vet ./...` in the main module.
package trivy
