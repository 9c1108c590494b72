//go:build !linux

package nft

import (
	"context"
	"errors"
	"log/slog"

	"github.com/hoheit/hoheit/internal/segment"
)

// Recorder receives the first packet of each connection the table logs.
type Recorder interface {
	Check(pkt segment.PacketInfo, dir segment.Direction) segment.Verdict
}

// Config configures an Enforcer.
type Config struct {
	Options
	Recorder Recorder
	Logger   *slog.Logger
}

// Stats counts what the log reader saw.
type Stats struct {
	Logged, Mismatched, Lost, Applies uint64
	Generation                        uint16
}

// Enforcer is only available on Linux.
type Enforcer struct{}

// ErrUnsupported: nftables exists only on Linux.
var errUnsupported = errors.New("nft: nftables enforcement needs Linux")

// Open fails: nftables exists only on Linux.
func Open(ctx context.Context, cfg Config) (*Enforcer, error) { return nil, errUnsupported }

// SetRules fails.
func (e *Enforcer) SetRules(rs *segment.NodeRuleSet) error { return errUnsupported }

// Stats returns nothing.
func (e *Enforcer) Stats() Stats { return Stats{} }

// Close does nothing.
func (e *Enforcer) Close() error { return nil }
