package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/batchd/batchd/internal/serverproc"
)

// listen binds the API port. When the port is taken by another batchd
// server, the error names that server (its data dir and pid); any other
// holder gets the plain bind error.
func listen(bind net.IP, port int, ownDataDir string) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(bind.String(), strconv.Itoa(port)))
	if err == nil {
		return ln, nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		if pid, dir, ok := batchdOnPort(port, ownDataDir); ok {
			return nil, fmt.Errorf("port %d is in use by the batchd server of data dir %s (pid %d): stop it, or choose another --secure-port", port, dir, pid)
		}
	}
	return nil, fmt.Errorf("listen: %w", err)
}

// batchdOnPort finds a batchd server listening on port: a process listening
// there that holds the lock of a data dir (other than ownDataDir, which this
// process holds).
func batchdOnPort(port int, ownDataDir string) (pid int, dataDir string, ok bool) {
	pids, err := serverproc.PortOwners(port)
	if err != nil {
		return 0, "", false
	}
	for _, pid := range pids {
		fds := fmt.Sprintf("/proc/%d/fd", pid)
		entries, err := os.ReadDir(fds)
		if err != nil {
			continue
		}
		for _, e := range entries {
			target, err := os.Readlink(filepath.Join(fds, e.Name()))
			if err != nil || filepath.Base(target) != LockFile || strings.HasSuffix(target, " (deleted)") {
				continue
			}
			if dir := filepath.Dir(target); dir != ownDataDir {
				return pid, dir, true
			}
		}
	}
	return 0, "", false
}
