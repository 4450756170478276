package ui

import (
	"fmt"
	"strconv"
	"strings"
)

// Describe says a standard cron schedule in words, e.g. "at 02:30, on
// Sunday, in March and October" for "30 2 * 3,10 0". It reads only what it
// can say plainly; anything else keeps its cron field ("at minutes 0-5/2
// past every hour"). The schedule itself is always shown beside it.
func Describe(schedule string) string {
	s := strings.TrimSpace(schedule)
	switch s {
	case "@yearly", "@annually":
		return "at 00:00 on 1 January"
	case "@monthly":
		return "at 00:00 on day 1 of every month"
	case "@weekly":
		return "at 00:00 on Sunday"
	case "@daily", "@midnight":
		return "every day at 00:00"
	case "@hourly":
		return "every hour, at minute 0"
	}
	if d, ok := strings.CutPrefix(s, "@every "); ok {
		return "every " + strings.TrimSpace(d)
	}
	f := strings.Fields(s)
	if len(f) != 5 {
		return s
	}
	for i := range f {
		if f[i] == "?" {
			f[i] = "*"
		}
	}
	minute, hour, dom, month, dow := f[0], f[1], f[2], f[3], f[4]
	parts := []string{timeWords(minute, hour)}
	switch {
	case dom != "*" && dow != "*":
		// cron's rule: either field matching is enough.
		parts = append(parts, "on "+domWords(dom)+" or on "+listWords(dow, dayName))
	case dom != "*":
		parts = append(parts, "on "+domWords(dom))
	case dow != "*":
		parts = append(parts, "on "+listWords(dow, dayName))
	}
	if month != "*" {
		parts = append(parts, "in "+listWords(month, monthName))
	}
	return strings.Join(parts, ", ")
}

func timeWords(minute, hour string) string {
	m, mOK := number(minute, 0, 59)
	h, hOK := number(hour, 0, 23)
	step, stepOK := everyN(minute)
	switch {
	case minute == "*" && hour == "*":
		return "every minute"
	case stepOK && hour == "*":
		return fmt.Sprintf("every %d minutes", step)
	case minute == "*" && hOK:
		return fmt.Sprintf("every minute from %02d:00 to %02d:59", h, h)
	case mOK && hOK:
		return fmt.Sprintf("at %02d:%02d", h, m)
	case mOK && hour == "*":
		return fmt.Sprintf("every hour, at minute %d", m)
	}
	if mOK {
		if hs, ok := numbers(hour, 0, 23); ok && len(hs) <= 6 {
			times := make([]string, len(hs))
			for i, h := range hs {
				times[i] = fmt.Sprintf("%02d:%02d", h, m)
			}
			return "at " + joinAnd(times)
		}
		if n, ok := everyN(hour); ok {
			return fmt.Sprintf("at minute %d past every %d hours", m, n)
		}
		if lo, hi, ok := span(hour, 0, 23); ok {
			return fmt.Sprintf("every hour from %02d:%02d to %02d:%02d", lo, m, hi, m)
		}
	}
	if stepOK {
		if lo, hi, ok := span(hour, 0, 23); ok {
			return fmt.Sprintf("every %d minutes from %02d:00 to %02d:59", step, lo, hi)
		}
	}
	hourWords := "every hour"
	if hour != "*" {
		hourWords = "hour " + hour
	}
	return fmt.Sprintf("at minute %s past %s", minute, hourWords)
}

// domWords: "day 1 of the month", "days 1 and 15 of the month".
func domWords(dom string) string {
	if ns, ok := numbers(dom, 1, 31); ok {
		words := make([]string, len(ns))
		for i, n := range ns {
			words[i] = strconv.Itoa(n)
		}
		if len(ns) == 1 {
			return "day " + words[0] + " of the month"
		}
		return "days " + joinAnd(words) + " of the month"
	}
	return "days " + dom + " of the month"
}

// listWords names a day-of-week or month field: "Monday to Friday",
// "March and October"; a field it cannot name stays as written.
func listWords(field string, name func(string) (string, bool)) string {
	var out []string
	for _, item := range strings.Split(field, ",") {
		if strings.Contains(item, "/") {
			return field
		}
		lo, hi, isRange := strings.Cut(item, "-")
		a, ok := name(lo)
		if !ok {
			return field
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, ok := name(hi)
		if !ok {
			return field
		}
		out = append(out, a+" to "+b)
	}
	return joinAnd(out)
}

var (
	days   = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	months = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

func dayName(v string) (string, bool) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 7 {
		return days[n%7], true
	}
	for _, d := range days {
		if strings.EqualFold(v, d[:3]) {
			return d, true
		}
	}
	return "", false
}

func monthName(v string) (string, bool) {
	if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= 12 {
		return months[n-1], true
	}
	for _, m := range months {
		if strings.EqualFold(v, m[:3]) {
			return m, true
		}
	}
	return "", false
}

func number(v string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= lo && n <= hi
}

// numbers reads a plain comma list of numbers.
func numbers(v string, lo, hi int) ([]int, bool) {
	var out []int
	for _, item := range strings.Split(v, ",") {
		n, ok := number(item, lo, hi)
		if !ok {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

// everyN reads "*/n".
func everyN(v string) (int, bool) {
	rest, ok := strings.CutPrefix(v, "*/")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n > 0
}

// span reads "a-b".
func span(v string, lo, hi int) (int, int, bool) {
	a, b, ok := strings.Cut(v, "-")
	if !ok {
		return 0, 0, false
	}
	x, okA := number(a, lo, hi)
	y, okB := number(b, lo, hi)
	return x, y, okA && okB && x <= y
}

func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
