package checks

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"30s", 30 * time.Second, false},
		{"5m", 5 * time.Minute, false},
		{"14d", 14 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"2w", 14 * 24 * time.Hour, false},
		{"1.5h", 90 * time.Minute, false},
		{"500ms", 500 * time.Millisecond, false},
		{"", 0, true},
		{"-5m", 0, true},
		{"5", 0, true},
		{"5 minutes", 0, true},
		{"d", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseDuration(%q) = %v, want error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func testSpec() Spec {
	return Spec{
		ID: "test.thing",
		Params: []ParamSpec{
			{Name: "url", Type: URL, Required: true, Doc: "what to fetch"},
			{Name: "count", Type: Int, Default: "3"},
			{Name: "mode", Type: Enum, Choices: []string{"fast", "slow"}, Default: "fast"},
			{Name: "context", Type: String, FrontMatter: "kube_context"},
			{Name: "addr", Type: Addr},
			{Name: "kinds", Type: List, Choices: []string{"a", "b"}},
			{Name: "on", Type: Bool},
		},
	}
}

func TestBind(t *testing.T) {
	tests := []struct {
		name     string
		raw      map[string]string
		file     map[string]string
		wantErr  []string
		want     map[string]string
		identity string
	}{
		{
			name:     "defaults and front matter fill in",
			raw:      map[string]string{"url": "https://example.com/x"},
			file:     map[string]string{"kube_context": "prod"},
			want:     map[string]string{"url": "https://example.com/x", "count": "3", "mode": "fast", "context": "prod", "timeout": "1m0s"},
			identity: "context=prod url=https://example.com/x",
		},
		{
			name:     "explicit wins over front matter; timeout is not identity",
			raw:      map[string]string{"url": "http://a/", "context": "dev", "timeout": "5s", "on": "yes"},
			file:     map[string]string{"kube_context": "prod", "timeout": "10s"},
			want:     map[string]string{"context": "dev", "timeout": "5s", "on": "yes"},
			identity: "context=dev on=yes url=http://a/",
		},
		{
			name:    "every problem is reported",
			raw:     map[string]string{"count": "many", "mode": "medium", "bogus": "1", "addr": "nohost", "kinds": "a,c"},
			wantErr: []string{"needs url=<url>", `"many" is not a whole number`, `"medium" is not one of fast, slow`, `has no parameter "bogus"; valid parameters: addr, context, count, kinds, mode, on, timeout, url`, "not host:port", `"c" is not one of a, b`},
		},
		{
			name:    "bad url and bad front matter",
			raw:     map[string]string{"url": "ftp://x"},
			file:    map[string]string{"timeout": "soon"},
			wantErr: []string{"not an absolute http:// or https:// URL", "front matter timeout"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := testSpec().Bind(tt.raw, tt.file)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Bind = nil error, want errors %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				var pe *ParamError
				if !errors.As(err, &pe) {
					t.Errorf("error is not a *ParamError: %T", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Bind: %v", err)
			}
			for k, v := range tt.want {
				if got := p.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if got := p.Identity(); got != tt.identity {
				t.Errorf("Identity = %q, want %q", got, tt.identity)
			}
		})
	}
}

func TestParamsAccessorsAndJSON(t *testing.T) {
	p, err := testSpec().Bind(map[string]string{"url": "http://x/", "kinds": "a, b", "on": "off", "timeout": "2d"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Int("count") != 3 || p.Bool("on") || p.Duration("timeout") != 48*time.Hour {
		t.Errorf("accessors: count=%d on=%v timeout=%v", p.Int("count"), p.Bool("on"), p.Duration("timeout"))
	}
	if got := p.List("kinds"); len(got) != 2 || got[1] != "b" {
		t.Errorf("List = %q", got)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Params
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Identity() != p.Identity() || back.Get("count") != "3" {
		t.Errorf("round trip: %q vs %q", back.Identity(), p.Identity())
	}
}

func TestQuoteValue(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", "two words": `"two words"`, "": `""`, `a"b`: `"a\"b"`} {
		if got := QuoteValue(in); got != want {
			t.Errorf("QuoteValue(%q) = %s, want %s", in, got, want)
		}
	}
}
