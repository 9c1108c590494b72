package snapshot_test

import (
	"fmt"
	"os"
	"time"

	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/source/snapshot"
)

func ExampleWrite() {
	e := &inventory.Estate{}
	r := &inventory.Resource{
		Provider: "aws", Account: "123456789012", Region: "eu-central-1",
		Type: "compute.disk", NativeType: "aws_ebs_volume", ID: "vol-0a1b", Name: "data",
	}
	r.Set("size_gb", int64(100))
	r.Set("encryption.at_rest.enabled", true)
	e.Add(r)
	meta := snapshot.Meta{
		CollectedAt: time.Date(2026, 11, 20, 8, 15, 0, 0, time.UTC),
		Collector:   snapshot.Collector{Name: "aws", Version: "0.4.0", Accounts: []string{"123456789012"}},
	}
	if err := snapshot.Write(os.Stdout, e, meta); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"hoheit_snapshot":1,"collected_at":"2026-11-20T08:15:00Z","collector":{"name":"aws","version":"0.4.0","accounts":["123456789012"]},
	// "resources": [
	// {"provider":"aws","account":"123456789012","region":"eu-central-1","jurisdiction":{"eu":false,"eea":false,"adequacy":false,"known":false},"type":"compute.disk","native_type":"aws_ebs_volume","id":"vol-0a1b","name":"data","attributes":{"encryption":{"at_rest":{"enabled":true}},"size_gb":100},"location":{}}
	// ],
	// "unsupported": []}
}
