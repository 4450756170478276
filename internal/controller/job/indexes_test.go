package job

import (
	"reflect"
	"testing"
)

func TestIndexesRoundTrip(t *testing.T) {
	cases := []struct {
		in   string
		want Indexes
		out  string
	}{
		{"", nil, ""},
		{"0", Indexes{0}, "0"},
		{"1,2", Indexes{1, 2}, "1,2"},
		{"1,3-5,7", Indexes{1, 3, 4, 5, 7}, "1,3-5,7"},
		{"0-2,9", Indexes{0, 1, 2}, "0-2"}, // 9 is beyond completions
	}
	for _, c := range cases {
		got := ParseIndexes(c.in, 8)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseIndexes(%q) = %v, want %v", c.in, got, c.want)
		}
		if s := got.String(); s != c.out {
			t.Errorf("String(%v) = %q, want %q", got, s, c.out)
		}
	}
	if s := (Indexes{0, 2}).With(1).String(); s != "0-2" {
		t.Errorf("With = %q", s)
	}
}

func TestGenerateName(t *testing.T) {
	long := "a-very-long-job-name-that-goes-on-and-on-for-sixty-chars-x"
	cases := []struct {
		job   string
		index int
		want  string
	}{
		{"pi", -1, "pi-"},
		{"etl", 7, "etl-7-"},
		{long, 12, long[:58-len("-12-")] + "-12-"},
	}
	for _, c := range cases {
		if got := generateName(c.job, c.index); got != c.want || len(got) > 58 {
			t.Errorf("generateName(%q, %d) = %q, want %q", c.job, c.index, got, c.want)
		}
	}
}
