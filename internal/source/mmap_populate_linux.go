package source

import (
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// populate maps the pages of a mapped file into the process before they
// are read, rather than faulting them in one by one, on every core: mapping
// a 300 MB plan in the page cache takes the kernel 30-40 ms, on one core
// with MAP_POPULATE, and nothing else can start before. A kernel older
// than 5.14 (no MADV_POPULATE_READ) faults the pages in as they are read.
func populate(data []byte) {
	page := os.Getpagesize()
	parts := runtime.GOMAXPROCS(0)
	chunk := (len(data)/parts + page - 1) &^ (page - 1)
	if parts == 1 || chunk < 1<<20 {
		_ = unix.Madvise(data, unix.MADV_POPULATE_READ)
		return
	}
	var wg sync.WaitGroup
	for lo := 0; lo < len(data); lo += chunk {
		wg.Go(func() { _ = unix.Madvise(data[lo:min(lo+chunk, len(data))], unix.MADV_POPULATE_READ) })
	}
	wg.Wait()
}

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
