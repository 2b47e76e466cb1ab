package apdu

import (
	"context"
	"fmt"
)

// MaxGetResponseRounds bounds the GET RESPONSE commands Transmit sends for
// one command, so that a card answering 61xx for ever cannot hang a
// transaction.
const MaxGetResponseRounds = 16

// Transceiver sends one raw command APDU to a card and returns the raw
// response APDU (data and status word).
type Transceiver interface {
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
}

// Transmit sends c and follows the ISO 7816-4 transport procedures: on
// 6Cxx it resends c once with Le = xx; on 61xx it sends GET RESPONSE with
// Le = xx and concatenates the data, at most MaxGetResponseRounds times.
//
// It returns the final response. When its status word is not 9000 the
// error is a *StatusError and the response is returned too, for callers
// that act on particular status words.
func Transmit(ctx context.Context, t Transceiver, c Command) (Response, error) {
	resp, err := exchange(ctx, t, c)
	if err != nil {
		return Response{}, err
	}
	if resp.SW.SW1() == 0x6C {
		c.Le = leOf(resp.SW.SW2())
		if resp, err = exchange(ctx, t, c); err != nil {
			return Response{}, err
		}
	}
	data := resp.Data
	for round := 0; resp.SW.SW1() == 0x61; round++ {
		if round == MaxGetResponseRounds {
			return Response{}, fmt.Errorf("%s: %w", c.Name(), ErrTooManyRounds)
		}
		if resp, err = exchange(ctx, t, GetResponse(leOf(resp.SW.SW2()))); err != nil {
			return Response{}, err
		}
		data = append(data[:len(data):len(data)], resp.Data...)
	}
	resp.Data = data
	return resp, resp.Err(c.INS)
}

func exchange(ctx context.Context, t Transceiver, c Command) (Response, error) {
	raw, err := c.Bytes()
	if err != nil {
		return Response{}, fmt.Errorf("encoding %s: %w", c.Name(), err)
	}
	out, err := t.Transmit(ctx, raw)
	if err != nil {
		return Response{}, fmt.Errorf("transmitting %s: %w", c.Name(), err)
	}
	resp, err := ParseResponse(out)
	if err != nil {
		return Response{}, fmt.Errorf("response to %s: %w", c.Name(), err)
	}
	return resp, nil
}
