package view

import (
	"reflect"

	"github.com/clankerd/clankerd/internal/redact"
)

// scrub cleans every text in the value v points to: string fields, map values,
// string slices, and the same inside nested structs, pointers and slices, however
// deep. It is how each output type is made safe when it is built, so a field added
// later to a stored record cannot reach an output unredacted. Maps, slices and pointers
// are replaced by cleaned copies, so the record v was built from is left as it was.
func scrub(v any) {
	scrubValue(reflect.ValueOf(v).Elem())
}

func scrubValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(clean(v.String()))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				scrubValue(f)
			}
		}
	case reflect.Pointer:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(v.Elem())
		scrubValue(c.Elem())
		v.Set(c)
	case reflect.Slice:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := range c.Len() {
			scrubValue(c.Index(i))
		}
		v.Set(c)
	case reflect.Map:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			scrubValue(e)
			if k := it.Key(); e.Kind() == reflect.String && k.Kind() == reflect.String && redact.SecretName(k.String()) {
				e.SetString(redact.Mask)
			}
			c.SetMapIndex(it.Key(), e)
		}
		v.Set(c)
	}
}
