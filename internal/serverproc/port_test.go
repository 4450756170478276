package serverproc

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePortIsOutsideTheEphemeralRangeAndNeverTwice(t *testing.T) {
	lo, hi := ephemeralRange()
	seen := map[int]bool{}
	for range 200 {
		p, err := FreePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if p >= lo && p <= hi {
			t.Fatalf("port %d is in the ephemeral range %d-%d", p, lo, hi)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d not free: %v", p, err)
		}
		l.Close()
	}
}
