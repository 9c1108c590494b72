// Package rules loads hoheit's rule files (YAML with CEL expressions),
// type-checks them against the normalized model, evaluates them over an
// estate in parallel, applies exceptions and produces findings.
//
// It imports inventory only; cli, report and the policy packs use it.
package rules
