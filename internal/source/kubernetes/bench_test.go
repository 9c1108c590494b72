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
