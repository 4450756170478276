package core

import (
	"fmt"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"sort"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchd/batchd/internal/apiserver/registry"
	"github.com/batchd/batchd/internal/apiserver/validation"
)

// metaOnly validates objects whose only rules are their metadata's.
func metaOnly(namespaced bool, name validation.NameFunc) (func(runtime.Object) field.ErrorList, func(runtime.Object, runtime.Object) field.ErrorList) {
	create := func(obj runtime.Object) field.ErrorList {
		return validation.ObjectMeta(objectMeta(obj), namespaced, name)
	}
	update := func(obj, old runtime.Object) field.ErrorList {
		return validation.ObjectMetaUpdate(objectMeta(obj), objectMeta(old))
	}
	return create, update
}

func objectMeta(obj runtime.Object) *metav1.ObjectMeta {
	return obj.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta)
}

func simpleTable(cols []metav1.TableColumnDefinition, row func(obj runtime.Object, now time.Time) []any) *registry.Table {
	return &registry.Table{Columns: cols, Row: func(obj runtime.Object, now time.Time) ([]any, error) {
		return row(obj, now), nil
	}}
}

// Namespaces: spec.finalizers ["kubernetes"] keeps a deleted namespace in
// Terminating until the namespace controller has emptied it.
func Namespaces() registry.Resource {
	v, vu := metaOnly(false, validation.DNSLabel)
	return registry.Resource{
		Resource: corev1.Resource("namespaces"), Singular: "namespace",
		New:        func() runtime.Object { return &corev1.Namespace{} },
		NewList:    func() runtime.Object { return &corev1.NamespaceList{} },
		ShortNames: []string{"ns"},
		Default: func(obj runtime.Object) {
			ns := obj.(*corev1.Namespace)
			if ns.Status.Phase == "" {
				ns.Status.Phase = corev1.NamespaceActive
			}
			if ns.Labels == nil {
				ns.Labels = map[string]string{}
			}
			if ns.Name != "" {
				ns.Labels[corev1.LabelMetadataName] = ns.Name
			}
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
		},
		Funcs: registry.Funcs{
			Spec:   func(obj runtime.Object) any { return &obj.(*corev1.Namespace).Spec },
			Status: func(obj runtime.Object) any { return &obj.(*corev1.Namespace).Status },
			PrepareForCreate: func(obj runtime.Object) {
				ns := obj.(*corev1.Namespace)
				ns.Status.Phase = corev1.NamespaceActive
				if !hasFinalizer(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
					ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
				}
			},
			Validate: v, ValidateUpdate: vu,
			ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
				return append(vu(obj, old), namespacePhase(obj.(*corev1.Namespace))...)
			},
		},
		Table: simpleTable([]metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("Status", "string", "", "The status of the namespace", false),
			registry.AgeColumn(),
		}, func(obj runtime.Object, now time.Time) []any {
			ns := obj.(*corev1.Namespace)
			return []any{ns.Name, string(ns.Status.Phase), registry.Age(ns.CreationTimestamp, now)}
		}),
		REST: namespaceREST,
	}
}

// namespacePhase: through status, the phase follows the deletionTimestamp
// (upstream's ValidateNamespaceStatusUpdate, field path and all).
func namespacePhase(ns *corev1.Namespace) field.ErrorList {
	p := field.NewPath("status", "Phase")
	switch {
	case ns.DeletionTimestamp.IsZero() && ns.Status.Phase != corev1.NamespaceActive:
		return field.ErrorList{field.Invalid(p, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty")}
	case !ns.DeletionTimestamp.IsZero() && ns.Status.Phase != corev1.NamespaceTerminating:
		return field.ErrorList{field.Invalid(p, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")}
	}
	return nil
}

func hasFinalizer(fs []corev1.FinalizerName, f corev1.FinalizerName) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

// Events expire an hour after their last write, as upstream's --event-ttl.
func Events() registry.Resource {
	v, vu := metaOnly(true, validation.DNSSubdomain)
	return registry.Resource{
		Resource: corev1.Resource("events"), Singular: "event", Namespaced: true,
		New:        func() runtime.Object { return &corev1.Event{} },
		NewList:    func() runtime.Object { return &corev1.EventList{} },
		ShortNames: []string{"ev"},
		TTL:        time.Hour,
		Fields:     func(obj runtime.Object) fields.Set { return EventFields(obj.(*corev1.Event)) },
		Funcs:      registry.Funcs{Validate: v, ValidateUpdate: vu},
		Table:      simpleTable(eventColumns(), eventRow),
	}
}

// EventFields are the event fields selectable with --field-selector (kubectl
// describe finds an object's events by involvedObject.*).
func EventFields(e *corev1.Event) fields.Set {
	return fields.Set{
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         e.Source.Component,
		"type":                           e.Type,
	}
}

func eventColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		registry.Column("Last Seen", "string", "", corev1.Event{}.SwaggerDoc()["lastTimestamp"], false),
		registry.Column("Type", "string", "", corev1.Event{}.SwaggerDoc()["type"], false),
		registry.Column("Reason", "string", "", corev1.Event{}.SwaggerDoc()["reason"], false),
		registry.Column("Object", "string", "", corev1.Event{}.SwaggerDoc()["involvedObject"], false),
		registry.Column("Subobject", "string", "", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"], true),
		registry.Column("Source", "string", "", corev1.Event{}.SwaggerDoc()["source"], true),
		registry.Column("Message", "string", "", corev1.Event{}.SwaggerDoc()["message"], false),
		registry.Column("First Seen", "string", "", corev1.Event{}.SwaggerDoc()["firstTimestamp"], true),
		registry.Column("Count", "string", "", corev1.Event{}.SwaggerDoc()["count"], true),
		registry.Column("Name", "string", "name", metav1.ObjectMeta{}.SwaggerDoc()["name"], true),
	}
}

func eventRow(obj runtime.Object, now time.Time) []any {
	e := obj.(*corev1.Event)
	first := e.FirstTimestamp
	if first.IsZero() {
		first = metav1.Time{Time: e.EventTime.Time}
	}
	last := e.LastTimestamp
	if last.IsZero() {
		last = first
	}
	if e.Series != nil {
		last = metav1.Time{Time: e.Series.LastObservedTime.Time}
	}
	count := e.Count
	if e.Series != nil {
		count = e.Series.Count
	} else if count == 0 {
		count = 1
	}
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	if e.Source.Host != "" {
		source += ", " + e.Source.Host
	}
	object := strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
	return []any{registry.Age(last, now), e.Type, e.Reason, object, e.InvolvedObject.FieldPath, source,
		strings.TrimSpace(e.Message), registry.Age(first, now), int64(count), e.Name}
}

// ConfigMaps.
func ConfigMaps() registry.Resource {
	_, vu := metaOnly(true, validation.DNSSubdomain)
	return registry.Resource{
		Resource: corev1.Resource("configmaps"), Singular: "configmap", Namespaced: true,
		New:        func() runtime.Object { return &corev1.ConfigMap{} },
		NewList:    func() runtime.Object { return &corev1.ConfigMapList{} },
		ShortNames: []string{"cm"},
		Funcs: registry.Funcs{
			Validate: func(obj runtime.Object) field.ErrorList {
				cm := obj.(*corev1.ConfigMap)
				errs := validation.ObjectMeta(&cm.ObjectMeta, true, validation.DNSSubdomain)
				return append(errs, dataKeys(cm.Data, cm.BinaryData, field.NewPath("data"))...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				cm, o := obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap)
				errs := vu(obj, old)
				if o.Immutable != nil && *o.Immutable {
					errs = append(errs, immutableData(cm.Immutable, !apiequality.Semantic.DeepEqual(cm.Data, o.Data) || !apiequality.Semantic.DeepEqual(cm.BinaryData, o.BinaryData), "data")...)
				}
				return append(errs, dataKeys(cm.Data, cm.BinaryData, field.NewPath("data"))...)
			},
		},
		Table: simpleTable([]metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("Data", "string", "", corev1.ConfigMap{}.SwaggerDoc()["data"], false),
			registry.AgeColumn(),
		}, func(obj runtime.Object, now time.Time) []any {
			cm := obj.(*corev1.ConfigMap)
			return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), registry.Age(cm.CreationTimestamp, now)}
		}),
	}
}

func dataKeys[V any](data map[string]string, binary map[string]V, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for k := range data {
		for _, msg := range utilvalidation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(p.Key(k), k, msg))
		}
	}
	for k := range binary {
		for _, msg := range utilvalidation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(k), k, msg))
		}
		if _, ok := data[k]; ok {
			errs = append(errs, field.Invalid(p.Key(k), k, "duplicate of key present in binaryData"))
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	return errs
}

// Secrets never appear in tables or logs by value: the table counts keys only.
func Secrets() registry.Resource {
	_, vu := metaOnly(true, validation.DNSSubdomain)
	return registry.Resource{
		Resource: corev1.Resource("secrets"), Singular: "secret", Namespaced: true,
		New:     func() runtime.Object { return &corev1.Secret{} },
		NewList: func() runtime.Object { return &corev1.SecretList{} },
		Default: func(obj runtime.Object) {
			s := obj.(*corev1.Secret)
			if s.Type == "" {
				s.Type = corev1.SecretTypeOpaque
			}
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"type": string(obj.(*corev1.Secret).Type)}
		},
		Funcs: registry.Funcs{
			// stringData is write-only: fold it into data, as upstream does.
			PrepareForCreate: func(obj runtime.Object) { foldStringData(obj.(*corev1.Secret)) },
			PrepareForUpdate: func(obj, _ runtime.Object) { foldStringData(obj.(*corev1.Secret)) },
			Validate: func(obj runtime.Object) field.ErrorList {
				s := obj.(*corev1.Secret)
				errs := validation.ObjectMeta(&s.ObjectMeta, true, validation.DNSSubdomain)
				return append(errs, secretData(s)...)
			},
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				s, o := obj.(*corev1.Secret), old.(*corev1.Secret)
				errs := vu(obj, old)
				errs = append(errs, validation.Immutable(s.Type, o.Type, field.NewPath("type"))...)
				if o.Immutable != nil && *o.Immutable {
					errs = append(errs, immutableData(s.Immutable, !apiequality.Semantic.DeepEqual(s.Data, o.Data), "data")...)
				}
				return append(errs, secretData(s)...)
			},
		},
		Table: simpleTable([]metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("Type", "string", "", corev1.Secret{}.SwaggerDoc()["type"], false),
			registry.Column("Data", "string", "", corev1.Secret{}.SwaggerDoc()["data"], false),
			registry.AgeColumn(),
		}, func(obj runtime.Object, now time.Time) []any {
			s := obj.(*corev1.Secret)
			return []any{s.Name, string(s.Type), int64(len(s.Data)), registry.Age(s.CreationTimestamp, now)}
		}),
	}
}

// secretData checks a Secret's keys and total size. No error carries a
// value: keys are names, and the size error omits the data (upstream's
// field.TooLong).
func secretData(s *corev1.Secret) field.ErrorList {
	p := field.NewPath("data")
	var errs field.ErrorList
	total := 0
	for k, v := range s.Data {
		for _, msg := range utilvalidation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(p.Key(k), k, msg))
		}
		total += len(v)
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
	if total > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(p, "", corev1.MaxSecretSize))
	}
	return errs
}

// immutableData is upstream's rule for an immutable ConfigMap or Secret:
// it stays immutable and its data does not change. The errors are Forbidden,
// which carry no value: a Secret's data never appears in them.
func immutableData(immutable *bool, dataChanged bool, dataField string) field.ErrorList {
	var errs field.ErrorList
	if immutable == nil || !*immutable {
		errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
	}
	if dataChanged {
		errs = append(errs, field.Forbidden(field.NewPath(dataField), "field is immutable when `immutable` is set"))
	}
	return errs
}

func foldStringData(s *corev1.Secret) {
	if len(s.StringData) == 0 {
		return
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

// ServiceAccounts.
func ServiceAccounts() registry.Resource {
	v, vu := metaOnly(true, validation.DNSSubdomain)
	return registry.Resource{
		Resource: corev1.Resource("serviceaccounts"), Singular: "serviceaccount", Namespaced: true,
		New:        func() runtime.Object { return &corev1.ServiceAccount{} },
		NewList:    func() runtime.Object { return &corev1.ServiceAccountList{} },
		ShortNames: []string{"sa"},
		Funcs:      registry.Funcs{Validate: v, ValidateUpdate: vu},
		Table: simpleTable([]metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("Secrets", "string", "", corev1.ServiceAccount{}.SwaggerDoc()["secrets"], false),
			registry.AgeColumn(),
		}, func(obj runtime.Object, now time.Time) []any {
			sa := obj.(*corev1.ServiceAccount)
			return []any{sa.Name, int64(len(sa.Secrets)), registry.Age(sa.CreationTimestamp, now)}
		}),
	}
}

// Nodes.
func Nodes() registry.Resource {
	v, vu := metaOnly(false, validation.DNSSubdomain)
	return registry.Resource{
		Resource: corev1.Resource("nodes"), Singular: "node",
		New:        func() runtime.Object { return &corev1.Node{} },
		NewList:    func() runtime.Object { return &corev1.NodeList{} },
		ShortNames: []string{"no"},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"spec.unschedulable": fmt.Sprint(obj.(*corev1.Node).Spec.Unschedulable)}
		},
		Funcs: registry.Funcs{
			Spec:   func(obj runtime.Object) any { return &obj.(*corev1.Node).Spec },
			Status: func(obj runtime.Object) any { return &obj.(*corev1.Node).Status },
			// Nodes allow every field, status included, on create (upstream's nodeStrategy).
			StatusOnCreate: true,
			Validate:       v, ValidateUpdate: vu, ValidateStatusUpdate: vu,
		},
		Table: simpleTable([]metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("Status", "string", "", "The status of the node", false),
			registry.Column("Roles", "string", "", "The roles of the node", false),
			registry.AgeColumn(),
			registry.Column("Version", "string", "", corev1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"], false),
			registry.Column("Internal-IP", "string", "", corev1.NodeStatus{}.SwaggerDoc()["addresses"], true),
			registry.Column("External-IP", "string", "", corev1.NodeStatus{}.SwaggerDoc()["addresses"], true),
			registry.Column("OS-Image", "string", "", corev1.NodeSystemInfo{}.SwaggerDoc()["osImage"], true),
			registry.Column("Kernel-Version", "string", "", corev1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"], true),
			registry.Column("Container-Runtime", "string", "", corev1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"], true),
		}, nodeRow),
	}
}

func nodeRow(obj runtime.Object, now time.Time) []any {
	n := obj.(*corev1.Node)
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			} else {
				status = "NotReady"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	var roles []string
	for k := range n.Labels {
		if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && r != "" {
			roles = append(roles, r)
		}
	}
	sort.Strings(roles)
	rolesStr := "<none>"
	if len(roles) > 0 {
		rolesStr = strings.Join(roles, ",")
	}
	addr := func(t corev1.NodeAddressType) string {
		for _, a := range n.Status.Addresses {
			if a.Type == t {
				return a.Address
			}
		}
		return "<none>"
	}
	osImage := n.Status.NodeInfo.OSImage
	if osImage == "" {
		osImage = "<unknown>"
	}
	kernel := n.Status.NodeInfo.KernelVersion
	if kernel == "" {
		kernel = "<unknown>"
	}
	rt := n.Status.NodeInfo.ContainerRuntimeVersion
	if rt == "" {
		rt = "<unknown>"
	}
	return []any{n.Name, status, rolesStr, registry.Age(n.CreationTimestamp, now), n.Status.NodeInfo.KubeletVersion,
		addr(corev1.NodeInternalIP), addr(corev1.NodeExternalIP), osImage, kernel, rt}
}

// PersistentVolumeClaims.
func PersistentVolumeClaims() registry.Resource {
	_, vu := metaOnly(true, validation.DNSSubdomain)
	return registry.Resource{
		Resource: corev1.Resource("persistentvolumeclaims"), Singular: "persistentvolumeclaim", Namespaced: true,
		New:        func() runtime.Object { return &corev1.PersistentVolumeClaim{} },
		NewList:    func() runtime.Object { return &corev1.PersistentVolumeClaimList{} },
		ShortNames: []string{"pvc"},
		Default: func(obj runtime.Object) {
			pvc := obj.(*corev1.PersistentVolumeClaim)
			if pvc.Spec.VolumeMode == nil {
				fs := corev1.PersistentVolumeFilesystem
				pvc.Spec.VolumeMode = &fs
			}
		},
		Funcs: registry.Funcs{
			Spec:   func(obj runtime.Object) any { return &obj.(*corev1.PersistentVolumeClaim).Spec },
			Status: func(obj runtime.Object) any { return &obj.(*corev1.PersistentVolumeClaim).Status },
			PrepareForCreate: func(obj runtime.Object) {
				obj.(*corev1.PersistentVolumeClaim).Status.Phase = corev1.ClaimPending
			},
			Validate: func(obj runtime.Object) field.ErrorList {
				pvc := obj.(*corev1.PersistentVolumeClaim)
				errs := validation.ObjectMeta(&pvc.ObjectMeta, true, validation.DNSSubdomain)
				sp := field.NewPath("spec")
				if len(pvc.Spec.AccessModes) == 0 {
					errs = append(errs, field.Required(sp.Child("accessModes"), ""))
				}
				if _, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
					errs = append(errs, field.Required(sp.Child("resources").Key(string(corev1.ResourceStorage)), ""))
				}
				return errs
			},
			ValidateUpdate: vu, ValidateStatusUpdate: vu,
		},
		Table: simpleTable([]metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("Status", "string", "", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"], false),
			registry.Column("Volume", "string", "", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"], false),
			registry.Column("Capacity", "string", "", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"], false),
			registry.Column("Access Modes", "string", "", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"], false),
			registry.Column("StorageClass", "string", "", "StorageClass of the pvc", false),
			registry.Column("VolumeAttributesClass", "string", "", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeAttributesClassName"], false),
			registry.AgeColumn(),
			registry.Column("VolumeMode", "string", "", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeMode"], true),
		}, func(obj runtime.Object, now time.Time) []any {
			pvc := obj.(*corev1.PersistentVolumeClaim)
			capacity, modes := "", ""
			if pvc.Spec.VolumeName != "" {
				if q, ok := pvc.Status.Capacity[corev1.ResourceStorage]; ok {
					capacity = q.String()
				}
				modes = accessModes(pvc.Status.AccessModes)
			}
			class := "<unset>"
			if pvc.Spec.StorageClassName != nil {
				class = *pvc.Spec.StorageClassName
			}
			vac := "<unset>"
			if pvc.Spec.VolumeAttributesClassName != nil {
				vac = *pvc.Spec.VolumeAttributesClassName
			}
			mode := "<unset>"
			if pvc.Spec.VolumeMode != nil {
				mode = string(*pvc.Spec.VolumeMode)
			}
			return []any{pvc.Name, string(pvc.Status.Phase), pvc.Spec.VolumeName, capacity, modes, class, vac, registry.Age(pvc.CreationTimestamp, now), mode}
		}),
	}
}

func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	short := map[corev1.PersistentVolumeAccessMode]string{
		corev1.ReadWriteOnce: "RWO", corev1.ReadOnlyMany: "ROX", corev1.ReadWriteMany: "RWX", corev1.ReadWriteOncePod: "RWOP",
	}
	var out []string
	for _, m := range modes {
		out = append(out, short[m])
	}
	return strings.Join(out, ",")
}

// Leases (coordination.k8s.io/v1): the node heartbeat.
func Leases() registry.Resource {
	v, vu := metaOnly(true, validation.DNSSubdomain)
	return registry.Resource{
		Resource: coordinationv1.Resource("leases"), Singular: "lease", Namespaced: true,
		New:     func() runtime.Object { return &coordinationv1.Lease{} },
		NewList: func() runtime.Object { return &coordinationv1.LeaseList{} },
		Funcs:   registry.Funcs{Validate: v, ValidateUpdate: vu},
		Table: simpleTable([]metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("Holder", "string", "", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"], false),
			registry.AgeColumn(),
		}, func(obj runtime.Object, now time.Time) []any {
			l := obj.(*coordinationv1.Lease)
			holder := ""
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []any{l.Name, holder, registry.Age(l.CreationTimestamp, now)}
		}),
	}
}
