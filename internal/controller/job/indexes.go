package job

import (
	"sort"
	"strconv"
	"strings"
)

// Indexes is a set of completion indexes, kept sorted.
type Indexes []int

// ParseIndexes reads upstream's interval format ("1,3-5,7"); indexes at or
// above completions are dropped, as upstream does after a scale-down.
func ParseIndexes(s string, completions int) Indexes {
	var out Indexes
	if s == "" {
		return out
	}
	for _, frag := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(frag, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b && i < completions; i++ {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out
}

// String writes the interval format: runs of three or more as "a-b", two
// consecutive indexes as "a,b".
func (x Indexes) String() string {
	var b strings.Builder
	for i := 0; i < len(x); {
		j := i
		for j+1 < len(x) && x[j+1] == x[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		switch {
		case j-i >= 2:
			b.WriteString(strconv.Itoa(x[i]) + "-" + strconv.Itoa(x[j]))
		case j-i == 1:
			b.WriteString(strconv.Itoa(x[i]) + "," + strconv.Itoa(x[j]))
		default:
			b.WriteString(strconv.Itoa(x[i]))
		}
		i = j + 1
	}
	return b.String()
}

// Has reports whether i is in the set.
func (x Indexes) Has(i int) bool {
	k := sort.SearchInts(x, i)
	return k < len(x) && x[k] == i
}

// With returns the set plus i.
func (x Indexes) With(i int) Indexes {
	if x.Has(i) {
		return x
	}
	out := append(append(Indexes{}, x...), i)
	sort.Ints(out)
	return out
}
