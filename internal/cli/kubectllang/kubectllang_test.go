package kubectllang

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chai2010/gettext-go/po"
	"k8s.io/kubectl/pkg/util/i18n"
)

func TestInstalledBeforeAnyTranslation(t *testing.T) {
	if !Installed {
		t.Fatal("k8s.io/kubectl's i18n had loaded its translations before this package's init: the loader was not replaced")
	}
}

func TestLanguage(t *testing.T) {
	for _, c := range []struct {
		env     map[string]string
		want    string
		english bool
	}{
		{nil, "default", true},
		{map[string]string{"LANG": "C"}, "default", true},
		{map[string]string{"LANG": "C.UTF-8"}, "C", true},
		{map[string]string{"LANG": "POSIX.UTF-8"}, "POSIX", true},
		{map[string]string{"LANG": "en_US.UTF-8"}, "en_US", true},
		{map[string]string{"LANG": "en_GB.UTF-8"}, "en_GB", true},
		{map[string]string{"LANG": "de_DE.UTF-8"}, "de_DE", false},
		{map[string]string{"LANG": "en_US.UTF-8", "LC_MESSAGES": "ja_JP.UTF-8"}, "ja_JP", false},
		{map[string]string{"LANG": "de_DE.UTF-8", "LC_MESSAGES": "ja_JP.UTF-8", "LC_ALL": "en_US.UTF-8"}, "en_US", true},
		{map[string]string{"LANG": "ko_KR.UTF-8.x"}, "default", true},
	} {
		got := Language(func(k string) string { return c.env[k] })
		if got != c.want || English(got) != c.english {
			t.Errorf("%v: language %q (English %v), want %q (English %v)", c.env, got, English(got), c.want, c.english)
		}
	}
}

// TestEnglishCataloguesAreIdentity checks what the package relies on: for
// every message of the catalogues an English language loads ("default",
// en_US), kubectl's i18n.T gives the same text, singular and plural, without
// the catalogue (as this package leaves it) and with it.
func TestEnglishCataloguesAreIdentity(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/kubectl").Output()
	if err != nil {
		t.Fatalf("go list -m k8s.io/kubectl: %v", err)
	}
	root := filepath.Join(strings.TrimSpace(string(out)), "pkg/util/i18n/translations/kubectl")
	t.Setenv("LC_ALL", "C.UTF-8")
	langs := []string{"default", "en_US"}
	var ids []string
	for _, lang := range langs {
		file, err := po.LoadFile(filepath.Join(root, lang, "LC_MESSAGES/k8s.po"))
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		if len(file.Messages) < 100 {
			t.Fatalf("%s: %d messages: not kubectl's catalogue", lang, len(file.Messages))
		}
		for _, msg := range file.Messages {
			ids = append(ids, msg.MsgId)
		}
	}
	translate := func() map[string]string {
		m := map[string]string{}
		for _, id := range ids {
			m[id] = i18n.T(id)
			for _, n := range []int{0, 1, 2, 5} {
				m[fmt.Sprintf("%s (n=%d)", id, n)] = i18n.T(id, n)
			}
		}
		return m
	}
	without := translate() // the first T: this package's loader, which loads nothing for C
	for _, lang := range langs {
		if err := i18n.LoadTranslations("kubectl", func() string { return lang }); err != nil {
			t.Fatal(err)
		}
		for k, w := range translate() {
			if without[k] != w {
				t.Errorf("%s: %q is %q with the catalogue, %q without", lang, k, w, without[k])
			}
		}
	}
}
