// Package kubectllang spares the embedded kubectl the load of its English
// message catalogue at every start.
//
// kubectl translates its help and messages through k8s.io/kubectl's i18n
// package, which on its first use (during package initialisation: command
// examples are translated into package variables) builds a zip of the
// chosen language's .po and .mo files and parses both: ~35 ms of CPU and
// 4 MB of allocations, a fifth of a `batchd kubectl get`. For the languages
// kubectl shows English in — no LANG, LANG=C, en_US, any language it has no
// catalogue for and so falls back to "default" — that catalogue maps every
// message to itself (TestEnglishCataloguesAreIdentity), and gettext without
// a catalogue returns the message itself: the output is the same without
// loading it. Every other language loads exactly as kubectl does.
//
// Importing the package is enough. Its init must run before the first
// i18n.T, which Go's initialisation order gives: it depends on i18n alone,
// and among packages whose imports are initialised, the one first by import
// path goes first ("github.com/batchd/..." before "k8s.io/...").
package kubectllang

import (
	"os"
	"strings"

	"k8s.io/kubectl/pkg/util/i18n"
)

// Installed reports whether init replaced kubectl's loader before any
// message was translated (the test checks it did).
var Installed bool

func init() {
	Installed = i18n.SetLoadTranslationsFunc(func() error {
		if English(Language(os.Getenv)) {
			return nil
		}
		return i18n.LoadTranslations("kubectl", nil)
	}) == nil
}

// Language is the language kubectl's i18n derives from the environment
// (LC_ALL, then LC_MESSAGES, then LANG; "default" when unset or not of the
// form lang.encoding), before it checks which catalogues exist.
func Language(getenv func(string) string) string {
	s := getenv("LC_ALL")
	if s == "" {
		s = getenv("LC_MESSAGES")
	}
	if s == "" {
		s = getenv("LANG")
	}
	parts := strings.Split(s, ".")
	if s == "" || len(parts) != 2 {
		return "default"
	}
	return parts[0]
}

// English reports whether kubectl would show lang in English: the
// "default" catalogue, C and POSIX (which it has no catalogue for, so
// "default"), and en_* (en_US's catalogue; any other, "default").
func English(lang string) bool {
	return lang == "default" || lang == "C" || lang == "POSIX" || strings.HasPrefix(lang, "en_")
}
