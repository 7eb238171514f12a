package view

import (
	"reflect"

	"github.com/clankerd/clankerd/internal/redact"
)

// scrub cleans every text in the value v points to: string fields, map keys and
// values, string slices, and the same inside nested structs, pointers and slices,
// however deep. It is how each output type is made safe when it is built, so a field
// added later to a stored record cannot reach an output unredacted or unescaped.
// Every text is one line (cleanLine) but a struct field tagged `view:"multiline"`
// and what it holds (clean). Maps, slices and pointers are replaced by cleaned
// copies, so the record v was built from is left as it was.
func scrub(v any) {
	sc := scrubber{memo: map[memoKey]string{}}
	sc.value(reflect.ValueOf(v).Elem(), false)
}

// scrubber cleans the texts of one value. The texts of an output repeat (a check's
// findings share their check id, fix and much of their evidence), and cleaning runs
// every redaction pattern over each: memo keeps what a text became, for the texts
// short enough to be such repeats.
type scrubber struct{ memo map[memoKey]string }

type memoKey struct {
	text      string
	multiline bool
}

// memoMax is the longest text memo keeps (a nil memo keeps none).
const memoMax = 512

func (sc scrubber) text(s string, multiline bool) string {
	if len(s) > memoMax || sc.memo == nil {
		if multiline {
			return clean(s)
		}
		return cleanLine(s)
	}
	k := memoKey{s, multiline}
	if c, ok := sc.memo[k]; ok {
		return c
	}
	c := cleanLine(s)
	if multiline {
		c = clean(s)
	}
	sc.memo[k] = c
	return c
}

// multilineTag marks a field whose text may span lines: an error, an explanation, an
// answer. Text renderers indent its continuation lines.
const multilineTag = "multiline"

func (sc scrubber) value(v reflect.Value, multiline bool) {
	switch v.Kind() {
	case reflect.String:
		if !v.CanSet() {
			return
		}
		v.SetString(sc.text(v.String(), multiline))
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				sc.value(f, v.Type().Field(i).Tag.Get("view") == multilineTag)
			}
		}
	case reflect.Pointer:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(v.Elem())
		sc.value(c.Elem(), multiline)
		v.Set(c)
	case reflect.Slice:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := range c.Len() {
			sc.value(c.Index(i), multiline)
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
			sc.value(e, multiline)
			k := it.Key()
			if k.Kind() == reflect.String {
				if e.Kind() == reflect.String && redact.SecretName(k.String()) {
					e.SetString(redact.Mask)
				}
				k = reflect.ValueOf(sc.text(k.String(), false)).Convert(k.Type())
			}
			c.SetMapIndex(k, e)
		}
		v.Set(c)
	}
}
