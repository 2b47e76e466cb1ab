package kernel

import (
	"context"
	"errors"
	"fmt"

	"tappos/emv/apdu"
)

// counter counts the commands sent to the card and refuses to send once
// the tap's deadline has passed, whatever the transceiver does with ctx.
type counter struct{ s *session }

func (c counter) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.s.out.APDUs++
	return c.s.card.Transmit(ctx, cmd)
}

// exchange sends a command, following 61xx and 6Cxx, and returns the
// response data and status word. Only a failure to talk to the card is an
// error (ErrCommunication, wrapping the transceiver's error so the caller
// can tell a removed card from a silent one); a status word other than
// 9000 is the caller's to judge.
func (s *session) exchange(ctx context.Context, c apdu.Command) ([]byte, apdu.SW, error) {
	resp, err := apdu.Transmit(ctx, counter{s}, c)
	var se *apdu.StatusError
	if err != nil && !errors.As(err, &se) {
		return nil, 0, fmt.Errorf("%s: %w: %w", c.Name(), ErrCommunication, err)
	}
	return resp.Data, resp.SW, nil
}

// statusError reports an unexpected status word for a command.
func statusError(c apdu.Command, sw apdu.SW) error {
	return &apdu.StatusError{INS: c.INS, SW: sw}
}
