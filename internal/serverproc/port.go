package serverproc

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// picked are the ports FreePort handed out in this process.
var picked = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort is a TCP port on ip that nothing listens on now, for a flag of a
// process that binds it later (a server's --etcd-peer-port, kubectl
// port-forward's local port). It is taken outside the kernel's ephemeral
// range (net.ipv4.ip_local_port_range): a port picked there by binding port
// 0 can be taken before the later bind by any outgoing connection's local
// port — CI saw etcd's peer listener fail with "address already in use" —
// while outside it only an explicit bind can take it, and this process
// never hands out the same port twice.
func FreePort(ip string) (int, error) {
	lo, hi := ephemeralRange()
	picked.Lock()
	defer picked.Unlock()
	for range 1000 {
		p := 10000 + rand.IntN(65536-10000)
		if (p >= lo && p <= hi) || picked.ports[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		picked.ports[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("no free TCP port on %s outside the ephemeral range %d-%d", ip, lo, hi)
}

// ephemeralRange is the kernel's range of local ports for outgoing
// connections, Linux's default if it cannot be read.
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return lo, hi
	}
	return l, h
}
