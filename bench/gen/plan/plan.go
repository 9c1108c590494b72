// Package plan writes synthetic but realistic Terraform plans, as
// `terraform show -json` prints them, for benchmarks: hoheit's own and the
// side-by-side comparison with trivy in bench/compare.sh.
//
// A plan of n resources spreads them over the aws, azurerm, google and
// opentelekomcloud providers and some thirty common resource types, each
// with the attribute set its provider really plans (known values, nulls,
// defaults, values known only after apply), a deterministic mix of secure
// and insecure settings, and configuration expressions that reference the
// resources they depend on (split S3 bucket settings name their bucket,
// disks their keys, security groups their network).
//
// The plan is streamed: memory stays constant whatever n is.
package plan

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Write writes a plan of exactly n managed resources to w. The same n and
// seed always give the same bytes.
func Write(w io.Writer, n int, seed int64) error {
	if n < 0 {
		return errors.New("plan: negative resource count")
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	p := &printer{w: bw, n: n, seed: seed}
	p.document()
	if p.err != nil {
		return fmt.Errorf("writing plan: %w", p.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing plan: %w", err)
	}
	return nil
}

// Count returns how many resources of each type a plan of n resources
// written with seed holds.
func Count(n int, seed int64) map[string]int {
	counts := map[string]int{}
	each(n, seed, func(r *resource) { counts[r.typ]++ })
	return counts
}

// each calls fn for the first n resources, unit after unit.
func each(n int, seed int64, fn func(*resource)) {
	done := 0
	for i := 0; done < n; i++ {
		u := newUnit(seed, i)
		generators[order[i%len(order)]](u)
		for _, r := range u.out {
			if done == n {
				return
			}
			fn(r)
			done++
		}
	}
}

// order is the sequence of unit kinds the plan cycles through; a kind
// listed twice is twice as common. Network units come first so that
// instances and databases can reference their security groups.
var order = []string{
	"aws-network", "azure-network", "google-network", "otc-network",
	"aws-bucket", "azure-storage", "google-bucket", "otc-bucket",
	"aws-instance", "azure-vm", "google-instance", "otc-instance",
	"aws-database", "azure-postgres", "google-sql", "otc-database",
	"aws-volume", "azure-disk", "google-disk", "otc-volume",
	"aws-iam", "azure-key", "google-key", "otc-key",
	"aws-trail", "azure-nsg", "google-iam", "aws-key",
	"aws-bucket", "google-firewall",
}

// generators builds the resources of each kind of unit.
var generators = map[string]func(*unit){
	"aws-network": awsNetwork, "azure-network": azureNetwork, "google-network": googleNetwork, "otc-network": otcNetwork,
	"aws-bucket": awsBucket, "azure-storage": azureStorage, "google-bucket": googleBucket, "otc-bucket": otcBucket,
	"aws-instance": awsInstance, "azure-vm": azureVM, "google-instance": googleInstance, "otc-instance": otcInstance,
	"aws-database": awsDatabase, "azure-postgres": azurePostgres, "google-sql": googleSQL, "otc-database": otcDatabase,
	"aws-volume": awsVolume, "azure-disk": azureDisk, "google-disk": googleDisk, "otc-volume": otcVolume,
	"aws-iam": awsIAM, "azure-key": azureKey, "google-key": googleKey, "otc-key": otcKey,
	"aws-trail": awsTrail, "azure-nsg": azureNSG, "google-iam": googleIAM, "aws-key": awsKey,
	"google-firewall": googleFirewall,
}

// previous returns the index of the nearest unit before index of the named
// kind. All its resources are in the plan: only the last unit is cut short.
func previous(index int, name string) (int, bool) {
	for j := index - 1; j >= 0 && j >= index-len(order); j-- {
		if order[j%len(order)] == name {
			return j, true
		}
	}
	return 0, false
}

// printer writes the document, stopping at the first write error.
type printer struct {
	w    *bufio.Writer
	n    int
	seed int64
	buf  []byte
	err  error
}

func (p *printer) raw(s string) {
	if p.err == nil {
		_, p.err = p.w.WriteString(s)
	}
}

func (p *printer) flush() {
	if p.err == nil {
		_, p.err = p.w.Write(p.buf)
	}
	p.buf = p.buf[:0]
}

// document writes the top level in the order Terraform writes it.
func (p *printer) document() {
	p.raw(`{"format_version":"1.2","terraform_version":"1.9.8","variables":`)
	p.buf = appendValue(p.buf, planVariables(), modeValues)
	p.flush()
	p.raw(`,"planned_values":{"root_module":{"resources":[`)
	p.resources(p.plannedValue)
	p.raw(`]}},"resource_changes":[`)
	p.resources(p.resourceChange)
	p.raw(`],"configuration":{"provider_config":`)
	p.buf = appendValue(p.buf, providerConfig(), modeValues)
	p.flush()
	p.raw(`,"root_module":{"resources":[`)
	p.resources(p.configResource)
	p.raw(`],"variables":`)
	p.buf = appendValue(p.buf, configVariables(), modeValues)
	p.flush()
	p.raw(`}},"timestamp":"2026-01-15T09:00:00Z","applyable":true,"complete":true,"errored":false}`)
	p.raw("\n")
}

// resources writes the n resources of one section, comma separated.
func (p *printer) resources(write func(*resource)) {
	first := true
	each(p.n, p.seed, func(r *resource) {
		if p.err != nil {
			return
		}
		if !first {
			p.buf = append(p.buf, ',')
		}
		first = false
		write(r)
		if len(p.buf) > 64<<10 {
			p.flush()
		}
	})
	p.flush()
}

func (p *printer) header(r *resource) {
	p.buf = append(p.buf, `{"address":`...)
	p.buf = appendString(p.buf, r.address())
	p.buf = append(p.buf, `,"mode":"managed","type":`...)
	p.buf = appendString(p.buf, r.typ)
	p.buf = append(p.buf, `,"name":`...)
	p.buf = appendString(p.buf, r.name)
}

func (p *printer) plannedValue(r *resource) {
	p.header(r)
	p.buf = append(p.buf, `,"provider_name":`...)
	p.buf = appendString(p.buf, providerName(r.providerKey))
	p.buf = append(p.buf, `,"schema_version":`...)
	p.buf = append(p.buf, schemaVersion(r.typ)...)
	p.buf = append(p.buf, `,"values":`...)
	p.buf = appendValue(p.buf, r.attrs, modeValues)
	p.buf = append(p.buf, `,"sensitive_values":`...)
	p.buf = appendValue(p.buf, r.attrs, modeSensitive)
	p.buf = append(p.buf, '}')
}

func (p *printer) resourceChange(r *resource) {
	p.header(r)
	p.buf = append(p.buf, `,"provider_name":`...)
	p.buf = appendString(p.buf, providerName(r.providerKey))
	p.buf = append(p.buf, `,"change":{"actions":["create"],"before":null,"after":`...)
	p.buf = appendValue(p.buf, r.attrs, modeValues)
	p.buf = append(p.buf, `,"after_unknown":`...)
	p.buf = appendValue(p.buf, r.attrs, modeUnknown)
	p.buf = append(p.buf, `,"before_sensitive":false,"after_sensitive":`...)
	p.buf = appendValue(p.buf, r.attrs, modeSensitive)
	p.buf = append(p.buf, `}}`...)
}

func (p *printer) configResource(r *resource) {
	p.header(r)
	p.buf = append(p.buf, `,"provider_config_key":`...)
	p.buf = appendString(p.buf, r.providerKey)
	p.buf = append(p.buf, `,"expressions":`...)
	p.buf = appendValue(p.buf, r.expr, modeValues)
	p.buf = append(p.buf, `,"schema_version":`...)
	p.buf = append(p.buf, schemaVersion(r.typ)...)
	p.buf = append(p.buf, '}')
}

// schemaVersion is the provider's schema version of a resource type, as
// the plan records it.
func schemaVersion(typ string) string {
	switch typ {
	case "aws_instance", "aws_security_group", "aws_vpc":
		return "1"
	case "aws_db_instance":
		return "2"
	case "google_storage_bucket":
		return "3"
	case "azurerm_storage_account":
		return "4"
	case "google_compute_instance":
		return "6"
	}
	return "0"
}
