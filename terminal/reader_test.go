package terminal_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tappos/terminal"
	"tappos/terminal/memreader"
	"tappos/terminal/vpcd"
)

// A tap as the sale flow drives it: wait for a card, hand the session to the
// kernel as a Transceiver with a deadline, and turn a removed card into
// "present card again".
func Example() {
	r := memreader.New("counter")
	apdus := 0
	r.Present(vpcd.NewCard([]byte{0x3B, 0x80, 0x80, 0x01, 0x01}, func(apdu []byte) ([]byte, error) {
		apdus++
		if apdus > 1 {
			return nil, vpcd.ErrPulled // the shopper pulls the card away
		}
		return []byte{0x90, 0x00}, nil
	}))

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	card, err := r.WaitCard(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer card.Close()

	var t terminal.Transceiver = card // all the kernel sees
	for _, apdu := range [][]byte{
		{0x00, 0xA4, 0x04, 0x00, 0x0E, '2', 'P', 'A', 'Y', '.', 'S', 'Y', 'S', '.', 'D', 'D', 'F', '0', '1', 0x00},
		{0x80, 0xA8, 0x00, 0x00, 0x02, 0x83, 0x00, 0x00},
	} {
		rsp, err := t.Transmit(ctx, apdu)
		switch {
		case errors.Is(err, terminal.ErrCardRemoved):
			fmt.Println("present card again")
			return
		case errors.Is(err, terminal.ErrTimeout):
			fmt.Println("card did not answer")
			return
		case err != nil:
			fmt.Println(err)
			return
		}
		fmt.Printf("% X\n", rsp)
	}
	// Output:
	// 90 00
	// present card again
}
