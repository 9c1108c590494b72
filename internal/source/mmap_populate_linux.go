package source

import "syscall"

// mapPopulate asks the kernel to map the whole file at once rather than
// fault it in page by page.
const mapPopulate = syscall.MAP_POPULATE
