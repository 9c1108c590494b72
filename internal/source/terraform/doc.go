// Package terraform reads Terraform plan and state JSON (`terraform show
// -json`) into the normalized model: one mapper per native type, joiners for
// settings Terraform splits into separate resources, unknown values kept
// unknown.
package terraform
