package serverproc

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Listener is a socket a process listens on, as `ss -xlp` and `ss -tlp` show
// it.
type Listener struct {
	// Network is "unix" or "tcp".
	Network string
	// Address is the socket's path ("@name" for an abstract unix socket,
	// "" for an unnamed one) or host:port.
	Address string
}

func (l Listener) String() string { return l.Network + ":" + l.Address }

// Abstract reports whether l is a unix socket outside the file system
// (abstract or unnamed), which no file permission protects.
func (l Listener) Abstract() bool {
	return l.Network == "unix" && (l.Address == "" || strings.HasPrefix(l.Address, "@"))
}

// Listeners lists the listening sockets process pid holds open, read from
// /proc (reading another user's process needs root).
func Listeners(pid int) ([]Listener, error) {
	inodes, err := socketInodes(pid)
	if err != nil {
		return nil, err
	}
	var out []Listener
	unix, err := readProcNet("/proc/net/unix")
	if err != nil {
		return nil, err
	}
	for _, f := range unix[1:] {
		// Num RefCount Protocol Flags Type St Inode [Path]
		if len(f) < 7 || !inodes[f[6]] {
			continue
		}
		flags, _ := strconv.ParseUint(f[3], 16, 32)
		const acceptCon = 0x10000 // __SO_ACCEPTCON: listen() was called
		if flags&acceptCon == 0 {
			continue
		}
		path := ""
		if len(f) > 7 {
			path = f[7]
		}
		out = append(out, Listener{Network: "unix", Address: path})
	}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		rows, err := readProcNet(file)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, f := range rows[1:] {
			// sl local_address rem_address st ... uid timeout inode
			const listen = "0A"
			if len(f) < 10 || f[3] != listen || !inodes[f[9]] {
				continue
			}
			addr, err := parseHexAddr(f[1])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			out = append(out, Listener{Network: "tcp", Address: addr})
		}
	}
	return out, nil
}

// socketInodes are the inodes of the sockets pid has open.
func socketInodes(pid int) (map[string]bool, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	return inodes, nil
}

func readProcNet(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rows = append(rows, strings.Fields(sc.Text()))
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return rows, sc.Err()
}

// parseHexAddr decodes /proc/net/tcp's "0100007F:1F90" (IPv4, or 32 hex
// digits of IPv6) in host byte order (little endian 32-bit words).
func parseHexAddr(s string) (string, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", fmt.Errorf("bad address %q", s)
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", fmt.Errorf("bad port in %q", s)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port))), nil
}

// PortOwners are the processes with a TCP socket listening on port (only
// processes whose /proc/<pid>/fd this process may read are seen).
func PortOwners(port int) ([]int, error) {
	want := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		rows, err := readProcNet(file)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, f := range rows[1:] {
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			addr, err := parseHexAddr(f[1])
			if err != nil {
				continue
			}
			if _, p, _ := net.SplitHostPort(addr); p == strconv.Itoa(port) {
				want[f[9]] = true
			}
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		inodes, err := socketInodes(pid)
		if err != nil {
			continue // gone, or another user's
		}
		for ino := range inodes {
			if want[ino] {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids, nil
}
