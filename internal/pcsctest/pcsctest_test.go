package pcsctest

import (
	"testing"

	"tappos/terminal/vpcd"
)

func TestStartPresent(t *testing.T) {
	a := Start(t)
	// A second reservation in the same process must get the other reader.
	b := Start(t)
	if a == b {
		t.Fatalf("two reservations got the same reader %q", a.Reader)
	}
	card := vpcd.NewCard([]byte{0x3B, 0x80, 0x80, 0x01, 0x01}, func([]byte) ([]byte, error) {
		return []byte{0x90, 0x00}, nil
	})
	remove := a.Present(t, card)
	remove()
	// Presenting again after a removal works: the driver accepts a new
	// connection.
	a.Present(t, card)
}
