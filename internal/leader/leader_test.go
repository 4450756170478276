package leader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIdentityIsKeptInTheDataDir(t *testing.T) {
	dir := t.TempDir()
	first, err := Identity(dir, "host")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, "host_") || len(first) != len("host_")+36 {
		t.Fatalf("identity %q, want host_<uuid>", first)
	}
	again, err := Identity(dir, "renamed")
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("identity changed from %q to %q across starts", first, again)
	}
	fi, err := os.Stat(filepath.Join(dir, IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("identity file mode %v, want 0600", fi.Mode().Perm())
	}
	other, err := Identity(t.TempDir(), "host")
	if err != nil {
		t.Fatal(err)
	}
	if other == first {
		t.Fatalf("two data dirs share identity %q", first)
	}
}

func TestTimingValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Timing
		want string // "" = valid
	}{
		{"upstream defaults", DefaultTiming, ""},
		{"short test timing", Timing{LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 250 * time.Millisecond}, ""},
		{"lease under a second", Timing{LeaseDuration: 500 * time.Millisecond, RenewDeadline: 200 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}, "--leader-elect-lease-duration"},
		{"renew deadline not below the lease", Timing{LeaseDuration: 10 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: time.Second}, "--leader-elect-renew-deadline"},
		{"retry too close to the renew deadline", Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 9 * time.Second}, "--leader-elect-retry-period"},
		{"zero retry", Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second}, "--leader-elect-retry-period"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.t.Validate()
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("errors %v, want one naming %s", errs, tc.want)
			}
		})
	}
}
