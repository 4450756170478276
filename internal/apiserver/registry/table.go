package registry

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Table prints a resource for `kubectl get`, as upstream's server-side printers
// do: Columns describe the cells Row returns for one object.
type Table struct {
	Columns []metav1.TableColumnDefinition
	Row     func(obj runtime.Object, now time.Time) ([]any, error)
	// Now is the clock ages are measured against; nil means time.Now.
	Now func() time.Time
}

var _ rest.TableConvertor = &Table{}

// Column is shorthand for a column definition; wide columns have priority 1.
func Column(name, typ, format, description string, wide bool) metav1.TableColumnDefinition {
	c := metav1.TableColumnDefinition{Name: name, Type: typ, Format: format, Description: description}
	if wide {
		c.Priority = 1
	}
	return c
}

// NameColumn and AgeColumn are the columns every table has.
func NameColumn() metav1.TableColumnDefinition {
	return Column("Name", "string", "name", metav1.ObjectMeta{}.SwaggerDoc()["name"], false)
}

func AgeColumn() metav1.TableColumnDefinition {
	return Column("Age", "string", "", metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"], false)
}

// ConvertToTable implements rest.TableConvertor.
func (t *Table) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	at := now()
	table := &metav1.Table{ColumnDefinitions: t.Columns}
	add := func(o runtime.Object) error {
		cells, err := t.Row(o, at)
		if err != nil {
			return err
		}
		if len(cells) != len(t.Columns) {
			return fmt.Errorf("table row for %T has %d cells, want %d", o, len(cells), len(t.Columns))
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Object: o}})
		return nil
	}
	if meta.IsListType(obj) {
		if err := meta.EachListItem(obj, add); err != nil {
			return nil, err
		}
		if l, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = l.GetResourceVersion()
			table.Continue = l.GetContinue()
			table.RemainingItemCount = l.GetRemainingItemCount()
		}
	} else if err := add(obj); err != nil {
		return nil, err
	}
	return table, nil
}

// Age renders a timestamp the way kubectl's AGE column does.
func Age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}
