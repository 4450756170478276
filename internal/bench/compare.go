package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Figure is one row of a benchmark table as the benchmarks print it:
// `| name | median | runs (v1, v2, …) |`.
type Figure struct {
	Name   string
	Median float64
	// Values are every run's figure; just the median when the row has no
	// list (a figure measured once).
	Values []float64
}

// spread is the figure's lowest and highest run.
func (f Figure) spread() (lo, hi float64) {
	return slices.Min(f.Values), slices.Max(f.Values)
}

// ParseTable reads the figures of benchmark tables (the output of any
// `batchd bench` command, several concatenated, or a file of them). Lines
// that are not figure rows (headers, separators, prose) are skipped.
func ParseTable(r io.Reader) ([]Figure, error) {
	var out []Figure
	s := bufio.NewScanner(r)
	for s.Scan() {
		f, ok, err := parseRow(s.Text())
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, s.Err()
}

// parseRow reads one `| name | median | runs (values) |` row.
func parseRow(line string) (Figure, bool, error) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") {
		return Figure{}, false, nil
	}
	cells := strings.Split(strings.Trim(line, "|"), " | ")
	if len(cells) != 3 {
		return Figure{}, false, nil
	}
	name, median, runs := strings.TrimSpace(cells[0]), strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2])
	m, err := strconv.ParseFloat(median, 64)
	if err != nil {
		return Figure{}, false, nil // the header, a separator or a prose table
	}
	f := Figure{Name: name, Median: m, Values: []float64{m}}
	if open := strings.IndexByte(runs, '('); open >= 0 && strings.HasSuffix(runs, ")") {
		var vs []float64
		for _, v := range strings.Split(runs[open+1:len(runs)-1], ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return Figure{}, false, fmt.Errorf("figure %q: run value %q: %w", name, v, err)
			}
			vs = append(vs, x)
		}
		f.Values = vs
	}
	return f, true, nil
}

// Verdict says how a figure compares with its baseline.
type Verdict string

const (
	// Steady: the two runs' spreads overlap; what moved is within noise.
	Steady Verdict = "within spread"
	// Better and Worse: every run of one is beyond every run of the other.
	Better Verdict = "BETTER"
	Worse  Verdict = "WORSE"
	// Moved: beyond the spread, for a figure with no better direction.
	Moved Verdict = "MOVED"
	// New and Gone: a figure of only one of the two tables.
	New  Verdict = "new"
	Gone Verdict = "not measured"
)

// Change is one figure beside its baseline.
type Change struct {
	Name      string
	Base, Now *Figure
	// Ratio is Now's median over Base's (0 without both).
	Ratio   float64
	Verdict Verdict
}

// Compare sets each figure of now beside the baseline's of the same name,
// in the baseline's order (then figures new in now). A figure moved when the
// two runs' spreads do not overlap: every run of one lies beyond every run
// of the other. That is the run's own noise as the yardstick, not a fixed
// percentage: a figure with a wide spread must move more to be flagged.
func Compare(base, now []Figure) []Change {
	byName := map[string]*Figure{}
	for i := range now {
		byName[now[i].Name] = &now[i]
	}
	seen := map[string]bool{}
	var out []Change
	for i := range base {
		b := &base[i]
		seen[b.Name] = true
		n := byName[b.Name]
		if n == nil {
			out = append(out, Change{Name: b.Name, Base: b, Verdict: Gone})
			continue
		}
		out = append(out, compareOne(b, n))
	}
	for i := range now {
		if !seen[now[i].Name] {
			out = append(out, Change{Name: now[i].Name, Now: &now[i], Verdict: New})
		}
	}
	return out
}

func compareOne(b, n *Figure) Change {
	c := Change{Name: b.Name, Base: b, Now: n, Verdict: Steady}
	if b.Median != 0 {
		c.Ratio = n.Median / b.Median
	}
	bLo, bHi := b.spread()
	nLo, nHi := n.spread()
	var up bool
	switch {
	case nLo > bHi:
		up = true
	case nHi < bLo:
		up = false
	default:
		return c
	}
	switch higherIsBetter(b.Name) {
	case 1:
		c.Verdict = map[bool]Verdict{true: Better, false: Worse}[up]
	case -1:
		c.Verdict = map[bool]Verdict{true: Worse, false: Better}[up]
	default:
		c.Verdict = Moved
	}
	return c
}

// higherIsBetter reads a figure's direction from its unit: rates (…/s) are
// better higher; times, sizes and CPU seconds lower; 0 for anything else.
func higherIsBetter(name string) int {
	switch {
	case strings.Contains(name, "/s"):
		return 1
	case strings.HasSuffix(name, "(s)"), strings.HasSuffix(name, "(ms)"), strings.HasSuffix(name, "(MiB)"),
		strings.HasSuffix(name, "(MB)"), strings.Contains(name, "CPU seconds"):
		return -1
	}
	return 0
}

// WriteComparison prints the changes as a table and returns how many
// figures got worse.
func WriteComparison(w io.Writer, changes []Change) int {
	fmt.Fprintf(w, "| figure | baseline median (runs' range) | now median (runs' range) | change | verdict |\n|---|---|---|---|---|\n")
	worse := 0
	for _, c := range changes {
		if c.Verdict == Worse {
			worse++
		}
		change := ""
		if c.Ratio != 0 && !math.IsInf(c.Ratio, 0) {
			change = fmt.Sprintf("%+.0f%%", (c.Ratio-1)*100)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", c.Name, describe(c.Base), describe(c.Now), change, c.Verdict)
	}
	return worse
}

func describe(f *Figure) string {
	if f == nil {
		return "—"
	}
	lo, hi := f.spread()
	if len(f.Values) < 2 {
		return fmtFigure(f.Median) + " (1 run)"
	}
	return fmt.Sprintf("%s (%s–%s)", fmtFigure(f.Median), fmtFigure(lo), fmtFigure(hi))
}

func fmtFigure(v float64) string {
	if math.Abs(v) >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
