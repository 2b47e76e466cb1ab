package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Colours of the high-contrast kiosk theme: white on near-black, with
// outcome colours that stay readable under white text (WCAG AA).
var (
	colBackground = color.NRGBA{0x0b, 0x0b, 0x0b, 0xff}
	colForeground = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	colButton     = color.NRGBA{0x2a, 0x2a, 0x2a, 0xff}
	colPrimary    = color.NRGBA{0x00, 0x5f, 0xcc, 0xff}
	colApproved   = color.NRGBA{0x0a, 0x6e, 0x2c, 0xff}
	colDeclined   = color.NRGBA{0xa8, 0x00, 0x1d, 0xff}
	colBanner     = color.NRGBA{0xff, 0xc4, 0x00, 0xff}
	colBannerText = color.NRGBA{0x00, 0x00, 0x00, 0xff}
	colMuted      = color.NRGBA{0xc8, 0xc8, 0xc8, 0xff}
)

// Text sizes of the kiosk's own wrapped paragraphs, beyond fyne's
// heading sizes.
const (
	sizeLarge  fyne.ThemeSizeName = "tappos-large"  // the tap screen's message
	sizeMedium fyne.ThemeSizeName = "tappos-medium" // outcome details
)

// minTouch is the smallest side of anything a finger must hit.
const minTouch = 48

// kioskTheme is fyne's default dark theme with high contrast, large
// text, and the bundled CJK font when the kiosk speaks Chinese.
type kioskTheme struct {
	base fyne.Theme
	font fyne.Resource // nil: the default font
}

func newTheme(font fyne.Resource) *kioskTheme {
	return &kioskTheme{base: theme.DefaultTheme(), font: font}
}

func (t *kioskTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	switch n {
	case theme.ColorNameBackground, theme.ColorNameOverlayBackground, theme.ColorNameMenuBackground:
		return colBackground
	case theme.ColorNameForeground, theme.ColorNameForegroundOnPrimary, theme.ColorNameForegroundOnError, theme.ColorNameForegroundOnSuccess:
		return colForeground
	case theme.ColorNameButton, theme.ColorNameInputBackground:
		return colButton
	case theme.ColorNamePrimary, theme.ColorNameFocus, theme.ColorNameSelection:
		return colPrimary
	case theme.ColorNameSuccess:
		return colApproved
	case theme.ColorNameError:
		return colDeclined
	case theme.ColorNameWarning:
		return colBanner
	case theme.ColorNamePlaceHolder, theme.ColorNameDisabled:
		return colMuted
	}
	return t.base.Color(n, theme.VariantDark)
}

func (t *kioskTheme) Font(s fyne.TextStyle) fyne.Resource {
	if t.font != nil && !s.Monospace && !s.Symbol {
		return t.font
	}
	return t.base.Font(s)
}

func (t *kioskTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return t.base.Icon(n) }

func (t *kioskTheme) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNameText:
		return 20
	case theme.SizeNameHeadingText:
		return 30
	case theme.SizeNameSubHeadingText:
		return 24
	case sizeLarge:
		return 40
	case sizeMedium:
		return 28
	case theme.SizeNameInnerPadding:
		return 12
	case theme.SizeNameInputBorder:
		return 3
	}
	return t.base.Size(n)
}
