package route

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clankerd/clankerd/heartbeat"
)

func TestResolveHeartbeatQuestions(t *testing.T) {
	reg := catalog(t)
	path := filepath.Join(t.TempDir(), "HEARTBEAT.md")
	src := "---\nkube_context: staging\n---\n## Every 5 minutes\n- are all pods healthy in namespace shop?\n- is anything exposed through a loadbalancer?\n- scale shop/api to 5\n- what is the meaning of life?\n- `tcp.connect` addr=127.0.0.1:1\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := heartbeat.Load([]string{path}, reg)
	if err != nil {
		t.Fatal(err)
	}
	rs := &Resolver{Router: New(reg, testProviders()...)}
	rs.Resolve(t.Context(), files[0])
	f := files[0]
	var got []string
	for _, it := range f.Items {
		got = append(got, it.Kind.String()+" "+it.ID)
	}
	want := []string{"check k8s.pods.unhealthy", "check k8s.exposure.public", "question ", "question ", "check tcp.connect"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("items = %q, want %q", got, want)
	}
	pods := f.Items[0]
	if !pods.Routed || pods.Line != 5 || pods.Params.Get("namespace") != "shop" || pods.Params.Get("context") != "staging" || strings.Contains(pods.Key, "shop") || pods.Key == f.Items[1].Key {
		t.Errorf("routed item = %+v (params %v)", pods, pods.Params.Values())
	}
	if f.Items[4].Routed {
		t.Error("an explicit check item marked routed")
	}
	if len(f.Notices) != 2 || !strings.Contains(f.Notices[0].Error(), ":7: not routed: \"scale shop/api to 5\" asks for a change") ||
		!strings.Contains(f.Notices[1].Error(), ":8: not routed: no check matches") {
		t.Errorf("notices = %v", f.Notices)
	}
	// Loading again (a reload) routes from the cache: same keys.
	files2, _ := heartbeat.Load([]string{path}, reg)
	rs.Resolve(t.Context(), files2[0])
	if files2[0].Items[0].Key != pods.Key || len(rs.cache) != 4 {
		t.Errorf("reload: key %s vs %s, cache %d", files2[0].Items[0].Key, pods.Key, len(rs.cache))
	}
}
