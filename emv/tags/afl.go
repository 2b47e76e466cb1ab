package tags

import (
	"errors"
	"fmt"
)

// ErrAFL reports an Application File Locator (94) that breaks EMV Book 3
// §10.2: a length not a multiple of four, or an entry with a bad SFI or
// record range.
var ErrAFL = errors.New("malformed application file locator")

// AFLEntry is one entry of the Application File Locator: records First to
// Last of file SFI, of which the first ODA records take part in offline
// data authentication.
type AFLEntry struct {
	SFI, First, Last, ODA int
}

// ParseAFL decodes an AFL value (tag 94).
func ParseAFL(v []byte) ([]AFLEntry, error) {
	if len(v)%4 != 0 {
		return nil, fmt.Errorf("%w: length %d is not a multiple of 4", ErrAFL, len(v))
	}
	out := make([]AFLEntry, 0, len(v)/4)
	for i := 0; i < len(v); i += 4 {
		e := AFLEntry{SFI: int(v[i] >> 3), First: int(v[i+1]), Last: int(v[i+2]), ODA: int(v[i+3])}
		if v[i]&0x07 != 0 || e.SFI < 1 || e.SFI > 30 || e.First < 1 || e.Last < e.First || e.ODA > e.Last-e.First+1 {
			return nil, fmt.Errorf("%w: entry %d", ErrAFL, i/4)
		}
		out = append(out, e)
	}
	return out, nil
}
