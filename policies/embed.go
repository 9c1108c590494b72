// Package policies holds hoheit's built-in rule packs as YAML files embedded
// in the binary: baseline (a hardened configuration baseline), bsi-c5 (rules
// mapped to the BSI Cloud Computing Compliance Criteria Catalogue C5:2020)
// and gdpr (data protection and data residency under the GDPR).
//
// Each pack is a folder with one rule per file, named after the rule id in
// lower case, and a testdata folder with the golden cases of each rule
// (`hoheit policy test` runs them). bsi-c5/criteria.yaml lists every C5:2020
// criterion and gdpr/articles.yaml the GDPR provisions the rules refer to;
// the coverage documents under docs/compliance are generated from them by
// this package's tests.
//
// Only the rules engine reads this package; it imports nothing of hoheit's.
package policies

import "embed"

// FS holds the packs, each under its own folder.
//
//go:embed baseline bsi-c5 gdpr
var FS embed.FS

// Packs lists the built-in packs, in the order they are loaded.
var Packs = []string{"baseline", "bsi-c5", "gdpr"}
