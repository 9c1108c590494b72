package keys

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fuzzLimits keep Argon2id cheap while fuzzing; the parser and the limit
// checks are the production ones.
var fuzzLimits = kdfLimits{MaxTime: 2, MaxMemoryKiB: 256}

// FuzzOpenFile feeds arbitrary bytes to the master key file parser and
// decryption. Nothing may panic; anything that opens must parse to the
// canonical encoding and open to a 32-byte key.
func FuzzOpenFile(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "master-v1.key"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := parseSealed(data, fuzzLimits)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeHeader(sf.Argon, sf.Salt, sf.Nonce), sf.header) {
			t.Fatal("header does not re-encode to the same bytes")
		}
		master, err := openSealed(data, []byte(testPassphrase), fuzzLimits)
		if err == nil && len(master) != masterKeySize {
			t.Fatalf("opened to %d bytes", len(master))
		}
	})
}

// FuzzOpen feeds arbitrary sealed blobs to HPKEKey.Open.
func FuzzOpen(f *testing.F) {
	k := fixedHPKEKey(f)
	sealed, err := Seal(k.PublicKey(), "node-1", "req-1", []byte("seed secret"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add([]byte{sealVersion})
	f.Fuzz(func(t *testing.T, blob []byte) {
		pt, err := k.Open("node-1", "req-1", blob)
		if err == nil && len(pt)+sealOverhead != len(blob) {
			t.Fatalf("opened %d bytes from a %d-byte blob", len(pt), len(blob))
		}
	})
}

// TestWriteFuzzCorpus writes the seed corpora under testdata/fuzz with
// -update.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz")
	}
	keyFile, err := os.ReadFile(filepath.Join("testdata", "master-v1.key"))
	if err != nil {
		t.Fatal(err)
	}
	k := fixedHPKEKey(t)
	sealed, err := Seal(k.PublicKey(), "node-1", "req-1", []byte("seed secret"))
	if err != nil {
		t.Fatal(err)
	}
	badVersion := bytes.Clone(keyFile)
	badVersion[8] = 2
	corpus := map[string]map[string][]byte{
		"FuzzOpenFile": {
			"valid":       keyFile,
			"bad-version": badVersion,
			"header-only": keyFile[:20],
			"magic-only":  []byte(fileMagic),
		},
		"FuzzOpen": {
			"valid":        sealed,
			"version-only": {sealVersion},
			"short":        sealed[:sealOverhead-1],
			"tampered":     append(bytes.Clone(sealed[:len(sealed)-1]), sealed[len(sealed)-1]^1),
		},
	}
	for target, files := range corpus {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
