package audit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenKey is a fixed Ed25519 key, so that the golden export (Ed25519
// signatures are deterministic) is reproducible. Test use only.
func goldenKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))
}

func otherKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x17}, ed25519.SeedSize))
}

var goldenStart = time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)

// goldenRecords is a short log with every kind of field in use.
func goldenRecords() []Record {
	return []Record{
		{Type: TypeRefValuesChange, Actor: "server", Class: "web", Details: map[string]string{"file": "web.yaml", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}},
		{Type: TypeTokenCreated, Actor: "token:bootstrap", Details: map[string]string{"name": "ops", "role": "operator"}},
		{Type: TypeJoin, Node: "n-1", Class: "web", Actor: "node:n-1", RequestID: "req-1", Details: map[string]string{"variant": "tpm", "cert_serial": "01"}},
		{Type: TypeKeyRelease, Node: "n-1", Class: "web", Actor: "node:n-1", RequestID: "req-1", Details: map[string]string{"purpose": "disk"}},
		{Type: TypeRefusal, Node: "n-2", Class: "web", Actor: "node:n-2", Reason: "measurement-mismatch", RequestID: "req-2", Details: map[string]string{"pcr": "7", "note": "quote \"x\" <&> ü"}},
		{Type: TypeJoin, Node: "n-3", Class: "db", Actor: "node:n-3", RequestID: "req-3", Details: map[string]string{"variant": "sev-snp"}},
		{Type: TypeQuarantine, Node: "n-1", Class: "web", Actor: "server", Reason: "re-attestation-missed"},
		{Type: TypeRevocation, Node: "n-1", Class: "web", Actor: "token:ops", Reason: "node-revoked", RequestID: "req-4", Details: map[string]string{"cert_serial": "01"}},
	}
}

// buildLog chains records and signs a checkpoint after each seq in cpAt.
func buildLog(t testing.TB, recs []Record, signer crypto.Signer, cpAt ...uint64) ([]Entry, []Checkpoint) {
	t.Helper()
	var entries []Entry
	var cps []Checkpoint
	var prev *Entry
	for i, r := range recs {
		r.Time = goldenStart.Add(time.Duration(i) * 1500 * time.Millisecond)
		e := Next(prev, r)
		entries = append(entries, e)
		prev = &entries[len(entries)-1]
		for _, s := range cpAt {
			if s == e.Seq {
				c, err := SignCheckpoint(e, signer, r.Time.Add(time.Second))
				if err != nil {
					t.Fatal(err)
				}
				cps = append(cps, c)
			}
		}
	}
	return entries, cps
}

func seqOf(entries []Entry) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		for _, e := range entries {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func export(t testing.TB, entries []Entry, cps []Checkpoint) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Export(&buf, seqOf(entries), cps); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func goldenExport(t testing.TB) []byte {
	entries, cps := buildLog(t, goldenRecords(), goldenKey(), 4, 8)
	return export(t, entries, cps)
}

func TestGoldenExport(t *testing.T) {
	got := goldenExport(t)
	pubPEM, err := MarshalPublicKey(goldenKey().Public())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"golden.jsonl": got, "golden.pub": pubPEM}
	if *update {
		for name, data := range files {
			if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		writeFuzzSeeds(t, got)
	}
	for name, data := range files {
		want, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(want, data) {
			t.Errorf("%s differs from the export; the entry or checkpoint encoding changed (rerun with -update only if intended)\n got: %s\nwant: %s", name, data, want)
		}
	}
	// The committed file verifies with the committed key: an auditor's view.
	pub, err := ParsePublicKey(files["golden.pub"])
	if err != nil {
		t.Fatal(err)
	}
	s, err := Verify(bytes.NewReader(got), pub)
	if err != nil {
		t.Fatal(err)
	}
	if s.Entries != 8 || s.Checkpoints != 2 || s.Head.Seq != 8 || s.LastCheckpoint.Seq != 8 || s.OtherKeys != 0 {
		t.Errorf("summary = %+v", s)
	}
}

// TestEntryHashVector pins the hash encoding with a vector computed by hand
// from docs/audit.md, so the documented encoding and the code agree.
func TestEntryHashVector(t *testing.T) {
	r := Record{Time: time.Unix(1, 2).UTC(), Type: "join", Node: "n", Details: map[string]string{"b": "2", "a": "1"}}
	var want bytes.Buffer
	u32 := func(v uint32) { want.Write([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}) }
	str := func(s string) { u32(uint32(len(s))); want.WriteString(s) }
	str("hoheit audit entry v1")
	want.Write([]byte{0, 0, 0, 0, 0, 0, 0, 7}) // seq
	u32(0)                                     // empty prev
	want.Write([]byte{0, 0, 0, 0, 0, 0, 0, 1}) // seconds
	u32(2)                                     // nanoseconds
	str("join")
	str("n")
	for range 4 { // class, actor, reason, request id
		str("")
	}
	u32(2)
	str("a")
	str("1")
	str("b")
	str("2")
	sum := sha256Sum(want.Bytes())
	if got := EntryHash(7, nil, r); !bytes.Equal(got, sum) {
		t.Fatalf("EntryHash = %x, want %x", got, sum)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	golden, err := os.ReadFile("testdata/golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	pub := goldenKey().Public()
	lines := strings.Split(strings.TrimSuffix(string(golden), "\n"), "\n")
	// Lines: 1-4 entries 1-4, 5 checkpoint 4, 6-9 entries 5-8, 10 checkpoint 8.
	entryLine := func(seq int) int {
		if seq <= 4 {
			return seq - 1
		}
		return seq
	}
	mutate := func(f func(l []string) []string) string {
		return strings.Join(f(append([]string(nil), lines...)), "\n") + "\n"
	}
	editEntry := func(l []string, seq int, f func(*Entry)) {
		e := parseTestEntry(t, l[entryLine(seq)])
		f(&e)
		l[entryLine(seq)] = entryLineJSON(t, e)
	}
	rehash := func(e *Entry) { e.Hash = EntryHash(e.Seq, e.Prev, e.Record) }
	remove := func(l []string, i ...int) []string {
		var out []string
		for j, s := range l {
			if !containsInt(i, j) {
				out = append(out, s)
			}
		}
		return out
	}

	cases := []struct {
		name    string
		input   string
		key     crypto.PublicKey
		problem string
		seq     uint64
		msg     string
	}{
		{name: "changed field", problem: ProblemChanged, seq: 3, msg: "content does not match its hash",
			input: mutate(func(l []string) []string {
				editEntry(l, 3, func(e *Entry) { e.Node = "n-9" })
				return l
			})},
		{name: "changed detail", problem: ProblemChanged, seq: 5, msg: "was changed",
			input: mutate(func(l []string) []string {
				l[entryLine(5)] = strings.Replace(l[entryLine(5)], `"pcr":"7"`, `"pcr":"8"`, 1)
				return l
			})},
		{name: "changed field re-hashed", problem: ProblemChainBroken, seq: 4, msg: "not the hash of entry 3",
			input: mutate(func(l []string) []string {
				editEntry(l, 3, func(e *Entry) { e.Node = "n-9"; rehash(e) })
				return l
			})},
		{name: "changed head re-hashed", problem: ProblemMismatch, seq: 8, msg: "not the entry the server signed",
			input: mutate(func(l []string) []string {
				editEntry(l, 8, func(e *Entry) { e.Reason = "other"; rehash(e) })
				return l
			})},
		{name: "removed middle entry", problem: ProblemRemoved, seq: 5, msg: "entry 5 is missing",
			input: mutate(func(l []string) []string { return remove(l, entryLine(5)) })},
		{name: "removed two entries", problem: ProblemRemoved, seq: 2, msg: "entries 2 to 3 are missing",
			input: mutate(func(l []string) []string { return remove(l, entryLine(2), entryLine(3)) })},
		{name: "removed first entry", problem: ProblemRemoved, seq: 1, msg: "entry 1 is missing",
			input: mutate(func(l []string) []string { return remove(l, entryLine(1)) })},
		{name: "removed tail entries after last checkpoint", problem: ProblemTruncated, seq: 8, msg: "entries 7 to 8 were removed",
			input: mutate(func(l []string) []string { return remove(l, entryLine(7), entryLine(8)) })},
		{name: "removed tail entries and their checkpoint", problem: ProblemUncovered, seq: 5, msg: "entries 5 to 6 follow the last signed checkpoint",
			input: mutate(func(l []string) []string { return remove(l, entryLine(7), entryLine(8), 9) })},
		{name: "removed middle entry, renumbered and re-chained", problem: ProblemMismatch, seq: 4, msg: "not the entry the server signed",
			input: mutate(func(l []string) []string {
				l = remove(l, entryLine(2))
				var prev *Entry
				for i, s := range l {
					if !strings.Contains(s, `"kind":"entry"`) {
						continue
					}
					e := parseTestEntry(t, s)
					n := Next(prev, e.Record)
					l[i] = entryLineJSON(t, n)
					prev = &n
				}
				return l
			})},
		{name: "inserted entry", problem: ProblemInserted, seq: 6, msg: "appears twice",
			input: mutate(func(l []string) []string {
				e := parseTestEntry(t, l[entryLine(6)])
				e.Node = "n-evil"
				rehash(&e)
				return append(l[:entryLine(6)+1], append([]string{entryLineJSON(t, e)}, l[entryLine(6)+1:]...)...)
			})},
		{name: "inserted entry, renumbered and re-chained", problem: ProblemMismatch, seq: 4,
			input: mutate(func(l []string) []string {
				evil := Record{Time: goldenStart, Type: TypeKeyRelease, Node: "n-evil", Actor: "node:n-evil"}
				l = append(l[:entryLine(3)], append([]string{`{"kind":"entry","placeholder":true}`}, l[entryLine(3):]...)...)
				var prev *Entry
				for i, s := range l {
					var r Record
					switch {
					case strings.Contains(s, "placeholder"):
						r = evil
					case strings.Contains(s, `"kind":"entry"`):
						r = parseTestEntry(t, s).Record
					default:
						continue
					}
					n := Next(prev, r)
					l[i] = entryLineJSON(t, n)
					prev = &n
				}
				return l
			})},
		{name: "appended entry after the head", problem: ProblemUncovered, seq: 9, msg: "not covered by a signature",
			input: mutate(func(l []string) []string {
				head := parseTestEntry(t, l[entryLine(8)])
				return append(l, entryLineJSON(t, Next(&head, Record{Time: goldenStart, Type: TypeJoin, Node: "n-evil"})))
			})},
		{name: "swapped entries", problem: ProblemReordered, seq: 4, msg: "entry 4 stands where entry 3 belongs",
			input: mutate(func(l []string) []string {
				l[entryLine(3)], l[entryLine(4)] = l[entryLine(4)], l[entryLine(3)]
				return l
			})},
		{name: "bad signature", problem: ProblemBadSignature, seq: 8, msg: "does not verify",
			input: mutate(func(l []string) []string {
				l[9] = flipHexField(t, l[9], "signature")
				return l
			})},
		{name: "checkpoint hash changed", problem: ProblemBadSignature, seq: 4,
			input: mutate(func(l []string) []string {
				l[4] = flipHexField(t, l[4], "hash")
				return l
			})},
		{name: "checkpoints removed", problem: ProblemUncovered, msg: "no checkpoint",
			input: mutate(func(l []string) []string { return remove(l, 4, 9) })},
		{name: "wrong key", problem: ProblemWrongKey, key: otherKey().Public(), msg: "no checkpoint is signed by the given key",
			input: string(golden)},
		{name: "malformed line", problem: ProblemMalformed, msg: "line 3",
			input: mutate(func(l []string) []string { l[2] = "not json"; return l })},
		{name: "duplicate key", problem: ProblemMalformed, msg: `"node" appears twice`,
			input: mutate(func(l []string) []string {
				l[2] = strings.Replace(l[2], `"node":`, `"node":"x","node":`, 1)
				return l
			})},
		{name: "unknown field", problem: ProblemMalformed, msg: `unknown field "Node"`,
			input: mutate(func(l []string) []string {
				l[2] = strings.Replace(l[2], `"node":`, `"Node":"x","node":`, 1)
				return l
			})},
		{name: "empty", problem: ProblemEmpty, input: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if key == nil {
				key = pub
			}
			_, err := Verify(strings.NewReader(tc.input), key)
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Verify = %v, want a *VerifyError %s", err, tc.problem)
			}
			if ve.Problem != tc.problem || (tc.seq != 0 && ve.Seq != tc.seq) {
				t.Errorf("Verify = %v\nwant problem %s at seq %d", err, tc.problem, tc.seq)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Verify = %v\nwant a message containing %q", err, tc.msg)
			}
		})
	}
}

func TestExportVerifyRoundTripECDSA(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	recs := goldenRecords()
	// Strings that JSON must carry exactly: escapes, invalid UTF-8 (Next
	// replaces it), an empty details map.
	recs = append(recs, Record{Type: "odd", Node: "a\x00b\u2028\"\\", Reason: "bad\xffutf8", Details: map[string]string{}})
	entries, cps := buildLog(t, recs, key, 3, uint64(len(recs)))
	data := export(t, entries, cps)
	pemBytes, err := MarshalPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Verify(bytes.NewReader(data), pub)
	if err != nil {
		t.Fatalf("Verify: %v\n%s", err, data)
	}
	if s.Entries != len(recs) || s.Checkpoints != 2 || !bytes.Equal(s.Head.Hash, entries[len(entries)-1].Hash) {
		t.Errorf("summary = %+v", s)
	}
	if s.Head.Reason != "bad\uFFFDutf8" {
		t.Errorf("head reason = %q", s.Head.Reason)
	}
	// Re-exporting what Verify parsed gives the same bytes for the head line.
	last := export(t, []Entry{s.Head}, nil)
	if !bytes.Contains(data, last) {
		t.Errorf("head did not round-trip:\n%s\nnot in\n%s", last, data)
	}
	// An Ed25519 checkpoint in the same file counts as another key.
	ed, err := SignCheckpoint(entries[len(entries)-1], goldenKey(), goldenStart)
	if err != nil {
		t.Fatal(err)
	}
	data = export(t, entries, append(cps, ed))
	s, err = Verify(bytes.NewReader(data), pub)
	if err != nil || s.OtherKeys != 1 {
		t.Errorf("Verify with a second key's checkpoint = %+v, %v", s, err)
	}
}

func TestSignCheckpointRefuses(t *testing.T) {
	entries, _ := buildLog(t, goldenRecords()[:2], goldenKey())
	changed := entries[1]
	changed.Node = "x"
	rsa := unsupportedSigner{}
	cases := []struct {
		name   string
		head   Entry
		signer crypto.Signer
	}{
		{"entry not matching its hash", changed, goldenKey()},
		{"no entry", Entry{}, goldenKey()},
		{"unsupported key", entries[1], rsa},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := SignCheckpoint(tc.head, tc.signer, goldenStart); err == nil {
				t.Fatal("SignCheckpoint succeeded")
			}
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := MarshalPublicKey(goldenKey().Public())
	cases := []struct {
		name string
		pem  string
		ok   bool
	}{
		{"ed25519", string(der), true},
		{"not pem", "hello", false},
		{"private key block", strings.Replace(string(der), "PUBLIC KEY", "PRIVATE KEY", 2), false},
		{"p384", pemOf(t, p384.Public()), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePublicKey([]byte(tc.pem))
			if (err == nil) != tc.ok {
				t.Fatalf("ParsePublicKey = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	pub := goldenKey().Public()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Verify(bytes.NewReader(data), pub)
		if err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Verify returned %T %v, want *VerifyError", err, err)
			}
			return
		}
		// Whatever verifies must be a chain whose head the key signed.
		if !bytes.Equal(EntryHash(s.Head.Seq, s.Head.Prev, s.Head.Record), s.Head.Hash) ||
			s.LastCheckpoint.Seq != s.Head.Seq || !bytes.Equal(s.LastCheckpoint.Hash, s.Head.Hash) ||
			s.Entries != int(s.Head.Seq) {
			t.Fatalf("Verify accepted an inconsistent log: %+v", s)
		}
	})
}

// writeFuzzSeeds writes FuzzVerify's seed corpus from the golden export.
func writeFuzzSeeds(t *testing.T, golden []byte) {
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(golden, []byte("\n"))
	seeds := map[string][]byte{
		"golden":         golden,
		"first-entry":    lines[0],
		"checkpoint":     lines[4],
		"swapped":        bytes.Join([][]byte{lines[1], lines[0], lines[2], lines[3], lines[4]}, nil),
		"empty-object":   []byte("{}\n"),
		"not-json":       []byte("entry 1\n"),
		"duplicate-keys": []byte(`{"kind":"entry","kind":"checkpoint"}` + "\n"),
	}
	for name, data := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func parseTestEntry(t testing.TB, line string) Entry {
	t.Helper()
	kind, obj, err := parseLine([]byte(line))
	if err != nil || kind != KindEntry {
		t.Fatalf("not an entry line %q: %v", line, err)
	}
	e, err := parseEntry(obj)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func entryLineJSON(t testing.TB, e Entry) string {
	t.Helper()
	return strings.TrimSuffix(string(export(t, []Entry{e}, nil)), "\n")
}

func flipHexField(t testing.TB, line, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	s := m[field].(string)
	c := byte('0')
	if s[0] == '0' {
		c = '1'
	}
	return strings.Replace(line, `"`+field+`":"`+s, `"`+field+`":"`+string(c)+s[1:], 1)
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func pemOf(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := marshalPKIX(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

type unsupportedSigner struct{}

func (unsupportedSigner) Public() crypto.PublicKey { return []byte("not a key") }
func (unsupportedSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("unreachable")
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func marshalPKIX(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// BenchmarkVerify verifies a 10,000-entry export per op.
func BenchmarkVerify(b *testing.B) {
	recs := make([]Record, 10000)
	for i := range recs {
		recs[i] = goldenRecords()[i%8]
	}
	entries, cps := buildLog(b, recs, goldenKey(), 5000, 10000)
	data := export(b, entries, cps)
	pub := goldenKey().Public()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Verify(bytes.NewReader(data), pub); err != nil {
			b.Fatal(err)
		}
	}
}
