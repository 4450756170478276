package image

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// DockerConfig is a keychain over the contents of a
// kubernetes.io/dockerconfigjson Secret (its .dockerconfigjson key) or a
// kubernetes.io/dockercfg one (.dockercfg): registry → credentials, as the
// kubelet reads a pod's imagePullSecrets.
type DockerConfig map[string]authn.AuthConfig

// ParseDockerConfig reads either format.
func ParseDockerConfig(data []byte) (DockerConfig, error) {
	var withAuths struct {
		Auths map[string]authn.AuthConfig `json:"auths"`
	}
	if err := json.Unmarshal(data, &withAuths); err == nil && withAuths.Auths != nil {
		return decodeAuths(withAuths.Auths)
	}
	var legacy map[string]authn.AuthConfig
	if err := json.Unmarshal(data, &legacy); err != nil {
		return nil, fmt.Errorf("not a docker config: %w", err)
	}
	return decodeAuths(legacy)
}

func decodeAuths(in map[string]authn.AuthConfig) (DockerConfig, error) {
	out := DockerConfig{}
	for k, a := range in {
		if a.Auth != "" && a.Username == "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("registry %s: auth is not base64", k)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("registry %s: auth is not user:password", k)
			}
			a.Username, a.Password, a.Auth = user, pass, ""
		}
		out[registryKey(k)] = a
	}
	return out, nil
}

// registryKey reduces a config key ("https://index.docker.io/v1/",
// "docker.io", "localhost:5000") to the registry host go-containerregistry
// resolves.
func registryKey(k string) string {
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	k, _, _ = strings.Cut(k, "/")
	switch k {
	case "docker.io", "registry-1.docker.io":
		return name.DefaultRegistry
	}
	return k
}

// Resolve implements authn.Keychain.
func (c DockerConfig) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if a, ok := c[registryKey(r.RegistryStr())]; ok {
		return authn.FromConfig(a), nil
	}
	return authn.Anonymous, nil
}
