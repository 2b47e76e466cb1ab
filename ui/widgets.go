package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// minLayout stretches its objects over its area and is never smaller
// than min, so buttons stay big enough for a finger.
type minLayout struct{ min fyne.Size }

func (l minLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := l.min
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}

func (l minLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// touch gives o at least a minTouch × minTouch area, or more.
func touch(o fyne.CanvasObject, w, h float32) fyne.CanvasObject {
	return container.New(minLayout{fyne.NewSize(max(w, minTouch), max(h, minTouch))}, o)
}

// text is a line of text in a given size and colour.
func text(s string, size float32, c color.Color, bold bool) *canvas.Text {
	t := canvas.NewText(s, c)
	t.TextSize = size
	t.TextStyle.Bold = bold
	t.Alignment = fyne.TextAlignCenter
	return t
}

// para is a centred paragraph that wraps to the width it is given, for
// text whose length depends on the language and the data.
func para(s string, size fyne.ThemeSizeName, imp widget.Importance, bold bool) *widget.Label {
	l := widget.NewLabel(s)
	l.Alignment = fyne.TextAlignCenter
	l.Wrapping = fyne.TextWrapWord
	l.SizeName = size
	l.Importance = imp
	l.TextStyle.Bold = bold
	return l
}

// button makes a big button labelled with the translation of id and its
// keyboard shortcut, and binds the shortcut on the current screen.
func (k *Kiosk) button(id string, key fyne.KeyName, f func()) *widget.Button {
	label := k.tr.T(id)
	if key != "" {
		label += "  [" + keyHint(key) + "]"
		k.keys[key] = f
	}
	return widget.NewButton(label, f)
}

func keyHint(key fyne.KeyName) string {
	switch key {
	case fyne.KeyReturn:
		return "Enter"
	case fyne.KeyEscape:
		return "Esc"
	}
	return string(key)
}

// entry is a text entry that still lets Escape and the function keys
// reach the kiosk's shortcuts while it has the focus.
type entry struct {
	widget.Entry
	k *Kiosk
}

func (k *Kiosk) newEntry(placeholder string) *entry {
	e := &entry{k: k}
	e.ExtendBaseWidget(e)
	e.PlaceHolder = placeholder
	return e
}

// TypedKey forwards shortcut keys to the kiosk and the rest to the entry.
func (e *entry) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape || len(ev.Name) >= 2 && ev.Name[0] == 'F' && ev.Name[1] >= '1' && ev.Name[1] <= '9' {
		e.k.typedKey(ev)
		return
	}
	e.Entry.TypedKey(ev)
}

// keypad is the 0-9 pad with clear and backspace.
func (k *Kiosk) keypad() fyne.CanvasObject {
	var keys []fyne.CanvasObject
	for _, d := range "123456789C0<" {
		var b *widget.Button
		switch d {
		case 'C':
			b = widget.NewButton(k.tr.T("keypad.clear"), k.Clear)
		case '<':
			b = widget.NewButton(k.tr.T("keypad.back"), k.Backspace)
		default:
			digit := byte(d)
			b = widget.NewButton(string(d), func() { k.Digit(digit) })
		}
		keys = append(keys, touch(b, 96, 64))
	}
	return container.NewGridWithColumns(3, keys...)
}
