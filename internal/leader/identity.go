package leader

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/util/uuid"
)

// IdentityFile holds a server's election identity in its data dir.
const IdentityFile = "leader-identity"

// Identity is the election identity kept in dir: made on first use from the
// hostname and a UUID (upstream's hostname_UUID form, whose UUID is new at
// each start), then read back, so that a restarted server is still the
// holder of the leases it held.
func Identity(dir, hostname string) (string, error) {
	path := filepath.Join(dir, IdentityFile)
	data, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(data)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read leader identity: %w", err)
	}
	id := string(uuid.NewUUID())
	if hostname != "" {
		id = hostname + "_" + id
	}
	// Written before it is used: a server that campaigned under an identity
	// it then lost would wait out its own lease after a crash.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write leader identity: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write leader identity: %w", err)
	}
	return id, nil
}
