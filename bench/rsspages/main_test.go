package main

import (
	"maps"
	"testing"
)

func TestPackageOf(t *testing.T) {
	for _, tc := range []struct{ symbol, want string }{
		{"k8s.io/api/core/v1.init", "k8s.io/api/core/v1"},
		{"k8s.io/api/core/v1.(*Pod).Unmarshal", "k8s.io/api/core/v1"},
		{"github.com/aws/aws-sdk-go-v2/service/rds/schemas.init.0", "github.com/aws/aws-sdk-go-v2/service/rds/schemas"},
		{"gopkg.in/yaml%2ev3.(*parser).parse", "gopkg.in/yaml.v3"},
		{"go:itab.*os.File,io.Reader", "os"},
		{"go:itab.*net/http.Client,github.com/aws/aws-sdk-go-v2/config.HTTPClient", "net/http"},
		{"type:*k8s.io/api/core/v1.Pod", "k8s.io/api/core/v1"},
		{"type:map[string]int", "(composite types)"},
		{"runtime.mallocgc", "runtime"},
		{"main.main", "main"},
		{"type:*", "(type descriptors)"},
		{"runtime.pclntab", "(pclntab)"},
		{"go:string.*", "(string data)"},
	} {
		if got := packageOf(tc.symbol); got != tc.want {
			t.Errorf("packageOf(%q) = %q, want %q", tc.symbol, got, tc.want)
		}
	}
}

func TestModuleOf(t *testing.T) {
	mods := []string{"github.com/aws/aws-sdk-go-v2/service/rds", "github.com/aws/aws-sdk-go-v2", "k8s.io/api"}
	for _, tc := range []struct{ pkg, want string }{
		{"github.com/aws/aws-sdk-go-v2/service/rds/schemas", "github.com/aws/aws-sdk-go-v2/service/rds"},
		{"github.com/aws/aws-sdk-go-v2/aws", "github.com/aws/aws-sdk-go-v2"},
		{"github.com/aws/aws-sdk-go-v2x", "github.com/aws/aws-sdk-go-v2x"},
		{"net/http", "std"},
		{"(pclntab)", "(pclntab)"},
	} {
		if got := moduleOf(tc.pkg, mods); got != tc.want {
			t.Errorf("moduleOf(%q) = %q, want %q", tc.pkg, got, tc.want)
		}
	}
}

func TestShare(t *testing.T) {
	a := symbol{start: 0x1000, end: 0x1800, name: "a.f", pkg: "a"}
	b := symbol{start: 0x1800, end: 0x1c00, name: "b.g", pkg: "b"}
	c := symbol{start: 0x2000, end: 0x3000, name: "c.h", pkg: "c"}
	syms := []symbol{a, b, c}
	none := symbol{name: "(no symbol)", pkg: "(no symbol)"}
	for _, tc := range []struct {
		name       string
		start, end uint64
		want       map[symbol]float64
	}{
		{"two symbols and a gap", 0x1000, 0x2000, map[symbol]float64{a: 0x800, b: 0x400, none: 0x400}},
		{"one symbol", 0x2000, 0x3000, map[symbol]float64{c: 0x1000}},
		{"after every symbol", 0x4000, 0x5000, map[symbol]float64{none: 0x1000}},
	} {
		if got := share(syms, tc.start, tc.end); !maps.Equal(got, tc.want) {
			t.Errorf("%s: share = %v, want %v", tc.name, got, tc.want)
		}
	}
}
