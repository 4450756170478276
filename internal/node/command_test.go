package node

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCommand(t *testing.T) {
	env := []string{"NAME=world"}
	for _, c := range []struct {
		name    string
		c       corev1.Container
		want    string
		wantErr string
	}{
		{"command and args, expanded", corev1.Container{Command: []string{"echo", "hi"}, Args: []string{"$(NAME)", "$$(NAME)"}}, "echo hi world $(NAME)", ""},
		{"args alone, as with an image without ENTRYPOINT", corev1.Container{Args: []string{"/bin/sh", "-c", "date"}}, "/bin/sh -c date", ""},
		{"neither", corev1.Container{Name: "c", Image: "busybox"}, "", `container "c" has no command or args`},
	} {
		argv, err := Command(&c.c, env)
		var ce *ConfigError
		switch {
		case c.wantErr != "":
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: %v, want %q", c.name, err, c.wantErr)
			}
		case err != nil || strings.Join(argv, " ") != c.want:
			t.Errorf("%s: %q %v, want %q", c.name, argv, err, c.want)
		}
	}
}
