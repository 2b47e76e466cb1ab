package kernel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"

	"tappos/emv/apdu"
	"tappos/emv/tlv"
)

// candidate is one combination of a card application and a kernel the
// terminal accepts (Book B §3.3.2).
type candidate struct {
	adf      []byte // ADF name (4F) from the directory entry
	label    string
	priority int // 1 highest .. 15, 16 for none
	kernel   int
	extSel   []byte // extended selection 9F29
	conf     *AIDConfig
	ind      indicators
}

// indicators are the entry point pre-processing results for a
// combination (Book B §3.1.1).
type indicators struct {
	notAllowed       bool
	floorExceeded    bool
	cvmLimitExceeded bool
	statusCheck      bool
	zeroAmount       bool
	ttq              []byte // kernel 3
}

// preProcess computes the indicators for a configured combination. unit
// is one unit of the currency in minor units (100 for USD): the amount of
// a status check. onlineOnly is a terminal type that cannot approve
// offline.
func preProcess(a *AIDConfig, amount, unit int64, onlineOnly bool) indicators {
	var ind indicators
	switch {
	case a.StatusCheck && amount == unit:
		ind.statusCheck = true
	case amount == 0:
		ind.zeroAmount = true
		ind.notAllowed = !a.ZeroAmountAllowed
	}
	// Kernel 2 learns whether the card is a phone only from its answer to
	// GET PROCESSING OPTIONS, and applies the limit that fits then.
	if limit := max(a.TransactionLimit, a.TransactionLimitOnDeviceCVM); a.TransactionLimit > 0 && amount >= limit {
		ind.notAllowed = true
	}
	ind.floorExceeded = amount > a.FloorLimit
	ind.cvmLimitExceeded = amount >= a.CVMRequiredLimit
	if len(a.TTQ) == 4 {
		ttq := bytes.Clone(a.TTQ)
		ttq[1] &^= ttqOnlineCryptogram | ttqCVMRequired // set per transaction
		// An online-only reader asks for an online cryptogram on every
		// transaction (Book C-3), so a card never approves it offline.
		if ind.statusCheck || ind.floorExceeded || onlineOnly {
			ttq[1] |= ttqOnlineCryptogram
		}
		if ind.zeroAmount {
			// Only an online authorisation can approve nothing; an
			// offline-only reader cannot take the tap at all.
			if ttq[0]&ttqOfflineOnly != 0 {
				ind.notAllowed = true
			}
			ttq[1] |= ttqOnlineCryptogram
		}
		if ind.cvmLimitExceeded {
			ttq[1] |= ttqCVMRequired
		}
		ind.ttq = ttq
	}
	return ind
}

// entryPoint selects the PPSE, builds the candidate list and hands each
// candidate in priority order to its kernel until one reaches an outcome
// other than Select Next.
func (s *session) entryPoint(ctx context.Context) error {
	s.out.Messages = append(s.out.Messages, MsgPresentCard)
	sel := apdu.SelectPPSE()
	data, sw, err := s.exchange(ctx, sel)
	if err != nil {
		return s.end(TryAgain, "card left or did not answer", err)
	}
	s.out.Messages = append(s.out.Messages, MsgProcessing)
	if sw != apdu.SWSuccess {
		return s.end(EndApplication, "card has no contactless directory",
			fmt.Errorf("%w: %w", ErrNoApplication, statusError(sel, sw)))
	}
	cands, err := s.candidates(data)
	if err != nil {
		return s.end(EndApplication, "card directory unreadable", err)
	}
	if len(cands) == 0 {
		return s.end(EndApplication, "no application accepted here", ErrNoApplication)
	}
	allowed := cands[:0]
	for _, c := range cands {
		if !c.ind.notAllowed {
			allowed = append(allowed, c)
		}
	}
	if len(allowed) == 0 {
		return s.end(TryAnotherInterface, "amount not allowed contactless", ErrNotAllowed)
	}
	var last error
	for _, c := range allowed {
		st, err := s.finalSelect(ctx, c)
		if st != SelectNext {
			return err
		}
		last = err
	}
	if errors.Is(last, ErrNotAllowed) {
		return s.end(TryAnotherInterface, "amount not allowed contactless for this card", last)
	}
	return s.end(EndApplication, "no application could be used", errors.Join(ErrNoApplication, last))
}

// candidates builds the candidate list from the PPSE's directory entries,
// in priority order, directory order among equals.
func (s *session) candidates(fci []byte) ([]*candidate, error) {
	l, err := template(fci, 0x6F, "PPSE")
	if err != nil {
		return nil, err
	}
	a5, _ := l[0].Children.Find(0xA5)
	dir, ok := a5.Children.Find(0xBF0C)
	if !ok {
		return nil, fmt.Errorf("PPSE: %w: no directory BF0C", ErrCardData)
	}
	var out []*candidate
	for _, e := range dir.Children {
		if e.Tag != 0x61 {
			continue
		}
		adf := e.Children.Value(0x4F)
		if len(adf) < 5 || len(adf) > 16 {
			continue // an entry without a usable ADF name is skipped (Book B §3.3.2.5)
		}
		k, ok := kernelID(adf, e.Children.Value(0x9F2A))
		if !ok {
			continue
		}
		conf := s.cfg.match(adf, k)
		if conf == nil {
			continue
		}
		prio := 16
		if p := e.Children.Value(0x87); len(p) == 1 && p[0]&0x0F != 0 {
			prio = int(p[0] & 0x0F)
		}
		c := &candidate{adf: adf, label: string(e.Children.Value(0x50)), priority: prio,
			kernel: k, conf: conf, ind: preProcess(conf, s.tx.Amount, s.currencyUnit(), s.onlineOnly())}
		if conf.ExtendedSelection {
			c.extSel = e.Children.Value(0x9F29)
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].priority < out[j].priority })
	return out, nil
}

// kernelID returns the kernel a directory entry asks for: 9F2A when
// present (international kernels only), else the default by RID (Book B
// Table 3-6).
func kernelID(adf, k []byte) (int, bool) {
	if len(k) > 0 {
		if k[0]&0xC0 > 0x40 {
			return 0, false // domestic kernels are not supported
		}
		return int(k[0] & 0x3F), true
	}
	switch string(adf[:5]) {
	case "\xA0\x00\x00\x00\x04":
		return 2, true
	case "\xA0\x00\x00\x00\x03":
		return 3, true
	}
	return 0, false
}

// finalSelect selects the candidate's application and runs its kernel.
func (s *session) finalSelect(ctx context.Context, c *candidate) (Status, error) {
	name := append(bytes.Clone(c.adf), c.extSel...)
	sel := apdu.Select(name)
	data, sw, err := s.exchange(ctx, sel)
	if err != nil {
		return TryAgain, s.end(TryAgain, "card left or did not answer", err)
	}
	if sw != apdu.SWSuccess {
		return SelectNext, statusError(sel, sw)
	}
	l, err := template(data, 0x6F, "SELECT AID")
	if err != nil {
		return SelectNext, err
	}
	df := l[0].Children.Value(0x84)
	if !bytes.Equal(df, name) && !bytes.Equal(df, c.adf) {
		return SelectNext, fmt.Errorf("SELECT AID: %w: DF name differs from the directory", ErrCardData)
	}
	a5, ok := l[0].Children.Find(0xA5)
	if !ok {
		return SelectNext, fmt.Errorf("SELECT AID: %w: no proprietary template A5", ErrCardData)
	}
	s.cardData = make(map[tlv.Tag][]byte, cardDataHint)
	s.tvr, s.tsi = [5]byte{}, [2]byte{}
	if err := s.storeCard(l); err != nil {
		return SelectNext, err
	}
	s.out.Kernel = c.kernel
	s.out.AID = bytes.Clone(df)
	s.out.Label = c.label
	if v := a5.Children.Value(0x50); len(v) > 0 {
		s.out.Label = string(v)
	}
	s.term[0x9F06] = bytes.Clone(c.conf.AID)
	var st Status
	switch c.kernel {
	case 2:
		st, err = s.kernel2(ctx, c, a5.Children)
	default:
		st, err = s.kernel3(ctx, c, a5.Children)
	}
	if st == SelectNext {
		s.out.Kernel, s.out.AID, s.out.Label = 0, nil, ""
	}
	return st, err
}

// end sets the outcome's status and reason and returns err.
func (s *session) end(st Status, reason string, err error) error {
	s.out.Status = st
	s.out.Reason = reason
	return err
}
