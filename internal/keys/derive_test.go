package keys

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testMaster is the fixed master key of the golden vectors: 0x00 .. 0x1f.
func testMaster() []byte {
	m := make([]byte, masterKeySize)
	for i := range m {
		m[i] = byte(i)
	}
	return m
}

type deriveVector struct {
	Label string `json:"label"`
	Info  string `json:"info"` // hex
	N     int    `json:"n"`
	Out   string `json:"out"` // hex
}

type nodeKeyVector struct {
	Purpose Purpose `json:"purpose"`
	NodeID  string  `json:"node_id"`
	Key     string  `json:"key"` // hex
}

type golden struct {
	Comment  string            `json:"comment"`
	Master   string            `json:"master"`
	Derive   []deriveVector    `json:"derive"`
	NodeKeys []nodeKeyVector   `json:"node_keys"`
	Signers  map[string]string `json:"signers"` // name -> uncompressed public point, hex
}

func goldenInputs() golden {
	g := golden{
		Comment: "HKDF-Expand-SHA256(PRK = master, info = len(label) || label || info); see docs/keys.md. Regenerate with go test ./internal/keys -run TestGolden -update",
		Master:  hex.EncodeToString(testMaster()),
		Derive: []deriveVector{
			{Label: "hoheit/v1/node-key/disk", Info: hex.EncodeToString([]byte("node-1")), N: 32},
			{Label: "test", Info: "", N: 1},
			{Label: "test", Info: "00ff", N: 80},
			{Label: "x", Info: "", N: 65},
		},
		Signers: map[string]string{"ca": "", "audit": ""},
	}
	for _, p := range []Purpose{PurposeDisk, PurposeMesh, PurposeWorkload} {
		for _, n := range []string{"node-1", "node-2"} {
			g.NodeKeys = append(g.NodeKeys, nodeKeyVector{Purpose: p, NodeID: n})
		}
	}
	return g
}

// TestGolden pins the derivation: a change to labels, encoding or
// construction changes every node's disk key and must be deliberate.
func TestGolden(t *testing.T) {
	ctx := context.Background()
	goldenPath := filepath.Join("testdata", "derive.golden.json")
	keyPath := filepath.Join("testdata", "master-v1.key")

	if _, err := os.Stat(keyPath); *update && os.IsNotExist(err) {
		data, err := seal(testMaster(), []byte(testPassphrase), testArgon)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyPath, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The committed key file (format version 1) still opens to the test
	// master key: the file format is stable.
	data, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	master, err := openSealed(data, []byte(testPassphrase), openLimits)
	if err != nil {
		t.Fatalf("opening %s: %v", keyPath, err)
	}
	if !bytes.Equal(master, testMaster()) {
		t.Fatalf("%s opens to another master key", keyPath)
	}
	b := newFileBackend(master)
	defer b.Close()

	got := goldenInputs()
	for i, v := range got.Derive {
		info, _ := hex.DecodeString(v.Info)
		out, err := b.Derive(ctx, v.Label, info, v.N)
		if err != nil {
			t.Fatal(err)
		}
		// Independent check against the standard library's HKDF.
		want, err := hkdf.Expand(sha256.New, testMaster(), string(expandInfo(v.Label, info)), v.N)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("derive %d differs from crypto/hkdf.Expand", i)
		}
		got.Derive[i].Out = hex.EncodeToString(out)
	}
	for i, v := range got.NodeKeys {
		k, err := NodeKey(ctx, b, v.Purpose, v.NodeID)
		if err != nil {
			t.Fatal(err)
		}
		got.NodeKeys[i].Key = hex.EncodeToString(k)
	}
	for name := range got.Signers {
		s, err := b.Signer(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := s.Public().(*ecdsa.PublicKey).ECDH()
		if err != nil {
			t.Fatal(err)
		}
		got.Signers[name] = hex.EncodeToString(pub.Bytes())
	}
	gotJSON, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	gotJSON = append(gotJSON, '\n')
	if *update {
		if err := os.WriteFile(goldenPath, gotJSON, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotJSON, want) {
		t.Errorf("derivation differs from %s (run with -update only if the change is deliberate)\ngot:\n%s", goldenPath, gotJSON)
	}
}
