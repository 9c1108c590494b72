package report

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/hoheit/hoheit/internal/rules"
)

// TestAppendFindingMatchesEncodingJSON checks the hand-written finding
// encoder against encoding/json, byte for byte, on the values that take
// its fast paths and on those it hands to encoding/json.
func TestAppendFindingMatchesEncodingJSON(t *testing.T) {
	fw := map[string][]string{"gdpr": {"Art. 32(1)(a)", "Art. 5"}, "bsi-c5": {"CRY-03"}, "nil": nil}
	strs := []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "\x00\x01\x1f\x7f", "<html> & 'x'",
		"ünïcödé €", "line\u2028sep\u2029", "bad \xff utf-8", "emoji 🙂", "/slash/",
	}
	evid := []map[string]any{
		nil, {},
		{"a": true, "b": false, "c": nil, "d": "x"},
		{"n": 0.0, "neg": math.Copysign(0, -1), "i": 7.0, "f": 1.5, "big": 1e21, "huge": 1e300, "small": 1e-7, "tiny": -1e-6, "m": 123456789.0, "maxint": float64(math.MaxInt64)},
		{"int": 3, "int64": int64(-4), "uint": uint(5), "f32": float32(0.1)},
		{"list": []any{1.0, "two", nil, []any{}, map[string]any{"z": 1.0, "a": "\n"}}, "nilList": []any(nil), "nilMap": map[string]any(nil)},
		{"strs": []string{"a", "b"}, "odd\"key": 1.0, "nilStrs": []string(nil), "tags": map[string]string{"b": "1", "a": "\t"},
			"nilTags": map[string]string(nil), "bools": map[string]bool{"x": true}},
	}
	exc := &exception{Rule: "R", Justification: "because \"so\"", Owner: "team", Expires: "2027-01-01", File: "x.yaml", Line: 3,
		Resources: &rules.Selector{}}
	var fs []finding
	for i, s := range strs {
		f := finding{
			Fingerprint: "0123abcd", RuleID: "RULE-" + s, Title: s, Severity: "high", Status: "fail", Message: s + " msg",
			Resource: resourceRef{Address: s, ID: "id" + s, Name: s, Type: "object_storage.bucket", NativeType: "aws_s3_bucket",
				Provider: "aws", Account: s, Region: s, Country: s},
			Frameworks: fw,
			Location:   location{File: s, Line: i, Path: s},
			Evidence:   rules.EvidenceOf(evid[i%len(evid)]),
			Pack:       s,
		}
		if i%3 == 0 {
			f.Exception = exc
		}
		if i%4 == 0 {
			f.Frameworks = noFrameworks
		}
		if i%5 == 0 {
			f.Frameworks = nil
		}
		fs = append(fs, f)
	}
	for _, e := range evid {
		fs = append(fs, finding{Evidence: rules.EvidenceOf(e), Frameworks: fw})
	}
	a := newFindingAppender()
	for i := range fs {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&fs[i]); err != nil {
			t.Fatal(err)
		}
		// Twice: the second time the framework map comes from the cache.
		for range 2 {
			got, err := a.appendFinding(nil, &fs[i])
			if err != nil {
				t.Fatal(err)
			}
			if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
				t.Errorf("finding %d:\n got %s\nwant %s", i, got, w)
			}
		}
	}

	// A default message and a fingerprint built where they are written read
	// as the ones built as strings, whatever the message's parts need
	// escaped and whatever the status.
	for i := range fs {
		for _, status := range []string{"fail", "suppressed", "error", "unknown"} {
			built := fs[i]
			built.Status = status
			lazy := built
			built.Message = defaultMessage(&built)
			built.Fingerprint = fingerprint(built.RuleID, built.Resource)
			lazy.Message, lazy.Fingerprint, lazy.streamed = "", "", true
			want, err := a.appendFinding(nil, &built)
			if err != nil {
				t.Fatal(err)
			}
			got, err := a.appendFinding(nil, &lazy)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("finding %d, %s, message built in place:\n got %s\nwant %s", i, status, got, want)
			}
		}
	}
}

// TestAppendStringEveryByte puts every byte value at every position of a
// 17-byte string, so each lands in the eight-byte check and in the tail.
func TestAppendStringEveryByte(t *testing.T) {
	a := newFindingAppender()
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 17; pos++ {
			s := []byte("abcdefghijklmnopq")
			s[pos] = byte(c)
			want, _ := json.Marshal(string(s))
			want = bytes.ReplaceAll(want, []byte(`\u003c`), []byte("<"))
			want = bytes.ReplaceAll(want, []byte(`\u003e`), []byte(">"))
			want = bytes.ReplaceAll(want, []byte(`\u0026`), []byte("&"))
			if got := a.str(nil, string(s)); !bytes.Equal(got, want) {
				t.Fatalf("byte %#x at %d: got %s, want %s", c, pos, got, want)
			}
		}
	}
}
