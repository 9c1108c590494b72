package kubernetes

import (
	"bytes"
	"fmt"
	"os"
	"testing"
)

// manyDeployments renders n Deployments the way the Helm chart in testdata
// does, as one multi-document file.
func manyDeployments(b *testing.B, n int) []byte {
	b.Helper()
	doc, err := os.ReadFile("testdata/helm-chart.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	for i := range n {
		buf.Write(bytes.ReplaceAll(doc, []byte("name: podinfo"), []byte(fmt.Sprintf("name: podinfo-%d", i))))
	}
	return buf.Bytes()
}

func BenchmarkLoadYAML(b *testing.B) {
	data := manyDeployments(b, 100)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load("bench.yaml", data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// manyPodsJSON renders a PodList as kubectl get pods -o json prints it.
func manyPodsJSON(b *testing.B, n int) []byte {
	b.Helper()
	var buf bytes.Buffer
	buf.WriteString(`{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [`)
	for i := range n {
		if i > 0 {
			buf.WriteString(",")
		}
		fmt.Fprintf(&buf, `
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "api-%d", "namespace": "prod", "labels": {"app": "api", "pod-template-hash": "7d4b9c"},
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}]},
        "spec": {
            "containers": [{"name": "api", "image": "registry.example.org/api:2.3.1", "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "1", "memory": "512Mi"}}, "securityContext": {"runAsNonRoot": true}}],
            "serviceAccountName": "api", "nodeName": "node-%d", "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
        },
        "status": {"phase": "Running", "podIP": "10.0.0.%d", "conditions": [{"type": "Ready", "status": "True"}]}
    }`, i, i%50, i%250)
	}
	buf.WriteString("]}\n")
	return buf.Bytes()
}

func BenchmarkLoadJSON(b *testing.B) {
	data := manyPodsJSON(b, 1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load("bench.json", data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
