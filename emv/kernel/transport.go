package kernel

import (
	"context"
	"fmt"
)

// maxResponseSteps bounds the 61xx/6Cxx chains a card may ask for, so a
// hostile card cannot keep the terminal busy.
const maxResponseSteps = 8

// exchange sends a command and returns the response data and status word,
// following 61xx (GET RESPONSE) and 6Cxx (wrong Le, resend) the way ISO
// 7816-4 T=0 cards ask. name is the command's name for errors.
func (s *session) exchange(ctx context.Context, name string, cmd []byte) ([]byte, uint16, error) {
	var data []byte
	for range maxResponseSteps {
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("%s: %w: %v", name, ErrCommunication, err)
		}
		s.out.APDUs++
		resp, err := s.card.Transmit(ctx, cmd)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w: %v", name, ErrCommunication, err)
		}
		if len(resp) < 2 {
			return nil, 0, fmt.Errorf("%s: %w: response of %d bytes", name, ErrCommunication, len(resp))
		}
		sw1, sw2 := resp[len(resp)-2], resp[len(resp)-1]
		data = append(data, resp[:len(resp)-2]...)
		switch sw1 {
		case 0x61:
			cmd = []byte{0x00, 0xC0, 0x00, 0x00, sw2}
			continue
		case 0x6C:
			if len(cmd) < 5 {
				return nil, 0, fmt.Errorf("%s: %w: 6C%02X to a command without Le", name, ErrCommunication, sw2)
			}
			cmd = append(cmd[:len(cmd)-1:len(cmd)-1], sw2)
			data = data[:0]
			continue
		}
		return data, uint16(sw1)<<8 | uint16(sw2), nil
	}
	return nil, 0, fmt.Errorf("%s: %w: too many GET RESPONSE or wrong-length steps", name, ErrCommunication)
}

// command builds a case 4 command APDU with Le 00.
func command(cla, ins, p1, p2 byte, data []byte) []byte {
	c := make([]byte, 0, 6+len(data))
	c = append(c, cla, ins, p1, p2, byte(len(data)))
	c = append(c, data...)
	return append(c, 0x00)
}
