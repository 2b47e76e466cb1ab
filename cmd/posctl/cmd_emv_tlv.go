package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"tappos/emv/tags"
	"tappos/emv/tlv"
)

func init() {
	register(command{
		path:  []string{"emv", "tlv"},
		short: "decode a BER-TLV hex dump with tag names and bit fields",
		run:   runEmvTLV,
	})
}

const emvTLVUsage = `usage: posctl emv tlv [--json] HEX...

Decodes BER-TLV data: one object per line, children indented, with the
tag's name and, for coded tags (AIP, AFL, CVM List, TVR, TSI, TTQ, CTQ,
CVM Results, CID, Visa IAD), what the value means. HEX may contain spaces or be
split over several arguments; "-" reads it from standard input. PANs and
track data are masked.

Example:
  posctl emv tlv 770E82020180940818010201200103009000
  posctl emv tlv --json '9F27 01 80 9F36 02 0052'
`

func runEmvTLV(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("posctl emv tlv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	fs.Usage = func() {
		fmt.Fprint(stderr, emvTLVUsage)
		fs.PrintDefaults()
	}
	// Flags may follow the hex, so parse again after each positional word.
	var words []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		words, rest = append(words, rest[0]), rest[1:]
	}
	if len(words) == 0 {
		fs.Usage()
		return 2
	}
	text := strings.Join(words, "")
	if text == "-" {
		in, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintf(stderr, "posctl emv tlv: reading standard input: %v\n", err)
			return 1
		}
		text = string(in)
	}
	data, err := tlv.ParseHex(text)
	if err != nil {
		fmt.Fprintf(stderr, "posctl emv tlv: %v\n", err)
		return 2
	}
	list, err := tlv.Decode(data)
	if err != nil {
		var te *tlv.Error
		if errors.As(err, &te) {
			fmt.Fprintf(stderr, "posctl emv tlv: malformed TLV at offset %d (0x%X): %v\n", te.Offset, te.Offset, te.Err)
		} else {
			fmt.Fprintf(stderr, "posctl emv tlv: malformed TLV: %v\n", err)
		}
		return 1
	}
	nodes := tlvNodes(list)
	if *asJSON {
		return queueJSON(stdout, stderr, "emv tlv", nodes)
	}
	printTLVNodes(stdout, nodes, 0)
	return 0
}

// tlvNode is one decoded object, as printed and as JSON.
type tlvNode struct {
	Tag      string    `json:"tag"`
	Name     string    `json:"name"`
	Format   string    `json:"format,omitempty"`
	Length   int       `json:"length"`
	Value    string    `json:"value,omitempty"`  // hex; absent for templates and masked data
	Masked   string    `json:"masked,omitempty"` // card data with the PAN masked
	Text     string    `json:"text,omitempty"`   // the value as text, for an/ans formats
	Decoded  []string  `json:"decoded,omitempty"`
	Children []tlvNode `json:"children,omitempty"`
}

func tlvNodes(l tlv.List) []tlvNode {
	out := make([]tlvNode, 0, len(l))
	for _, o := range l {
		n := tlvNode{Tag: o.Tag.String(), Name: tags.Name(o.Tag), Length: len(o.Value)}
		info, known := tags.Lookup(o.Tag)
		if known {
			n.Format = info.Format.String()
		}
		switch {
		case o.Tag.Constructed():
			n.Children = tlvNodes(o.Children)
		case known && info.Sensitive:
			n.Masked, _ = tags.Redact(o.Tag, o.Value)
		default:
			n.Value = strings.ToUpper(hex.EncodeToString(o.Value))
			if known && (info.Format == tags.FormatAN || info.Format == tags.FormatANS) && printable(o.Value) {
				n.Text = string(o.Value)
			}
			n.Decoded = tags.Describe(o.Tag, o.Value)
			if tags.HasDecoder(o.Tag) && len(n.Decoded) == 0 {
				n.Decoded = []string{"none"}
			}
		}
		out = append(out, n)
	}
	return out
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return false
		}
	}
	return len(b) > 0
}

func printTLVNodes(w io.Writer, nodes []tlvNode, depth int) {
	indent := strings.Repeat("  ", depth)
	for _, n := range nodes {
		line := fmt.Sprintf("%s%s %s", indent, n.Tag, n.Name)
		switch {
		case n.Children != nil:
			line += fmt.Sprintf(" [%d bytes]", n.Length)
		case n.Masked != "":
			line += ": " + n.Masked
		default:
			line += ": " + n.Value
			if n.Text != "" {
				line += fmt.Sprintf(" %q", n.Text)
			}
		}
		fmt.Fprintln(w, line)
		for _, d := range n.Decoded {
			fmt.Fprintf(w, "%s    - %s\n", indent, d)
		}
		printTLVNodes(w, n.Children, depth+1)
	}
}
