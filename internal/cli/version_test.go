package cli

import (
	"runtime/debug"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	vcs := func(kv ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
		for i := 0; i+1 < len(kv); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return info
	}
	for _, c := range []struct {
		name, stamped string
		info          *debug.BuildInfo
		want          string
	}{
		{"release build", "v0.14.0", vcs("vcs.revision", "8eebfd6a1b2c3d4e"), "v0.14.0"},
		{"go install @version", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.14.0"}}, "v0.14.0"},
		{"clone", "", vcs("vcs.revision", "8eebfd6a1b2c3d4e5f", "vcs.time", "2026-11-30T07:15:00Z", "vcs.modified", "false"), "v0.0.0-20261130071500-8eebfd6a1b2c"},
		{"dirty clone", "", vcs("vcs.revision", "8eebfd6a1b2c3d4e5f", "vcs.time", "2026-11-30T07:15:00Z", "vcs.modified", "true"), "v0.0.0-20261130071500-8eebfd6a1b2c+dirty"},
		{"go run", "", vcs(), "(devel)"},
		{"no build info", "", nil, "(unknown)"},
	} {
		if got := buildVersion(c.stamped, c.info); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
