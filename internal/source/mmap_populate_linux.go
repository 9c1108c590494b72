package source

import (
	"os"
	"syscall"
)

// mapPopulate asks the kernel to map the whole file at once rather than
// fault it in page by page.
const mapPopulate = syscall.MAP_POPULATE

// dropPages tells the kernel that the pages of a mapped file wholly within
// data[start:end] are not needed: they leave the process's resident set
// and are read from the file again should they be touched. It returns how
// many bytes it dropped.
func dropPages(data []byte, start, end int) int {
	page := os.Getpagesize()
	start = (start + page - 1) &^ (page - 1)
	end &^= page - 1
	if start < end && end <= len(data) {
		if syscall.Madvise(data[start:end], syscall.MADV_DONTNEED) == nil {
			return end - start
		}
	}
	return 0
}
