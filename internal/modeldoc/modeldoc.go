// Package modeldoc renders docs/model.md, the reference of hoheit's
// normalized model, from the schema declarations and the Terraform mapping
// catalog, so the documentation cannot drift from the code. Only its test
// (which rewrites the file with -update) and tools use it.
package modeldoc

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/source/terraform"
)

var providerTitles = []struct{ key, title string }{
	{"aws", "AWS"}, {"azure", "Azure"}, {"gcp", "Google Cloud"}, {"openstack", "OpenStack"}, {"otc", "Open Telekom Cloud"},
}

// Render writes the model reference as Markdown.
func Render() []byte {
	var b bytes.Buffer
	catalog := terraform.Catalog()
	b.WriteString(`# The normalized model

Every source (Terraform plan or state, Kubernetes manifests, snapshots of live
tenants) turns what it reads into resources of the normalized types below. A
rule reads one resource as ` + "`resource`" + ` and is written once for all clouds:
` + "`resource.encryption.at_rest.key_manager`" + ` means the same for an S3 bucket, an
Azure storage account, a GCS bucket and an OBS bucket.

This file is generated from ` + "`internal/inventory/types.go`" + ` and the Terraform
mapping tables by ` + "`go test ./internal/modeldoc -update`" + `; edit those, not this.

## Values

- Every attribute a type declares is always present: what a source does not
  set has its zero value (false, "", 0, an empty list, or the first value of
  an enumeration, such as ` + "`none`" + `). So a check never fails on a missing key.
- A value Terraform knows only after apply is **unknown**, never false. The
  resource lists it under ` + "`unknown`" + ` (see ` + "`hoheit inventory`" + `); a rule
  whose verdict depends on it reports status ` + "`unknown`" + ` instead of pass or fail.
  A rule whose verdict does not depend on it (` + "`a || b`" + ` with ` + "`a`" + ` true) still decides.
- Settings Terraform splits into separate resources (` + "`aws_s3_bucket_versioning`" + `,
  ` + "`azurerm_storage_container`" + `, ...) are joined onto the resource they configure;
  they are listed below as "joined".
- ` + "`native`" + ` keeps the provider's attributes whole, for the rare rule that needs one
  the model lacks (` + "`resource.native.some_attribute`" + `).
- ` + "`jurisdiction`" + ` comes from hoheit's region table, which covers every region
  of AWS, Azure, Google Cloud, Open Telekom Cloud, STACKIT and IONOS.

## Common attributes (every type)

`)
	writeFields(&b, "", inventory.Common)
	for _, t := range inventory.TypeNames() {
		s := inventory.Schemas[t]
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", t, s.Doc)
		var rows []string
		for _, p := range providerTitles {
			var own, joined []string
			for _, m := range catalog {
				if m.Type != t || m.Provider != p.key {
					continue
				}
				if m.Joined {
					joined = append(joined, "`"+m.NativeType+"`")
				} else {
					own = append(own, "`"+m.NativeType+"`")
				}
			}
			if len(own)+len(joined) == 0 {
				continue
			}
			cell := strings.Join(own, ", ")
			if len(joined) > 0 {
				if cell != "" {
					cell += "; "
				}
				cell += "joined: " + strings.Join(joined, ", ")
			}
			rows = append(rows, fmt.Sprintf("| %s | %s |", p.title, cell))
		}
		if len(rows) > 0 {
			b.WriteString("| provider | Terraform types |\n|---|---|\n")
			b.WriteString(strings.Join(rows, "\n"))
			b.WriteString("\n\n")
		}
		writeFields(&b, "", s.Fields)
	}
	return b.Bytes()
}

func writeFields(b *bytes.Buffer, prefix string, fs []*inventory.Field) {
	if prefix == "" {
		b.WriteString("| attribute | type | meaning |\n|---|---|---|\n")
	}
	for _, f := range fs {
		doc := f.Doc
		if len(f.Enum) > 0 {
			var vals []string
			for _, e := range f.Enum {
				if e == "" {
					e = `""`
				}
				vals = append(vals, "`"+e+"`")
			}
			doc += " (" + strings.Join(vals, ", ") + ")"
		}
		kind := f.Kind.String()
		fmt.Fprintf(b, "| `%s%s` | %s | %s |\n", prefix, f.Name, kind, doc)
		switch f.Kind {
		case inventory.Object:
			writeFields(b, prefix+f.Name+".", f.Fields)
		case inventory.ObjectList:
			writeFields(b, prefix+f.Name+"[].", f.Fields)
		}
	}
}
