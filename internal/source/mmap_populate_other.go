//go:build unix && !linux

package source

const mapPopulate = 0

// dropPages keeps the pages where madvise is not used.
func dropPages([]byte, int, int) int { return 0 }
