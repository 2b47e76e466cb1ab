package tags

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseAFL(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []AFLEntry
		err  error
	}{
		{"mastercard trace", []byte{0x08, 0x01, 0x01, 0x00, 0x10, 0x01, 0x02, 0x01, 0x18, 0x01, 0x02, 0x00},
			[]AFLEntry{{1, 1, 1, 0}, {2, 1, 2, 1}, {3, 1, 2, 0}}, nil},
		{"empty", []byte{}, []AFLEntry{}, nil},
		{"length", []byte{0x08, 0x01, 0x01}, nil, ErrAFL},
		{"SFI 0", []byte{0x00, 0x01, 0x01, 0x00}, nil, ErrAFL},
		{"low bits set", []byte{0x0C, 0x01, 0x01, 0x00}, nil, ErrAFL},
		{"record 0", []byte{0x08, 0x00, 0x01, 0x00}, nil, ErrAFL},
		{"last before first", []byte{0x08, 0x02, 0x01, 0x00}, nil, ErrAFL},
		{"too many ODA records", []byte{0x08, 0x01, 0x02, 0x03}, nil, ErrAFL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAFL(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
