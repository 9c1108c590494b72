package terraform

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse and Detect. Neither may panic or
// overflow the stack; Parse either fails with an error that names the file,
// or returns resources that have a type and an address. Mapper panics would
// surface as "this is a bug" errors and fail the target.
//
// go test ./internal/source/terraform -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	// Seeds beyond testdata/fuzz/FuzzParse: the shapes that stress the
	// reader's own paths.
	f.Add([]byte(`{"format_version":"1.2","planned_values":{"root_module":{"resources":[{"address":"aws_s3_bucket.a","mode":"managed","type":"aws_s3_bucket","name":"a","provider_name":"registry.terraform.io/hashicorp/aws","values":{"bucket":"a"}}]}}}`))
	f.Add([]byte(`{"format_version":"1.0","values":{"root_module":{"child_modules":[{"address":"module.m","resources":[{"address":"module.m.aws_iam_role.r","mode":"managed","type":"aws_iam_role","name":"r","values":{"assume_role_policy":"{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\"}}"}}]}]}}}`))
	f.Add([]byte(`{"format_version":"1.2","planned_values":{"root_module":{"resources":[{"address":"x.y","mode":"managed","type":"aws_instance","values":{"cpu_options":"oops","root_block_device":[1,2]}}]}},"resource_changes":[{"address":"x.y","mode":"managed","change":{"after_unknown":{"cpu_options":[true],"metadata_options":true}}}]}`))
	f.Add([]byte(strings.Repeat("[", MaxDepth+1)))
	f.Add([]byte(`{"a":"\ud800\u00e9\\\"","b":-0.5e+3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		Detect(data)
		est, err := Parse("fuzz.json", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			if strings.Contains(err.Error(), "this is a bug") {
				t.Fatal(err)
			}
			var se *syntaxError
			if errors.As(err, &se) && (se.Offset < 0 || se.Offset > len(data)) {
				t.Fatalf("offset %d outside the input of %d bytes", se.Offset, len(data))
			}
			return
		}
		for _, r := range est.Resources {
			if r.Type == "" || r.Address == "" || r.Attributes() == nil {
				t.Fatalf("incomplete resource %+v", r)
			}
		}
	})
}
