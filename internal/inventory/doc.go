// Package inventory is hoheit's normalized multi-cloud resource model: the
// Resource every source produces and every rule reads, the Estate that holds
// them, the schema of each normalized type, and the region table that gives a
// resource its jurisdiction.
//
// It imports nothing of hoheit's; every other package may import it.
package inventory
