// Package i18n holds the kiosk's words and money formats in English and
// Simplified Chinese.
//
// The translations are JSON files in the format of fyne's lang package
// (flat message IDs, {{.Name}} placeholders), embedded in the binary. A
// Catalog serves one language so the kiosk can switch language at run
// time, which fyne's process-wide lang localizer cannot; Register also
// hands the same files to fyne's lang for its own widgets.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"fyne.io/fyne/v2/lang"
)

//go:embed translations/*.json
var files embed.FS

// Lang is a language the kiosk speaks, as a BCP 47 tag.
type Lang string

// Languages with a translation file.
const (
	English Lang = "en"
	Chinese Lang = "zh-Hans"
)

// Langs lists the languages in the order the settings screen offers them.
var Langs = []Lang{English, Chinese}

// Name returns the language's own name, e.g. "简体中文".
func (l Lang) Name() string {
	switch l {
	case Chinese:
		return "简体中文"
	}
	return "English"
}

// Match returns the kiosk language closest to a locale such as
// "zh-CN", "zh_CN.UTF-8" or "en-GB": Chinese for any "zh", else English.
func Match(locale string) Lang {
	if strings.HasPrefix(strings.ToLower(locale), "zh") {
		return Chinese
	}
	return English
}

// Register adds the translation files to fyne's lang package.
func Register() error {
	return lang.AddTranslationsFS(files, "translations")
}

// Catalog translates message IDs into one language.
type Catalog struct {
	lang     Lang
	msgs     map[string]string
	fallback map[string]string // English, for IDs a translation lacks
}

// New loads the catalog of a language.
func New(l Lang) (*Catalog, error) {
	en, err := load(English)
	if err != nil {
		return nil, err
	}
	c := &Catalog{lang: l, msgs: en, fallback: en}
	if l != English {
		if c.msgs, err = load(l); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// MustNew is New for the embedded, tested languages; it panics only if
// the binary's own translation files are broken.
func MustNew(l Lang) *Catalog {
	c, err := New(l)
	if err != nil {
		panic(err)
	}
	return c
}

func load(l Lang) (map[string]string, error) {
	b, err := files.ReadFile("translations/" + string(l) + ".json")
	if err != nil {
		return nil, fmt.Errorf("loading language %q: %w", l, err)
	}
	m := make(map[string]string)
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parsing translations for %q: %w", l, err)
	}
	return m, nil
}

// Lang returns the catalog's language.
func (c *Catalog) Lang() Lang { return c.lang }

// Keys returns the message IDs of the catalog's language, sorted.
func (c *Catalog) Keys() []string {
	keys := make([]string, 0, len(c.msgs))
	for k := range c.msgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Has reports whether the catalog's language translates id.
func (c *Catalog) Has(id string) bool {
	_, ok := c.msgs[id]
	return ok
}

// T translates id, replacing {{.Name}} placeholders with the values of
// the name/value pairs in kv. An unknown ID falls back to English, then
// to the ID itself, so a missing translation shows but never breaks.
func (c *Catalog) T(id string, kv ...any) string {
	s, ok := c.msgs[id]
	if !ok {
		if s, ok = c.fallback[id]; !ok {
			s = id
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		s = strings.ReplaceAll(s, "{{."+fmt.Sprint(kv[i])+"}}", fmt.Sprint(kv[i+1]))
	}
	return s
}
