// Package snapshot reads and writes hoheit snapshots: a versioned JSON file
// holding an estate that is already normalized. Live cloud collectors write
// them; a scan in an air-gapped network reads them like any other input.
// docs/snapshot.md describes the format field by field.
//
// It imports only the inventory package.
package snapshot
