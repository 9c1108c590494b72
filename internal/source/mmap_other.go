//go:build !unix

package source

import "os"

// mapFile never maps on systems without mmap: the file is read.
func mapFile(*os.File, int64) ([]byte, func(), bool) { return nil, nil, false }

// dropPages has nothing to drop on systems that do not map files.
func dropPages([]byte, int, int) int { return 0 }
