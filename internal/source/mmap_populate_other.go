//go:build unix && !linux

package source

// populate leaves the pages to be faulted in as they are read.
func populate([]byte) {}

// dropPages keeps the pages where madvise is not used.
func dropPages([]byte, int, int) int { return 0 }
