package rbac

import (
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchd/batchd/internal/apiserver/registry"
	"github.com/batchd/batchd/internal/apiserver/validation"
)

func metaUpdate(obj, old runtime.Object) field.ErrorList {
	return validation.ObjectMetaUpdate(obj.(metav1.Object).(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta),
		old.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta))
}

// roleTable is upstream's NAME, CREATED AT.
func roleTable(meta func(runtime.Object) *metav1.ObjectMeta) *registry.Table {
	return &registry.Table{
		Columns: []metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("Created At", "date", "", metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"], false),
		},
		Row: func(obj runtime.Object, _ time.Time) ([]any, error) {
			m := meta(obj)
			return []any{m.Name, m.CreationTimestamp.Time.UTC().Format(time.RFC3339)}, nil
		},
	}
}

// bindingTable is upstream's NAME, ROLE, AGE (wide: USERS, GROUPS, SERVICEACCOUNTS).
func bindingTable(parts func(runtime.Object) (*metav1.ObjectMeta, rbacv1.RoleRef, []rbacv1.Subject)) *registry.Table {
	return &registry.Table{
		Columns: []metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("Role", "string", "", rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"], false),
			registry.AgeColumn(),
			registry.Column("Users", "string", "", "Users in the roleBinding", true),
			registry.Column("Groups", "string", "", "Groups in the roleBinding", true),
			registry.Column("ServiceAccounts", "string", "", "ServiceAccounts in the roleBinding", true),
		},
		Row: func(obj runtime.Object, now time.Time) ([]any, error) {
			m, ref, subjects := parts(obj)
			return []any{m.Name, ref.Kind + "/" + ref.Name, registry.Age(m.CreationTimestamp, now),
				joinSubjects(subjects, rbacv1.UserKind), joinSubjects(subjects, rbacv1.GroupKind), joinSubjects(subjects, rbacv1.ServiceAccountKind)}, nil
		},
	}
}

// Roles.
func Roles() registry.Resource {
	return registry.Resource{
		Resource: rbacv1.Resource("roles"), Singular: "role", Namespaced: true,
		New:     func() runtime.Object { return &rbacv1.Role{} },
		NewList: func() runtime.Object { return &rbacv1.RoleList{} },
		Funcs: registry.Funcs{
			Validate: func(obj runtime.Object) field.ErrorList { return ValidateRole(obj.(*rbacv1.Role)) },
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return append(ValidateRole(obj.(*rbacv1.Role)), metaUpdate(obj, old)...)
			},
		},
		Table: roleTable(func(obj runtime.Object) *metav1.ObjectMeta { return &obj.(*rbacv1.Role).ObjectMeta }),
	}
}

// ClusterRoles.
func ClusterRoles() registry.Resource {
	return registry.Resource{
		Resource: rbacv1.Resource("clusterroles"), Singular: "clusterrole",
		New:     func() runtime.Object { return &rbacv1.ClusterRole{} },
		NewList: func() runtime.Object { return &rbacv1.ClusterRoleList{} },
		Funcs: registry.Funcs{
			Validate: func(obj runtime.Object) field.ErrorList { return ValidateClusterRole(obj.(*rbacv1.ClusterRole)) },
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return append(ValidateClusterRole(obj.(*rbacv1.ClusterRole)), metaUpdate(obj, old)...)
			},
		},
		Table: roleTable(func(obj runtime.Object) *metav1.ObjectMeta { return &obj.(*rbacv1.ClusterRole).ObjectMeta }),
	}
}

// RoleBindings.
func RoleBindings() registry.Resource {
	return registry.Resource{
		Resource: rbacv1.Resource("rolebindings"), Singular: "rolebinding", Namespaced: true,
		New:     func() runtime.Object { return &rbacv1.RoleBinding{} },
		NewList: func() runtime.Object { return &rbacv1.RoleBindingList{} },
		Default: func(obj runtime.Object) {
			b := obj.(*rbacv1.RoleBinding)
			defaultSubjects(&b.RoleRef, b.Subjects)
		},
		Funcs: registry.Funcs{
			Validate: func(obj runtime.Object) field.ErrorList { return ValidateRoleBinding(obj.(*rbacv1.RoleBinding)) },
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				b, o := obj.(*rbacv1.RoleBinding), old.(*rbacv1.RoleBinding)
				errs := append(ValidateRoleBinding(b), metaUpdate(obj, old)...)
				return append(errs, roleRefUpdate(b.RoleRef, o.RoleRef)...)
			},
		},
		Table: bindingTable(func(obj runtime.Object) (*metav1.ObjectMeta, rbacv1.RoleRef, []rbacv1.Subject) {
			b := obj.(*rbacv1.RoleBinding)
			return &b.ObjectMeta, b.RoleRef, b.Subjects
		}),
	}
}

// ClusterRoleBindings.
func ClusterRoleBindings() registry.Resource {
	return registry.Resource{
		Resource: rbacv1.Resource("clusterrolebindings"), Singular: "clusterrolebinding",
		New:     func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },
		NewList: func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
		Default: func(obj runtime.Object) {
			b := obj.(*rbacv1.ClusterRoleBinding)
			defaultSubjects(&b.RoleRef, b.Subjects)
		},
		Funcs: registry.Funcs{
			Validate: func(obj runtime.Object) field.ErrorList {
				return ValidateClusterRoleBinding(obj.(*rbacv1.ClusterRoleBinding))
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				b, o := obj.(*rbacv1.ClusterRoleBinding), old.(*rbacv1.ClusterRoleBinding)
				errs := append(ValidateClusterRoleBinding(b), metaUpdate(obj, old)...)
				return append(errs, roleRefUpdate(b.RoleRef, o.RoleRef)...)
			},
		},
		Table: bindingTable(func(obj runtime.Object) (*metav1.ObjectMeta, rbacv1.RoleRef, []rbacv1.Subject) {
			b := obj.(*rbacv1.ClusterRoleBinding)
			return &b.ObjectMeta, b.RoleRef, b.Subjects
		}),
	}
}
