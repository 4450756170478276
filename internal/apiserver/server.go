package apiserver

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
	"k8s.io/apiserver/pkg/server/healthz"
	"net"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/sets"
	apimachineryversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	authx509 "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	"k8s.io/apiserver/pkg/authentication/user"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/component-base/compatibility"
	"k8s.io/utils/clock"

	batchdv1alpha1 "github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
	"github.com/batchd/batchd/internal/apiserver/openapi"
	"github.com/batchd/batchd/internal/apiserver/registry"
	"github.com/batchd/batchd/internal/apiserver/registry/jobrun"
	"github.com/batchd/batchd/internal/apiserver/registry/pod"
	"github.com/batchd/batchd/internal/auth/nodeauth"
	"github.com/batchd/batchd/internal/controller"
	"github.com/batchd/batchd/internal/pki"
)

// KubernetesVersion is the API version batchd serves, as /version reports it.
const KubernetesVersion = "v1.37.2+batchd"

// ShutdownTimeout bounds how long a stopping server waits for its
// connections to close.
const ShutdownTimeout = 5 * time.Second

// Config is what the API server needs from the composition root.
type Config struct {
	// Listener is the bound secure port (127.0.0.1 unless asked otherwise).
	Listener net.Listener
	// PKI holds the CA, serving certificate and admin credentials.
	PKI *pki.Bundle
	// EtcdServers are etcd client URLs (a unix socket for the embedded one).
	EtcdServers []string
	// EtcdCAFile, EtcdCertFile and EtcdKeyFile secure an external etcd.
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// LoopbackToken authenticates the server's own clients (controllers).
	LoopbackToken string
	// TokenFile holds more users (kube-apiserver's --token-auth-file
	// format: token,user,uid,"group1,group2"); their groups give their role.
	TokenFile string
	// DisableWatchCache trades some write throughput for memory.
	DisableWatchCache bool
	// RequestTimeout bounds each request that is not long-running (zero:
	// DefaultRequestTimeout).
	RequestTimeout time.Duration
	// ShutdownTimeout bounds how long a stop waits for open connections
	// (zero: ShutdownTimeout).
	ShutdownTimeout time.Duration
	// Profiling serves /debug/pprof (to authenticated clients only).
	Profiling bool
	// DefaultTolerations are the not-ready and unreachable tolerations'
	// seconds given to pods without them (nil: upstream's 300 s).
	DefaultTolerations *DefaultTolerations
	// Controllers start once the server serves; they stop when ctx ends.
	Controllers func(ctx context.Context, loopback *restclient.Config) error
	// Join serves join.Prefix in front of authentication (nil: not served).
	Join http.Handler
	// StopControllers waits, while the server still serves, until the
	// controllers have stopped once ctx ended (and released their leases,
	// which takes API requests).
	StopControllers func()
	// Logs serves pods/log (the node agent's log files); nil answers 503.
	Logs pod.LogSource
	// Nodes reaches the node agents' streaming endpoints for pods/exec,
	// attach and portforward; nil answers 503.
	Nodes pod.NodeConnection
	// RunLogs serves jobruns/log (kept and live logs of Jobs' container
	// runs); nil answers 404.
	RunLogs jobrun.LogSource
	// ReadyzChecks are added to /readyz (e.g. the storage space guard).
	ReadyzChecks []healthz.HealthChecker
	// UI is served at /ui/ (nil: no web view).
	UI UI
	// Clock issues and checks service-account tokens (nil: the real clock).
	Clock clock.PassiveClock
	// VirtualClock is the controllers' clock when it is virtual: served,
	// and moved, at ClockPath (nil: the clock is real).
	VirtualClock VirtualClock
	// StorageFull says why the storage is full (nil while it is not): then
	// only writes toward removing objects are stored (see gatedOptions).
	StorageFull func() error
}

// DefaultRequestTimeout is kube-apiserver's --request-timeout default.
const DefaultRequestTimeout = time.Minute

// Server is a configured, not yet running API server.
type Server struct {
	generic   *genericapiserver.GenericAPIServer
	loopback  *restclient.Config
	inProcess *inProcess
}

// Loopback returns the privileged client config the server's controllers
// use; it works in this process only (in memory, see inprocess.go).
func (s *Server) Loopback() *restclient.Config { return restclient.CopyConfig(s.loopback) }

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	prepared := s.generic.PrepareRun()
	// The server's own clients are served from the post-start hooks on
	// (they start them) until the API server has stopped.
	s.inProcess.serve(s.generic.Handler)
	defer s.inProcess.close()
	return prepared.RunWithContext(ctx)
}

// New builds the API server.
func New(c Config) (*Server, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	streams := &pod.Streams{Nodes: c.Nodes}
	resources := servedResources(c.Logs, c.RunLogs, streams)
	if err := registerResourceFuncs(scheme, resources); err != nil {
		return nil, err
	}
	if err := pod.RegisterLogOptionsConversion(scheme); err != nil {
		return nil, err
	}
	if err := pod.RegisterStreamOptionsConversion(scheme); err != nil {
		return nil, err
	}
	if err := jobrun.RegisterLogOptionsConversion(scheme); err != nil {
		return nil, err
	}
	codecs := serializer.NewCodecFactory(scheme)

	gcfg := genericapiserver.NewConfig(codecs)
	gcfg.EffectiveVersion = effectiveVersion{compatibility.NewEffectiveVersionFromString("1.37.2", "", "")}
	gcfg.EnableProfiling = c.Profiling
	gcfg.EnableMetrics = true
	gcfg.ShutdownWatchTerminationGracePeriod = 0
	gcfg.LongRunningFunc = longRunning()
	gcfg.RequestTimeout = DefaultRequestTimeout
	if c.RequestTimeout > 0 {
		gcfg.RequestTimeout = c.RequestTimeout
	}
	gcfg.AddReadyzChecks(c.ReadyzChecks...)

	in := newInProcess()
	if err := secureServing(gcfg, c, in); err != nil {
		return nil, err
	}
	id, err := newIdentity(c)
	if err != nil {
		return nil, err
	}
	if err := authentication(gcfg, c, id); err != nil {
		return nil, err
	}
	streams.Authorizer = gcfg.Authorization.Authorizer

	external, err := externalScheme()
	if err != nil {
		return nil, err
	}
	namer := openapinamer.NewDefinitionNamer(external)
	gcfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.GetOpenAPIDefinitions, namer)
	gcfg.OpenAPIConfig.Info.Title = "Kubernetes"
	gcfg.OpenAPIConfig.Info.Version = KubernetesVersion
	gcfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	gcfg.OpenAPIV3Config.Info.Title = "Kubernetes"
	gcfg.OpenAPIV3Config.Info.Version = KubernetesVersion

	if err := etcdStorage(gcfg, c, codecs); err != nil {
		return nil, err
	}

	loopbackClient, err := kubernetes.NewForConfig(gcfg.LoopbackClientConfig)
	if err != nil {
		return nil, err
	}
	informerFactory := informers.NewSharedInformerFactoryWithOptions(loopbackClient, 10*time.Minute, informers.WithTransform(controller.DropManagedFields))
	nsLifecycle, err := lifecycle.NewLifecycle(sets.New("default", "kube-system", "kube-public"))
	if err != nil {
		return nil, err
	}
	nsLifecycle.SetExternalKubeClientSet(loopbackClient)
	nsLifecycle.SetExternalKubeInformerFactory(informerFactory)
	if err := nsLifecycle.ValidateInitialization(); err != nil {
		return nil, err
	}
	runtimeClasses := newRuntimeClassAdmission(informerFactory.Node().V1().RuntimeClasses().Lister(), loopbackClient)
	id.bind(loopbackClient, informerFactory)
	serviceAccounts := newServiceAccountAdmission(informerFactory.Core().V1().ServiceAccounts().Lister(), loopbackClient)
	tolerations := DefaultTolerationSeconds
	if c.DefaultTolerations != nil {
		tolerations = *c.DefaultTolerations
	}
	// kube-apiserver's order: ServiceAccount, DefaultTolerationSeconds, RuntimeClass.
	gcfg.AdmissionControl = admission.NewChainHandler(nsLifecycle, serviceAccounts, newDefaultTolerationSeconds(tolerations), runtimeClasses, nodeauth.NewAdmission(id.nodePods.get))

	installUI(gcfg, c.UI)
	installJoin(gcfg, c.Join)
	completed := gcfg.Complete(nil)
	openAPIV2 := gcfg.OpenAPIConfig // completed; served lazily, below
	gcfg.OpenAPIConfig = nil
	// v3 likewise (the generic server still needs its config: server-side
	// apply's type converter is built from it).
	gcfg.SkipOpenAPIInstallation = true
	generic, err := completed.New("batchd", notFoundDelegate(codecs))
	if err != nil {
		return nil, err
	}
	installLazyOpenAPIV2(openAPIV2, generic.Handler.GoRestfulContainer, generic.Handler.NonGoRestfulMux)
	// How long a stop waits for open connections (kube-apiserver: its 60 s
	// request timeout). A connection accepted as the stop begins may miss
	// HTTP/2's GOAWAY and would hold a Ctrl-C for the whole of it.
	generic.ShutdownTimeout = ShutdownTimeout
	if c.ShutdownTimeout > 0 {
		generic.ShutdownTimeout = c.ShutdownTimeout
	}
	if err := install(generic, scheme, codecs, resources, gcfg, id); err != nil {
		return nil, err
	}
	installCRDList(generic)
	installClock(generic, c.VirtualClock)
	if err := installLazyOpenAPIV3(gcfg.OpenAPIV3Config, generic.Handler.GoRestfulContainer, generic.Handler.NonGoRestfulMux); err != nil {
		return nil, err
	}
	// The admission informers stop with the controllers, before the HTTP
	// server (a post-start hook's context ends only as it stops).
	informersCtx, stopInformers := context.WithCancel(context.Background())
	generic.AddPostStartHookOrDie("start-admission-informers", func(ctx genericapiserver.PostStartHookContext) error {
		go func() {
			<-ctx.Done()
			stopInformers()
		}()
		informerFactory.Start(informersCtx.Done())
		return nil
	})
	generic.AddPostStartHookOrDie("bootstrap-namespaces", unlessStopping(func(ctx genericapiserver.PostStartHookContext) error {
		return bootstrap(ctx, ctx.LoopbackClientConfig)
	}))
	// The kubernetes Service's v1 Endpoints are kept up as kube-apiserver's
	// bootstrap controller keeps them (through its storage, so without the
	// deprecation warning every v1 Endpoints request gets since 1.33): the
	// warning is not logged twice every 10 s.
	bootstrapClient, err := kubernetes.NewForConfig(controller.QuietConfig(gcfg.LoopbackClientConfig))
	if err != nil {
		return nil, err
	}
	generic.AddPostStartHookOrDie("bootstrap-controller", unlessStopping(func(ctx genericapiserver.PostStartHookContext) error {
		return reconcileKubernetesService(ctx, bootstrapClient, gcfg.ExternalAddress)
	}))
	generic.AddPostStartHookOrDie("rbac/bootstrap-roles", unlessStopping(func(ctx genericapiserver.PostStartHookContext) error {
		return id.bootstrapPolicy(ctx, loopbackClient, informerFactory, servedRBACResources(resources))
	}))
	if c.Controllers != nil {
		generic.AddPostStartHookOrDie("start-controllers", unlessStopping(func(ctx genericapiserver.PostStartHookContext) error {
			return c.Controllers(ctx, ctx.LoopbackClientConfig)
		}))
	}
	generic.AddPreShutdownHookOrDie("stop-controllers", func() error {
		if c.StopControllers != nil {
			c.StopControllers()
		}
		stopInformers()
		informerFactory.Shutdown()
		return nil
	})
	return &Server{generic: generic, loopback: gcfg.LoopbackClientConfig, inProcess: in}, nil
}

// unlessStopping drops a post-start hook's error when the server is stopping
// anyway: a failed hook exits the process at once (klog.Fatal, status 255),
// and SIGTERM during the start cancels what the hooks wait for. The hooks
// that wait for the storage retry until then rather than time out: a loaded
// machine is slow, not broken.
func unlessStopping(hook genericapiserver.PostStartHookFunc) genericapiserver.PostStartHookFunc {
	return func(ctx genericapiserver.PostStartHookContext) error {
		if err := hook(ctx); err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	}
}

// effectiveVersion reports batchd's Kubernetes version on /version whether or
// not the binary was built with version ldflags.
type effectiveVersion struct {
	compatibility.MutableEffectiveVersion
}

func (v effectiveVersion) Info() *apimachineryversion.Info {
	info := v.MutableEffectiveVersion.Info()
	info.GitVersion = KubernetesVersion
	if info.GitCommit == "" || info.GitCommit == "$Format:%H$" {
		info.GitCommit = "batchd"
	}
	info.GitTreeState = "clean"
	return info
}

func secureServing(gcfg *genericapiserver.Config, c Config, in *inProcess) error {
	cert, err := dynamiccertificates.NewStaticCertKeyContent("serving-cert", c.PKI.ServingCert, c.PKI.ServingKey)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	ca, err := dynamiccertificates.NewStaticCAContent("client-ca", c.PKI.CACert)
	if err != nil {
		return fmt.Errorf("client CA: %w", err)
	}
	gcfg.SecureServing = &genericapiserver.SecureServingInfo{
		Listener:                     c.Listener,
		Cert:                         cert,
		ClientCA:                     ca,
		HTTP2MaxStreamsPerConnection: 1000,
	}
	_, port, err := net.SplitHostPort(c.Listener.Addr().String())
	if err != nil {
		return err
	}
	host := "127.0.0.1"
	if tcp, ok := c.Listener.Addr().(*net.TCPAddr); ok && !tcp.IP.IsUnspecified() {
		host = tcp.IP.String()
	}
	gcfg.ExternalAddress = net.JoinHostPort(host, port)
	// The server's own clients reach it in memory (inprocess.go).
	gcfg.LoopbackClientConfig = &restclient.Config{
		Host:        "http://" + inProcessHost,
		BearerToken: c.LoopbackToken,
		Transport:   in.transport,
		QPS:         -1, // the server's own clients are not rate limited
		Burst:       -1,
		// Nor compressed (the transport asks for no gzip either): the
		// server's own watches and lists cross no network, and gzip on
		// both ends of an informer's watch (client-go asks for it; the API
		// server then gzips a watch-list stream for as long as it lasts)
		// cost ~4% of the server's CPU at a CronJob slot (BENCHMARKS.md).
		DisableCompression: true,
		// The controllers speak protobuf, as kube-controller-manager does: a
		// fraction of JSON's encoding cost on both ends.
		ContentConfig: restclient.ContentConfig{
			ContentType:        runtime.ContentTypeProtobuf,
			AcceptContentTypes: runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON,
		},
	}
	gcfg.LoopbackClientConfig = finishRequests(gcfg.LoopbackClientConfig)
	return nil
}

// authentication accepts the admin's client certificate or bearer token, the
// --token-file users and service-account tokens. There is no anonymous
// authenticator, so everything else gets 401.
func authentication(gcfg *genericapiserver.Config, c Config, id *identity) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.PKI.CACert) {
		return fmt.Errorf("parse CA certificate")
	}
	certs := authx509.New(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, authx509.CommonNameUserConversion)
	admin := staticToken(c.PKI.AdminToken, &user.DefaultInfo{
		Name:   pki.AdminUser,
		Groups: []string{pki.AdminGroup, user.AllAuthenticated},
	})
	tokens := []authenticator.Token{admin}
	authenticators := []authenticator.Request{certs, bearertoken.New(admin)}
	if c.TokenFile != "" {
		users, err := tokenfile.NewCSV(c.TokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		authenticators = append(authenticators, bearertoken.New(users))
		tokens = append(tokens, users)
	}
	id.authenticators(gcfg, authenticators, tokens)
	return nil
}

// staticToken authenticates exactly one token, compared in constant time.
func staticToken(token string, u user.Info) authenticator.TokenFunc {
	return func(_ context.Context, got string) (*authenticator.Response, bool, error) {
		if token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			return nil, false, nil
		}
		return &authenticator.Response{User: u}, true, nil
	}
}

func etcdStorage(gcfg *genericapiserver.Config, c Config, codecs serializer.CodecFactory) error {
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		return fmt.Errorf("no protobuf serializer")
	}
	encodeVersions := schema.GroupVersions(servedGroupVersions)
	codec := codecs.CodecForVersions(info.Serializer, codecs.UniversalDeserializer(), encodeVersions, runtime.InternalGroupVersioner)
	opts := genericoptions.NewEtcdOptions(storagebackend.NewDefaultConfig("/registry", codec))
	opts.StorageConfig.Transport.ServerList = c.EtcdServers
	opts.StorageConfig.Transport.TrustedCAFile = c.EtcdCAFile
	opts.StorageConfig.Transport.CertFile = c.EtcdCertFile
	opts.StorageConfig.Transport.KeyFile = c.EtcdKeyFile
	opts.StorageConfig.EncodeVersioner = encodeVersions
	opts.EnableWatchCache = !c.DisableWatchCache
	if errs := opts.Validate(); len(errs) > 0 {
		return errs[0]
	}
	if err := opts.ApplyTo(gcfg); err != nil {
		return err
	}
	if c.StorageFull != nil {
		gcfg.RESTOptionsGetter = gatedOptions{RESTOptionsGetter: gcfg.RESTOptionsGetter, full: c.StorageFull}
	}
	return nil
}

func install(s *genericapiserver.GenericAPIServer, scheme *runtime.Scheme, codecs serializer.CodecFactory, resources []registry.Resource, gcfg *genericapiserver.Config, id *identity) error {
	paramCodec := runtime.NewParameterCodec(scheme)
	groups := map[string]*genericapiserver.APIGroupInfo{}
	groupOrder := []string{}
	for _, r := range resources {
		g := r.Resource.Group
		if groups[g] == nil {
			info := genericapiserver.NewDefaultAPIGroupInfo(g, scheme, paramCodec, codecs)
			if g == batchdv1alpha1.GroupName {
				info.NegotiatedSerializer = jsonOnly{codecs}
			}
			groups[g] = &info
			groupOrder = append(groupOrder, g)
		}
		storage, err := newStorage(r, scheme, codecs, gcfg)
		if err != nil {
			return err
		}
		version := versionOf(g)
		m := groups[g].VersionedResourcesStorageMap[version]
		if m == nil {
			m = map[string]rest.Storage{}
			groups[g].VersionedResourcesStorageMap[version] = m
		}
		for name, st := range storage {
			m[name] = st
		}
	}
	id.addStorage(groups, &groupOrder, scheme, codecs)
	for _, g := range groupOrder {
		var err error
		if g == "" {
			err = s.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, groups[g])
		} else {
			err = s.InstallAPIGroup(groups[g])
		}
		if err != nil {
			return fmt.Errorf("install group %q: %w", g, err)
		}
	}
	return nil
}

func versionOf(group string) string {
	for _, gv := range servedGroupVersions {
		if gv.Group == group {
			return gv.Version
		}
	}
	return "v1"
}

// newStorage returns the REST storage of r keyed by resource and subresource path.
func newStorage(r registry.Resource, scheme *runtime.Scheme, codecs serializer.CodecFactory, gcfg *genericapiserver.Config) (map[string]rest.Storage, error) {
	getter := gcfg.RESTOptionsGetter
	if r.StorageOptions != nil {
		getter = r.StorageOptions(getter, codecs)
	}
	base, err := registry.NewStorage(r, scheme, getter)
	if err != nil {
		return nil, err
	}
	out := map[string]rest.Storage{}
	var main rest.Storage = base
	if r.REST != nil {
		var sub map[string]rest.Storage
		main, sub = r.REST(base)
		for name, st := range sub {
			out[r.Resource.Resource+"/"+name] = st
		}
	}
	out[r.Resource.Resource] = main
	if base.Status != nil {
		out[r.Resource.Resource+"/status"] = base.Status
	}
	return out, nil
}
