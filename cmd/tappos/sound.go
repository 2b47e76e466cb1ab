package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"

	"tappos/ui"
)

// sounder plays the kiosk's cues through aplay (ALSA) when it exists;
// without it the kiosk stays silent.
type sounder struct {
	aplay string
	files map[ui.Cue]string
}

// newSounder writes the cues as WAV files into dir.
func newSounder(dir string) ui.Sounder {
	aplay, err := exec.LookPath("aplay")
	if err != nil {
		return nil
	}
	s := &sounder{aplay: aplay, files: make(map[ui.Cue]string)}
	for cue, tones := range map[ui.Cue][]tone{
		ui.CueApproved: {{1320, 120}},            // one short high beep
		ui.CueDeclined: {{440, 180}, {330, 260}}, // two falling low tones
	} {
		path := filepath.Join(dir, fmt.Sprintf("cue%d.wav", cue))
		if err := os.WriteFile(path, wav(tones), 0o600); err != nil {
			return nil
		}
		s.files[cue] = path
	}
	return s
}

// Play starts aplay and does not wait for it.
func (s *sounder) Play(c ui.Cue) {
	if f, ok := s.files[c]; ok {
		cmd := exec.Command(s.aplay, "-q", f)
		if cmd.Start() == nil {
			go cmd.Wait()
		}
	}
}

type tone struct{ hz, ms int }

// wav renders tones as 16-bit mono PCM at 22050 Hz with short fades so
// the beeps do not click.
func wav(tones []tone) []byte {
	const rate = 22050
	var pcm []int16
	for _, t := range tones {
		n := rate * t.ms / 1000
		fade := rate / 200
		for i := range n {
			v := math.Sin(2 * math.Pi * float64(t.hz) * float64(i) / rate)
			g := 1.0
			if i < fade {
				g = float64(i) / float64(fade)
			} else if n-i < fade {
				g = float64(n-i) / float64(fade)
			}
			pcm = append(pcm, int16(v*g*12000))
		}
	}
	var b bytes.Buffer
	size := uint32(len(pcm) * 2)
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, 36+size)
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(rate * 2), uint16(2), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v) // PCM, mono, 16-bit
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, size)
	binary.Write(&b, binary.LittleEndian, pcm)
	return b.Bytes()
}
