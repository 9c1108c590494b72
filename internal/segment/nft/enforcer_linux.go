package nft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/florianl/go-nflog/v2"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/hoheit/hoheit/internal/segment"
)

// Recorder receives the first packet of each connection the table logs
// (and the packet that finds a connection of an older rule set no longer
// allowed by a rule), with the connection's direction, and returns its own
// verdict. A reply is handed over reversed (Reverse), as a packet of its
// connection. *segment.Filter is one: it names the flow, counts it in its
// flow table and raises the alert, exactly as when it enforces in
// userspace (its verdict is then only compared with the kernel's).
type Recorder interface {
	Check(pkt segment.PacketInfo, dir segment.Direction) segment.Verdict
}

// Config configures an Enforcer.
type Config struct {
	Options
	// Recorder, if set, is fed every logged packet; nil: nothing is read
	// from the log group.
	Recorder Recorder
	// Logger receives errors of the log reader; nil discards them.
	Logger *slog.Logger
}

// Stats counts what the log reader saw.
type Stats struct {
	// Logged packets read from the NFLOG group.
	Logged uint64
	// Mismatched: the Recorder's verdict differed from the kernel's (a
	// packet logged under the previous rule set while the Recorder already
	// had the new one, normally).
	Mismatched uint64
	// Lost: the kernel could not deliver log messages (the socket buffer
	// overflowed); the packets were enforced, only not recorded.
	Lost uint64
	// Applies is the number of rule sets applied.
	Applies uint64
	// Generation is the generation of the table in force (Options).
	Generation uint16
}

// Enforcer owns the table and the log reader. Its methods are safe for
// concurrent use.
type Enforcer struct {
	cfg    Config
	log    *slog.Logger
	mu     sync.Mutex // serializes applies
	cancel context.CancelFunc
	nfl    *nflog.Nflog
	closed bool
	gen    uint16 // of the table in force; guarded by mu
	genNow atomic.Uint32

	logged, mismatched, lost, applies atomic.Uint64
}

// Open starts reading the log group (when a Recorder is set), then installs
// the table for a nil rule set (nothing allowed, protect) so the node is
// closed from the start; SetRules replaces it. The table's chains match the
// interface by name, so it may be opened before the interface exists.
func Open(ctx context.Context, cfg Config) (*Enforcer, error) {
	cfg.Options = cfg.Options.withDefaults()
	e := &Enforcer{cfg: cfg, log: cfg.Logger}
	// Conntrack marks outlive the agent: start where an earlier run's
	// table most likely did not, so its connections are checked again.
	if cfg.Generation == 0 {
		e.gen = uint16(rand.N(MaxGeneration)) + 1
	} else {
		e.gen = cfg.Generation - 1
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Recorder != nil {
		if err := e.startLog(ctx); err != nil {
			return nil, err
		}
	}
	if err := e.SetRules(nil); err != nil {
		e.stopLog()
		return nil, err
	}
	return e, nil
}

// SetRules replaces the table with one enforcing rs, atomically: the old
// table is deleted and the new one created in one netlink batch (one
// nftables transaction), so no packet sees neither. The new table has the
// next generation: connections established under an older table are
// checked again on their next packet, in either direction, and cut in
// protect mode when rs no longer allows them, as in the userspace filter.
func (e *Enforcer) SetRules(rs *segment.NodeRuleSet) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("nft: enforcer closed")
	}
	opts := e.cfg.Options
	opts.Generation = e.gen%MaxGeneration + 1
	if err := apply(Render(rs, opts)); err != nil {
		return err
	}
	e.gen = opts.Generation
	e.genNow.Store(uint32(e.gen))
	e.applies.Add(1)
	return nil
}

// Stats returns the log reader's counters and the table's generation.
func (e *Enforcer) Stats() Stats {
	return Stats{Logged: e.logged.Load(), Mismatched: e.mismatched.Load(), Lost: e.lost.Load(), Applies: e.applies.Load(),
		Generation: uint16(e.genNow.Load())}
}

// Close removes the table and stops the log reader. The mesh interface is
// open (no filtering) afterwards: close the mesh device first.
func (e *Enforcer) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	err := deleteTable(e.cfg.Table)
	e.stopLog()
	return err
}

// bigBuffers lets one batch carry tens of thousands of set elements (the
// default socket buffers hold about 200 KiB) and its acknowledgements.
func bigBuffers(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		for _, opt := range []int{unix.SO_SNDBUFFORCE, unix.SO_RCVBUFFORCE} {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, 64<<20); e != nil {
				serr = e
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

func conn() (*nftables.Conn, error) {
	c, err := nftables.New(nftables.WithSockOptions(bigBuffers))
	if err != nil {
		return nil, fmt.Errorf("nft: netlink: %w", err)
	}
	return c, nil
}

func deleteTable(name string) error {
	c, err := conn()
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	c.AddTable(t) // so that deleting never fails on a missing table
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft: removing table inet %s: %w", name, err)
	}
	return nil
}

// elementsPerMessage keeps each set-element message well under the 64 KiB
// a netlink attribute can hold.
const elementsPerMessage = 256

// apply replaces the table with r in one batch.
func apply(r *Ruleset) error {
	c, err := conn()
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: r.Options.Table, Family: nftables.TableFamilyINet}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)

	sets := map[string]*nftables.Set{}
	for _, s := range r.Sets {
		var types []nftables.SetDatatype
		for _, f := range s.Fields {
			types = append(types, [...]nftables.SetDatatype{nftables.TypeIPAddr, nftables.TypeIP6Addr, nftables.TypeInetProto, nftables.TypeInetService}[f])
		}
		ns := &nftables.Set{
			Table: t, Name: s.Name, IsMap: true, Interval: true, Concatenation: true,
			KeyType: nftables.MustConcatSetType(types...), DataType: nftables.TypeVerdict,
			KeyByteOrder: binaryutil.BigEndian,
		}
		if err := c.AddSet(ns, nil); err != nil {
			return fmt.Errorf("nft: set %s: %w", s.Name, err)
		}
		sets[s.Name] = ns
	}
	chains := map[string]*nftables.Chain{}
	for _, ch := range r.Chains {
		nc := &nftables.Chain{Name: ch.Name, Table: t}
		if ch.Hook != "" {
			accept := nftables.ChainPolicyAccept
			nc.Type = nftables.ChainTypeFilter
			nc.Priority = nftables.ChainPriorityFilter
			nc.Policy = &accept
			nc.Hooknum = map[string]*nftables.ChainHook{
				"input": nftables.ChainHookInput, "forward": nftables.ChainHookForward, "output": nftables.ChainHookOutput,
			}[ch.Hook]
		}
		chains[ch.Name] = c.AddChain(nc)
	}
	// Elements after the chains they jump to.
	for _, s := range r.Sets {
		ns := sets[s.Name]
		for start := 0; start < len(s.Elements); start += elementsPerMessage {
			batch := s.Elements[start:min(start+elementsPerMessage, len(s.Elements))]
			els := make([]nftables.SetElement, len(batch))
			for i, el := range batch {
				els[i] = nftables.SetElement{
					Key: concatKey(s.Fields, el.Lo), KeyEnd: concatKey(s.Fields, el.Hi),
					VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: el.Chain},
				}
			}
			if err := c.SetAddElements(ns, els); err != nil {
				return fmt.Errorf("nft: elements of %s: %w", s.Name, err)
			}
		}
	}
	for _, ch := range r.Chains {
		for _, rule := range ch.Rules {
			var exprs []expr.Any
			for _, st := range rule {
				x, err := stmtExprs(st, sets)
				if err != nil {
					return err
				}
				exprs = append(exprs, x...)
			}
			c.AddRule(&nftables.Rule{Table: t, Chain: chains[ch.Name], Exprs: exprs})
		}
	}
	if err := c.Flush(); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("nft: applying table inet %s (needs CAP_NET_ADMIN): %w", r.Options.Table, err)
		}
		return fmt.Errorf("nft: applying table inet %s: %w", r.Options.Table, err)
	}
	return nil
}

// concatKey lays out a concatenated key: each field padded to 4 bytes.
func concatKey(fields []FieldType, vals [][]byte) []byte {
	var b []byte
	for i, f := range fields {
		v := vals[i]
		b = append(b, v...)
		for n := f.size(); n%4 != 0; n++ {
			b = append(b, 0)
		}
	}
	return b
}

// Registers: reg 1 for single matches; concatenations start at the first
// 32-bit register.
const (
	reg1    = 1
	reg32_0 = 8
)

func ifname(s string) []byte {
	b := make([]byte, 16)
	copy(b, s)
	return b
}

func stmtExprs(st Stmt, sets map[string]*nftables.Set) ([]expr.Any, error) {
	switch s := st.(type) {
	case IfaceIs:
		key := expr.MetaKeyIIFNAME
		if s.Out {
			key = expr.MetaKeyOIFNAME
		}
		return []expr.Any{
			&expr.Meta{Key: key, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: ifname(s.Name)},
		}, nil
	case CtStateIn:
		return []expr.Any{
			&expr.Ct{Key: expr.CtKeySTATE, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(s.Bits), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: make([]byte, 4)},
		}, nil
	case CtMarkIs:
		return ctMarkCmp(markGen, Mark(s.Gen, false)), nil
	case CtMarkListed:
		return ctMarkCmp(markUnlisted, 0), nil
	case SetCtMark:
		return []expr.Any{
			&expr.Ct{Key: expr.CtKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(^MarkMask), Xor: binaryutil.NativeEndian.PutUint32(Mark(s.Gen, s.Unlisted))},
			&expr.Ct{Key: expr.CtKeyMARK, Register: reg1, SourceRegister: true},
		}, nil
	case CtReply:
		return []expr.Any{
			&expr.Ct{Key: expr.CtKeyDIRECTION, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{ctDirReply}},
		}, nil
	case CtUnconfirmed:
		return []expr.Any{
			&expr.Ct{Key: expr.CtKeySTATUS, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(ipsConfirmed), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: make([]byte, 4)},
		}, nil
	case DaddrIn:
		v6 := s.Prefix.Addr().Is6()
		off, n := uint32(16), uint32(4)
		if v6 {
			off, n = 24, 16
		}
		mask := make([]byte, n)
		for i := 0; i < s.Prefix.Bits(); i++ {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		return append(nfproto(v6),
			&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: n, Mask: mask, Xor: make([]byte, n)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: s.Prefix.Masked().Addr().AsSlice()},
		), nil
	case VmapLookup:
		set, ok := sets[s.Set]
		if !ok {
			return nil, fmt.Errorf("nft: rule refers to unknown set %s", s.Set)
		}
		x := nfproto(s.V6)
		off := uint32(0) // bytes into the concatenation
		for _, k := range s.Key {
			r := reg32_0 + off/4
			switch k {
			case KeySaddr, KeyDaddr:
				po, n := uint32(12), uint32(4)
				if s.V6 {
					po, n = 8, 16
				}
				if k == KeyDaddr {
					po += n
				}
				x = append(x, &expr.Payload{DestRegister: r, Base: expr.PayloadBaseNetworkHeader, Offset: po, Len: n})
				off += n
			case KeyL4Proto:
				x = append(x, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: r})
				off += 4
			case KeyDport:
				x = append(x, &expr.Payload{DestRegister: r, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
				off += 4
			case KeyCtProto:
				x = append(x, &expr.Ct{Key: expr.CtKeyPROTOCOL, Register: r})
				off += 4
			case KeyCtDport:
				x = append(x, &expr.Ct{Key: expr.CtKeyPROTODST, Register: r, Direction: ctDirOriginal})
				off += 4
			}
		}
		return append(x, &expr.Lookup{SourceRegister: reg32_0, SetName: set.Name, SetID: set.ID, IsDestRegSet: true, DestRegister: 0}), nil
	case Counter:
		return []expr.Any{&expr.Counter{}}, nil
	case LimitRate:
		return []expr.Any{&expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(s.Rate), Unit: expr.LimitTimeSecond, Burst: s.Rate}}, nil
	case Log:
		return []expr.Any{&expr.Log{
			Key:   1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_SNAPLEN,
			Group: s.Group, Data: []byte(s.Prefix), Snaplen: s.Snaplen,
		}}, nil
	case Verdict:
		switch s.Kind {
		case "accept":
			return []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}, nil
		case "drop":
			return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}, nil
		case "jump":
			return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: s.Chain}}, nil
		}
	}
	return nil, fmt.Errorf("nft: cannot encode %T", st)
}

// ctMarkCmp matches when the conntrack mark's bits in mask equal want.
func ctMarkCmp(mask, want uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyMARK, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.NativeEndian.PutUint32(want)},
	}
}

// Conntrack directions (IP_CT_DIR_ORIGINAL, IP_CT_DIR_REPLY).
const (
	ctDirOriginal = 0
	ctDirReply    = 1
)

func nfproto(v6 bool) []expr.Any {
	p := byte(unix.NFPROTO_IPV4)
	if v6 {
		p = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{p}},
	}
}

// startLog binds the log group and feeds logged packets to the Recorder.
func (e *Enforcer) startLog(ctx context.Context) error {
	nfl, err := nflog.Open(&nflog.Config{Group: e.cfg.LogGroup, Copymode: nflog.CopyPacket, Bufsize: Snaplen})
	if err != nil {
		return fmt.Errorf("nft: opening NFLOG: %w", err)
	}
	// Hold bursts of new connections while the reader catches up.
	nfl.Con.SetReadBuffer(8 << 20)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	err = nfl.RegisterWithErrorFunc(ctx, func(a nflog.Attribute) int {
		e.handle(a)
		return 0
	}, func(err error) int {
		if ctx.Err() != nil {
			return 1
		}
		var oe *netlink.OpError
		if errors.As(err, &oe) && (oe.Timeout() || oe.Temporary()) {
			return 0
		}
		if errors.Is(err, syscall.ENOBUFS) {
			e.lost.Add(1)
			e.log.Warn("segmentation log: the kernel dropped log messages; some flows are not recorded")
			return 0
		}
		e.log.Error("segmentation log: reading NFLOG", "err", err)
		return 1
	})
	if err != nil {
		cancel()
		nfl.Close()
		return fmt.Errorf("nft: binding NFLOG group %d (another program may hold it): %w", e.cfg.LogGroup, err)
	}
	e.nfl, e.cancel = nfl, cancel
	return nil
}

func (e *Enforcer) stopLog() {
	if e.cancel != nil {
		e.cancel()
		e.nfl.Close()
		e.cancel = nil
	}
}

// handle feeds one logged packet to the Recorder.
func (e *Enforcer) handle(a nflog.Attribute) {
	if a.Prefix == nil || a.Payload == nil {
		return
	}
	l, ok := ParsePrefix(*a.Prefix)
	if !ok {
		return // not ours
	}
	e.logged.Add(1)
	pi, err := segment.ParsePacket(Untruncate(*a.Payload))
	if err != nil {
		e.mismatched.Add(1) // the userspace filter would drop it
		return
	}
	if l.Reply {
		pi = Reverse(pi)
	}
	if v := e.cfg.Recorder.Check(pi, l.Dir); v != l.Verdict {
		e.mismatched.Add(1)
	}
}

// ipsConfirmed is the kernel's IPS_CONFIRMED conntrack status bit.
const ipsConfirmed = 1 << 3
