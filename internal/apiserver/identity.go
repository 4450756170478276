package apiserver

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	tokenunion "k8s.io/apiserver/pkg/authentication/token/union"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/component-helpers/auth/rbac/reconciliation"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/apiserver/registry"
	rbacregistry "github.com/batchd/batchd/internal/apiserver/registry/rbac"
	"github.com/batchd/batchd/internal/apiserver/registry/review"
	"github.com/batchd/batchd/internal/apiserver/registry/service"
	"github.com/batchd/batchd/internal/apiserver/registry/token"
	"github.com/batchd/batchd/internal/auth/nodeauth"
	"github.com/batchd/batchd/internal/auth/rbac"
	"github.com/batchd/batchd/internal/auth/serviceaccount"
)

// identity is who a request is (service-account tokens beside the admin's and
// --token-file credentials) and what it may do (RBAC). It is built before the
// generic server (authenticator, authorizer), bound to the loopback client's
// informers once they exist, and contributes the RBAC, TokenRequest and review
// storage plus the post-start hook that reconciles the default policy.
type identity struct {
	audiences authenticator.Audiences
	key       *serviceaccount.Key
	clock     clock.PassiveClock
	saAuth    *serviceaccount.Authenticator
	resolver  *rbac.Resolver
	authz     *rbac.Authorizer
	// tokens authenticates bearer tokens only (TokenReview).
	tokens authenticator.Request
	// nodes is what node agents may do (their identity system:node:<name>).
	nodes    *nodeauth.Authorizer
	nodePods nodeLookup
}

func newIdentity(c Config) (*identity, error) {
	key, err := serviceaccount.ParseKey(c.PKI.ServiceAccountKey)
	if err != nil {
		return nil, err
	}
	clk := c.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	id := &identity{audiences: authenticator.Audiences{serviceaccount.DefaultIssuer}, key: key, clock: clk, resolver: &rbac.Resolver{}}
	id.authz = &rbac.Authorizer{Resolver: id.resolver}
	id.nodes = &nodeauth.Authorizer{Pods: id.nodePods.get}
	id.saAuth = &serviceaccount.Authenticator{Issuer: serviceaccount.DefaultIssuer, Audiences: id.audiences,
		Keys: []*ecdsa.PublicKey{key.Public()}, Clock: clk}
	return id, nil
}

// authenticators adds service-account tokens to the request authenticators
// and the token authenticators (for TokenReview), and gives every user
// system:authenticated, as kube-apiserver does.
func (id *identity) authenticators(gcfg *genericapiserver.Config, requests []authenticator.Request, tokens []authenticator.Token) {
	gcfg.Authentication.APIAudiences = id.audiences
	requests = append(requests, bearertoken.New(id.saAuth))
	gcfg.Authentication.Authenticator = group.NewAuthenticatedGroupAdder(unionRequests(requests))
	var agnostic []authenticator.Token
	for _, t := range tokens {
		agnostic = append(agnostic, authenticator.WrapAudienceAgnosticToken(id.audiences, t))
	}
	agnostic = append(agnostic, id.saAuth)
	id.tokens = group.NewAuthenticatedGroupAdder(bearertoken.New(tokenunion.New(agnostic...)))
	gcfg.Authorization.Authorizer = runsReadOnly{nodesFirst{nodes: id.nodes, next: id.authz}}
	gcfg.RuleResolver = id.authz
}

// bind gives the authenticator and authorizer their object lookups.
func (id *identity) bind(client kubernetes.Interface, f informers.SharedInformerFactory) {
	r := f.Rbac().V1()
	id.resolver.Roles, id.resolver.ClusterRoles = r.Roles().Lister(), r.ClusterRoles().Lister()
	id.resolver.RoleBindings, id.resolver.ClusterRoleBindings = r.RoleBindings().Lister(), r.ClusterRoleBindings().Lister()
	id.saAuth.Objects = saObjects{client: client, accounts: f.Core().V1().ServiceAccounts().Lister()}
	id.nodePods.p.Store(&nodePods{client: client})
}

// saObjects finds a token's bound objects: service accounts from the cache,
// falling back to a live read for one created a moment ago; pods and secrets
// by a live read (no cache of every pod in the API server).
type saObjects struct {
	client   kubernetes.Interface
	accounts corelisters.ServiceAccountLister
}

func (o saObjects) ServiceAccount(ns, name string) (*corev1.ServiceAccount, error) {
	sa, err := o.accounts.ServiceAccounts(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return o.client.CoreV1().ServiceAccounts(ns).Get(context.Background(), name, metav1.GetOptions{})
	}
	return sa, err
}

func (o saObjects) Pod(ns, name string) (*corev1.Pod, error) {
	return o.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
}

func (o saObjects) Secret(ns, name string) (*corev1.Secret, error) {
	return o.client.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
}

// addStorage adds serviceaccounts/token, guards the RBAC stores with the
// escalation checks and adds the review APIs to the groups being installed.
func (id *identity) addStorage(groups map[string]*genericapiserver.APIGroupInfo, order *[]string, scheme *runtime.Scheme, codecs serializer.CodecFactory) {
	core := groups[""].VersionedResourcesStorageMap["v1"]
	getter := func(name string) token.Getter { return core[name].(*registry.Storage) }
	core["serviceaccounts/token"] = &token.REST{
		ServiceAccounts: getter("serviceaccounts"), Pods: getter("pods"), Secrets: getter("secrets"), Nodes: getter("nodes"),
		Key: id.key, Issuer: serviceaccount.DefaultIssuer, Audiences: id.audiences, ExtendExpiration: true, Clock: id.clock,
	}

	rbacStores := groups[rbacv1.GroupName].VersionedResourcesStorageMap["v1"]
	guard := rbacregistry.Guard{Authorizer: id.authz, Resolver: id.resolver,
		Get: func(ctx context.Context, ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
			switch ref.Kind {
			case "Role":
				o, err := rbacStores["roles"].(*registry.Storage).Get(ctx, ref.Name, &metav1.GetOptions{})
				if err != nil {
					return nil, err
				}
				return o.(*rbacv1.Role).Rules, nil
			case "ClusterRole":
				o, err := rbacStores["clusterroles"].(*registry.Storage).Get(ctx, ref.Name, &metav1.GetOptions{})
				if err != nil {
					return nil, err
				}
				return o.(*rbacv1.ClusterRole).Rules, nil
			}
			return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
		}}
	for _, name := range []string{"roles", "clusterroles"} {
		rbacStores[name] = rbacregistry.GuardRoles(rbacStores[name].(*registry.Storage), guard)
	}
	for _, name := range []string{"rolebindings", "clusterrolebindings"} {
		rbacStores[name] = rbacregistry.GuardBindings(rbacStores[name].(*registry.Storage), guard)
	}

	add := func(group string, storage map[string]rest.Storage) {
		if groups[group] == nil {
			info := genericapiserver.NewDefaultAPIGroupInfo(group, scheme, runtime.NewParameterCodec(scheme), codecs)
			groups[group] = &info
			*order = append(*order, group)
		}
		groups[group].VersionedResourcesStorageMap["v1"] = storage
	}
	add(authorizationv1.GroupName, map[string]rest.Storage{
		"selfsubjectaccessreviews":  review.NewSelfSubjectAccessReviews(id.authz),
		"selfsubjectrulesreviews":   review.NewSelfSubjectRulesReviews(id.authz),
		"subjectaccessreviews":      review.NewSubjectAccessReviews(id.authz),
		"localsubjectaccessreviews": review.NewLocalSubjectAccessReviews(id.authz),
	})
	add(authenticationv1.GroupName, map[string]rest.Storage{
		"selfsubjectreviews": review.NewSelfSubjectReviews(),
		"tokenreviews":       review.NewTokenReviews(id.tokens, id.audiences),
	})
}

// bootstrapPolicy creates or completes the default ClusterRoles and
// ClusterRoleBindings (an existing one annotated autoupdate=false is left
// alone), then waits until the authorizer's cache holds them: /readyz stays
// failing until then, as kube-apiserver's rbac/bootstrap-roles hook.
func (id *identity) bootstrapPolicy(ctx context.Context, client kubernetes.Interface, f informers.SharedInformerFactory, served map[string][]string) error {
	roles := rbac.ClusterRoles(served)
	bindings := rbac.ClusterRoleBindings()
	// Until the server stops: a failed post-start hook exits the process
	// (kube-apiserver's gives up after 30 s and relies on a process manager
	// to start it again; batchd may have none).
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		// On a restart everything is in place already: one list each instead of a read per object.
		current := map[string]rbacv1.ClusterRole{}
		if list, err := client.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{}); err == nil {
			for _, r := range list.Items {
				current[r.Name] = r
			}
		}
		currentBindings := map[string]rbacv1.ClusterRoleBinding{}
		if list, err := client.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{}); err == nil {
			for _, b := range list.Items {
				currentBindings[b.Name] = b
			}
		}
		// All at once: on a new data dir each is a read and a create, and
		// etcd commits concurrent writes in one round; one after the other
		// they were most of the time until the server is ready. (A binding
		// may name a role not yet created, as on any cluster.)
		var failed atomic.Bool
		workqueue.ParallelizeUntil(ctx, 32, len(roles)+len(bindings), func(i int) {
			if i < len(roles) {
				if have, ok := current[roles[i].Name]; ok && roleUpToDate(have, roles[i]) {
					return
				}
				opts := reconciliation.ReconcileRoleOptions{Role: reconciliation.ClusterRoleRuleOwner{ClusterRole: roles[i].DeepCopy()},
					Client: reconciliation.ClusterRoleModifier{Client: client.RbacV1().ClusterRoles()}, Confirm: true}
				if _, err := opts.Run(); err != nil {
					klog.FromContext(ctx).Info("reconcile default ClusterRole", "name", roles[i].Name, "err", err)
					failed.Store(true)
				}
				return
			}
			b := bindings[i-len(roles)]
			if have, ok := currentBindings[b.Name]; ok && bindingUpToDate(have, b) {
				return
			}
			opts := reconciliation.ReconcileRoleBindingOptions{RoleBinding: reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: b.DeepCopy()},
				Client: reconciliation.ClusterRoleBindingClientAdapter{Client: client.RbacV1().ClusterRoleBindings()}, Confirm: true}
			if _, err := opts.Run(); err != nil {
				klog.FromContext(ctx).Info("reconcile default ClusterRoleBinding", "name", b.Name, "err", err)
				failed.Store(true)
			}
		})
		if failed.Load() {
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("reconcile default RBAC policy: %w", err)
	}
	r := f.Rbac().V1()
	if !cache.WaitForCacheSync(ctx.Done(), r.Roles().Informer().HasSynced, r.ClusterRoles().Informer().HasSynced,
		r.RoleBindings().Informer().HasSynced, r.ClusterRoleBindings().Informer().HasSynced, f.Core().V1().ServiceAccounts().Informer().HasSynced) {
		return fmt.Errorf("RBAC caches did not sync")
	}
	return wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(context.Context) (bool, error) {
		for _, b := range bindings {
			if _, err := id.resolver.ClusterRoleBindings.Get(b.Name); err != nil {
				return false, nil
			}
		}
		for _, cr := range roles {
			if _, err := id.resolver.ClusterRoles.Get(cr.Name); err != nil {
				return false, nil
			}
		}
		return true, nil
	})
}

// servedRBACResources lists, per API group, the served resources and the
// readable subresources (status, pods/log): what batchd:view reads.
func servedRBACResources(resources []registry.Resource) map[string][]string {
	out := map[string][]string{}
	for _, r := range resources {
		g := r.Resource.Group
		out[g] = append(out[g], r.Resource.Resource)
		if r.Funcs.Spec != nil && r.Funcs.Status != nil {
			out[g] = append(out[g], r.Resource.Resource+"/status")
		}
	}
	out[""] = append(out[""], "pods/log")
	return out
}

func unionRequests(rs []authenticator.Request) authenticator.Request { return union.New(rs...) }

// reconcileKubernetesService makes the kubernetes Service in default point at
// this server (kube-apiserver's bootstrap controller), retrying until the
// default namespace exists, then every 10 s (another server sharing the etcd
// may have gone).
func reconcileKubernetesService(ctx context.Context, client kubernetes.Interface, address string) error {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return err
	}
	// Until it is in place or the server stops (a failed post-start hook
	// exits the process); every 100th failure is logged.
	var last error
	tries := 0
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		last = service.ReconcileKubernetes(ctx, client, host, int32(port), answers)
		if tries++; last != nil && tries%100 == 0 && ctx.Err() == nil {
			klog.FromContext(ctx).Error(last, "reconcile the kubernetes service; retrying", "tries", tries)
		}
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("kubernetes service: %w (%v)", err, last)
	}
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := service.ReconcileKubernetes(ctx, client, host, int32(port), answers); err != nil && ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "reconcile the kubernetes service")
		}
	}, 10*time.Second)
	return nil
}

// answers reports whether something accepts connections at ip:port.
func answers(ip string, port int32) bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))), time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// roleUpToDate: the stored role has every expected rule, label, annotation and
// selector (reconciliation only adds, as upstream's).
func roleUpToDate(have, want rbacv1.ClusterRole) bool {
	if covers, _ := rbacvalidation.Covers(have.Rules, want.Rules); !covers {
		return false
	}
	if !equality.Semantic.DeepEqual(have.AggregationRule, want.AggregationRule) && want.AggregationRule != nil {
		return false
	}
	return hasAll(have.Labels, want.Labels) && hasAll(have.Annotations, want.Annotations)
}

func bindingUpToDate(have, want rbacv1.ClusterRoleBinding) bool {
	if have.RoleRef != want.RoleRef || !hasAll(have.Labels, want.Labels) || !hasAll(have.Annotations, want.Annotations) {
		return false
	}
	for _, s := range want.Subjects {
		if !slices.Contains(have.Subjects, s) {
			return false
		}
	}
	return true
}

func hasAll(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
