package bench

import (
	"bytes"
	"strings"
	"testing"
)

const baseTable = `| figure | median | runs |
|---|---|---|
| start to ready, new data dir (s) | 0.42 | 1 |
| start to ready, existing data dir (s) | 0.278 | 5 (0.301, 0.270, 0.278, 0.265, 0.290) |
| Job creates/s, 1 writer(s), 2000 Jobs | 648 | 5 (640, 650, 648, 700, 600) |
| idle RSS (MiB) | 133 | 5 (130, 133, 135, 133, 134) |
| watch events per watcher (= Jobs created under load) | 900 | 5 (880, 900, 910, 905, 890) |
| only in the baseline (s) | 1.00 | 5 (1, 1, 1, 1, 1) |
`

func TestParseTable(t *testing.T) {
	figs, err := ParseTable(strings.NewReader("prose line\n" + baseTable))
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) != 6 {
		t.Fatalf("%d figures: %+v", len(figs), figs)
	}
	if f := figs[0]; f.Median != 0.42 || len(f.Values) != 1 {
		t.Errorf("one-run row: %+v", f)
	}
	if f := figs[1]; f.Median != 0.278 || len(f.Values) != 5 || f.Values[0] != 0.301 {
		t.Errorf("median row: %+v", f)
	}
	if _, err := ParseTable(strings.NewReader("| x (s) | 1.0 | 2 (1.0, oops) |\n")); err == nil || !strings.Contains(err.Error(), `"oops"`) {
		t.Errorf("a bad run value: %v", err)
	}
}

func TestCompare(t *testing.T) {
	base, err := ParseTable(strings.NewReader(baseTable))
	if err != nil {
		t.Fatal(err)
	}
	now, err := ParseTable(strings.NewReader(`| start to ready, new data dir (s) | 0.40 | 1 |
| start to ready, existing data dir (s) | 0.300 | 5 (0.299, 0.300, 0.310, 0.305, 0.320) |
| Job creates/s, 1 writer(s), 2000 Jobs | 330 | 5 (316, 330, 346, 320, 340) |
| idle RSS (MiB) | 125 | 5 (125, 126, 127, 125, 124) |
| watch events per watcher (= Jobs created under load) | 1000 | 5 (990, 1000, 1010, 1000, 1005) |
| binary size (MB) | 180 | 1 |
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Verdict{
		"start to ready, new data dir (s)":                     Better, // one run each: 0.40 < 0.42
		"start to ready, existing data dir (s)":                Steady, // 0.299 is within 0.265–0.301
		"Job creates/s, 1 writer(s), 2000 Jobs":                Worse,
		"idle RSS (MiB)":                                       Better,
		"watch events per watcher (= Jobs created under load)": Moved,
		"only in the baseline (s)":                             Gone,
		"binary size (MB)":                                     New,
	}
	changes := Compare(base, now)
	if len(changes) != len(want) {
		t.Fatalf("%d changes: %+v", len(changes), changes)
	}
	for _, c := range changes {
		if c.Verdict != want[c.Name] {
			t.Errorf("%s: %s, want %s", c.Name, c.Verdict, want[c.Name])
		}
	}
	var out bytes.Buffer
	if n := WriteComparison(&out, changes); n != 1 {
		t.Errorf("%d worse, want 1", n)
	}
	if !strings.Contains(out.String(), "| Job creates/s, 1 writer(s), 2000 Jobs | 648 (600–700) | 330 (316–346) | -49% | WORSE |") {
		t.Errorf("table:\n%s", out.String())
	}
}
