package kubernetes_test

import (
	"fmt"

	"github.com/hoheit/hoheit/internal/source/kubernetes"
)

func ExampleParse() {
	manifest := []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      securityContext: {runAsNonRoot: true}
      containers:
        - name: web
          image: nginx:1.27
          securityContext: {privileged: true}
`)
	e, err := kubernetes.Parse("web.yaml", manifest)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range e.Resources {
		fmt.Println(r.Type, r.Address, r.Source)
	}
	c := e.Resources[0].Attrs["containers"].([]any)[0].(map[string]any)
	fmt.Println("privileged:", c["privileged"], "run_as_non_root:", c["run_as_non_root"])
	// Output:
	// kubernetes.workload Deployment/shop/web web.yaml:1
	// kubernetes.namespace Namespace/shop web.yaml:1
	// privileged: true run_as_non_root: true
}
