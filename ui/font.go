package ui

import (
	_ "embed"

	"fyne.io/fyne/v2"
)

// cjkFontData is WenQuanYi Micro Hei cut down by font/subset.sh to the
// characters the kiosk writes, in both languages: one font for all text
// keeps English and Chinese lines the same height and renders the "中文"
// button on the English screen.
//
//go:embed font/cjk.ttf
var cjkFontData []byte

var cjkFont = fyne.NewStaticResource("cjk.ttf", cjkFontData)
