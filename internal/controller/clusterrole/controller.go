// Package clusterrole fills the rules of aggregated ClusterRoles (those with an
// aggregationRule, e.g. admin, edit, view) from the ClusterRoles their label
// selectors match, as upstream's clusterrole-aggregation controller: adding a
// ClusterRole labelled rbac.authorization.k8s.io/aggregate-to-view=true extends
// view, and through it edit and admin.
package clusterrole

import (
	"context"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/batchd/batchd/internal/auth/rbac"
	"github.com/batchd/batchd/internal/controller"
)

// Controller aggregates ClusterRoles.
type Controller struct {
	client kubernetes.Interface
	roles  rbaclisters.ClusterRoleLister
	runner *controller.Runner[string]
}

// Config holds the controller's dependencies.
type Config struct {
	Client   kubernetes.Interface
	Informer informers.SharedInformerFactory
}

// New wires the controller to the informers.
func New(cfg Config) (*Controller, error) {
	f := cfg.Informer
	c := &Controller{client: cfg.Client, roles: f.Rbac().V1().ClusterRoles().Lister()}
	c.runner = controller.NewRunner("clusterrole-aggregation", c.sync)
	// Any change may change any aggregate: look at every aggregated role.
	all := func(any) {
		roles, err := c.roles.List(labels.Everything())
		if err != nil {
			return
		}
		for _, r := range roles {
			if r.AggregationRule != nil {
				c.runner.Add(r.Name)
			}
		}
	}
	if _, err := f.Rbac().V1().ClusterRoles().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: all, UpdateFunc: func(_, obj any) { all(obj) }, DeleteFunc: all,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run processes aggregated roles until ctx ends.
func (c *Controller) Run(ctx context.Context) { c.runner.Run(ctx, 1) }

func (c *Controller) sync(ctx context.Context, name string) (time.Duration, error) {
	role, err := c.roles.Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil || role.AggregationRule == nil {
		return 0, err
	}
	all, err := c.roles.List(labels.Everything())
	if err != nil {
		return 0, err
	}
	rules, err := rbac.AggregatedRules(role, all)
	if err != nil {
		return 0, nil // an invalid selector: nothing to aggregate until the role is fixed
	}
	if equality.Semantic.DeepEqual(rules, role.Rules) || len(rules) == 0 && len(role.Rules) == 0 {
		return 0, nil
	}
	updated := role.DeepCopy()
	updated.Rules = rules
	if updated.Rules == nil {
		updated.Rules = []rbacv1.PolicyRule{}
	}
	_, err = c.client.RbacV1().ClusterRoles().Update(ctx, updated, metav1.UpdateOptions{})
	return 0, err
}
