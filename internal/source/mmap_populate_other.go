//go:build unix && !linux

package source

const mapPopulate = 0
