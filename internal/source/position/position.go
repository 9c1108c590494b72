// Package position turns byte offsets in an input into line numbers, for
// the locations and errors the readers report. The readers in
// internal/source/... import it; it imports nothing of hoheit's.
package position

import "bytes"

// Lines maps ascending byte offsets of one input to 1-based line numbers in
// linear time overall: each call counts only the newlines since the last.
// An offset below the last one starts again from the top.
type Lines struct {
	data []byte
	off  int
	line int
}

// NewLines counts lines in data.
func NewLines(data []byte) *Lines { return &Lines{data: data} }

// At returns the line of the byte at off.
func (l *Lines) At(off int) int {
	if l.line == 0 {
		l.line = 1
	}
	if off < l.off {
		l.off, l.line = 0, 1
	}
	if off > len(l.data) {
		off = len(l.data)
	}
	l.line += bytes.Count(l.data[l.off:off], []byte("\n"))
	l.off = off
	return l.line
}

// LineColumn returns the 1-based line and column of the byte at offset,
// for an error that points into the input once.
func LineColumn(data []byte, offset int) (line, col int) {
	if offset > len(data) {
		offset = len(data)
	}
	line = 1 + bytes.Count(data[:offset], []byte{'\n'})
	col = offset - bytes.LastIndexByte(data[:offset], '\n')
	return line, col
}
