package gc

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// apply carries out a plan. Every write is guarded by the object's UID or
// resourceVersion, so a plan made from a stale view fails instead of acting.
func (c *Controller) apply(ctx context.Context, o Observed, p Plan) error {
	for _, d := range p.Orphan {
		if err := c.dropOwners(ctx, d.Key, d.UID, []types.UID{o.UID}); err != nil {
			return fmt.Errorf("orphan %s: %w", d.Key, err)
		}
	}
	foreground := metav1.DeletePropagationForeground
	for _, d := range p.DeleteDependents {
		if err := c.delete(ctx, d.Key, d.UID, foreground); err != nil {
			return fmt.Errorf("delete dependent %s: %w", d.Key, err)
		}
	}
	if p.RemoveFinalizer != "" {
		if err := c.removeFinalizer(ctx, o.Key, o.UID, p.RemoveFinalizer); err != nil {
			return fmt.Errorf("remove finalizer %s from %s: %w", p.RemoveFinalizer, o.Key, err)
		}
	}
	if len(p.DropOwners) > 0 {
		if err := c.dropOwners(ctx, o.Key, o.UID, p.DropOwners); err != nil {
			return fmt.Errorf("drop dangling owners of %s: %w", o.Key, err)
		}
	}
	if p.DeleteSelf {
		if err := c.delete(ctx, o.Key, o.UID, metav1.DeletePropagationBackground); err != nil {
			return fmt.Errorf("delete %s: %w", o.Key, err)
		}
	}
	return nil
}

func (c *Controller) delete(ctx context.Context, k Key, uid types.UID, policy metav1.DeletionPropagation) error {
	err := c.client.Resource(k.GVR()).Namespace(k.Namespace).Delete(ctx, k.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &policy,
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone already, or a different object now has the name
	}
	return err
}

// dropOwners removes the ownerReferences with the given UIDs.
func (c *Controller) dropOwners(ctx context.Context, k Key, uid types.UID, owners []types.UID) error {
	drop := map[types.UID]bool{}
	for _, o := range owners {
		drop[o] = true
	}
	return c.patchMeta(ctx, k, uid, func(m *metav1.PartialObjectMetadata) (any, bool) {
		var keep []metav1.OwnerReference
		for _, ref := range m.OwnerReferences {
			if !drop[ref.UID] {
				keep = append(keep, ref)
			}
		}
		if len(keep) == len(m.OwnerReferences) {
			return nil, false
		}
		if keep == nil {
			keep = []metav1.OwnerReference{}
		}
		return map[string]any{"ownerReferences": keep}, true
	})
}

func (c *Controller) removeFinalizer(ctx context.Context, k Key, uid types.UID, finalizer string) error {
	return c.patchMeta(ctx, k, uid, func(m *metav1.PartialObjectMetadata) (any, bool) {
		keep := []string{}
		for _, f := range m.Finalizers {
			if f != finalizer {
				keep = append(keep, f)
			}
		}
		if len(keep) == len(m.Finalizers) {
			return nil, false
		}
		return map[string]any{"finalizers": keep}, true
	})
}

// patchMeta reads the object live and merge-patches its metadata with the
// result of change, guarded by the resourceVersion read.
func (c *Controller) patchMeta(ctx context.Context, k Key, uid types.UID, change func(*metav1.PartialObjectMetadata) (any, bool)) error {
	client := c.client.Resource(k.GVR()).Namespace(k.Namespace)
	m, err := client.Get(ctx, k.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.UID != uid {
		return nil
	}
	fields, ok := change(m)
	if !ok {
		return nil
	}
	metaPatch := fields.(map[string]any)
	metaPatch["resourceVersion"] = m.ResourceVersion
	data, err := json.Marshal(map[string]any{"metadata": metaPatch})
	if err != nil {
		return err
	}
	_, err = client.Patch(ctx, k.Name, types.MergePatchType, data, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
