package checks

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestReachCheck(t *testing.T) {
	none := &Reach{Source: "/etc/clankerd.yaml"}
	allowLoopback := &Reach{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	allowLinkLocal := &Reach{Allow: []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fd00::/8")}}
	allowMetadata := &Reach{Allow: []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32")}}
	tests := []struct {
		addr  string
		reach *Reach
		class string // "" when allowed
	}{
		{"93.184.215.14:443", none, ""},
		{"[2606:4700::1111]:443", none, ""},
		{"127.0.0.1:80", none, "loopback"},
		{"127.8.9.10:80", none, "loopback"},
		{"[::1]:80", none, "loopback"},
		{"[::ffff:127.0.0.1]:80", none, "loopback"},
		{"[64:ff9b::7f00:1]:80", none, "loopback"},
		{"0.0.0.0:80", none, "unspecified"},
		{"0.1.2.3:80", none, "unspecified"},
		{"[::]:80", none, "unspecified"},
		{"169.254.169.254:80", none, "cloud metadata"},
		{"[::ffff:169.254.169.254]:80", none, "cloud metadata"},
		{"[fd00:ec2::254]:80", none, "cloud metadata"},
		{"100.100.100.200:80", none, "cloud metadata"},
		{"169.254.1.1:80", none, "link-local"},
		{"[fe80::1%eth0]:80", none, "link-local"},
		{"10.1.2.3:5432", none, "private"},
		{"172.16.0.1:5432", none, "private"},
		{"172.31.255.255:5432", none, "private"},
		{"172.32.0.1:5432", none, ""},
		{"192.168.1.1:80", none, "private"},
		{"[fd12:3456::1]:80", none, "private"},
		{"100.64.0.1:80", none, "shared (CGNAT)"},
		{"224.0.0.1:80", none, "multicast"},
		{"[ff02::1]:80", none, "multicast"},
		{"255.255.255.255:80", none, "reserved"},
		{"127.0.0.1:80", allowLoopback, ""},
		{"[::ffff:127.0.0.1]:80", allowLoopback, ""},
		{"[::1]:80", allowLoopback, "loopback"},
		{"10.0.0.1:80", allowLoopback, "private"},
		// A wide prefix does not hand out the metadata service; one naming it does.
		{"169.254.1.1:80", allowLinkLocal, ""},
		{"169.254.169.254:80", allowLinkLocal, "cloud metadata"},
		{"[fd00:ec2::254]:80", allowLinkLocal, "cloud metadata"},
		{"169.254.169.254:80", allowMetadata, ""},
	}
	for _, tt := range tests {
		err := tt.reach.Check(netip.MustParseAddrPort(tt.addr))
		var de *DestinationError
		switch {
		case tt.class == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.addr, err)
		case tt.class != "" && !errors.As(err, &de):
			t.Errorf("%s: %v, want refused as %s", tt.addr, err, tt.class)
		case tt.class != "" && de.Class != tt.class:
			t.Errorf("%s: class %q, want %q", tt.addr, de.Class, tt.class)
		}
	}
	err := none.Check(netip.MustParseAddrPort("[::ffff:127.0.0.1]:8080"))
	for _, want := range []string{"127.0.0.1:8080", "loopback", "add 127.0.0.1/32 to agents.destinations in /etc/clankerd.yaml"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

// TestReachControl dials a real listener through a dialer whose Control is the
// policy: refused by default, connected when the operator allows loopback.
func TestReachControl(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	d := &net.Dialer{Control: (&Reach{}).Control}
	_, err = d.DialContext(t.Context(), "tcp", ln.Addr().String())
	var de *DestinationError
	if !errors.As(err, &de) {
		t.Fatalf("dial to loopback: %v, want a DestinationError", err)
	}
	select {
	case <-accepted:
		t.Fatal("the refused dial reached the listener")
	default:
	}
	// "localhost" resolves first: the policy judges the resolved address.
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if _, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort("localhost", port)); !errors.As(err, &de) {
		t.Errorf("dial to localhost: %v, want a DestinationError", err)
	}
	d.Control = (&Reach{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}).Control
	c, err := d.DialContext(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial to allowed loopback: %v", err)
	}
	c.Close()
	<-accepted
}

func TestAgentPolicyAdmit(t *testing.T) {
	spec := Spec{ID: "x.probe", Params: []ParamSpec{
		{Name: "url", Type: URL},
		{Name: "contains", Type: String, Agent: AgentRefused},
		{Name: "endpoint", Type: URL, Agent: AgentConfigured},
		{Name: "insecure", Type: Bool, Default: "false", Agent: AgentConfigured},
	}}
	policy := AgentPolicy{Reach: Reach{Source: "/cfg.yaml"}, Values: map[string][]string{"endpoint": {"http://localhost:5000"}, "insecure": {"true"}}}
	tests := []struct {
		name   string
		policy AgentPolicy
		raw    map[string]string
		refuse []string // parameters refused
	}{
		{"plain", AgentPolicy{}, map[string]string{"url": "http://x/"}, nil},
		{"default insecure", AgentPolicy{}, map[string]string{"url": "http://x/", "insecure": "no"}, nil},
		{"contains never", policy, map[string]string{"url": "http://x/", "contains": "Secret"}, []string{"contains"}},
		{"endpoint by default", AgentPolicy{}, map[string]string{"endpoint": "http://localhost:5000"}, []string{"endpoint"}},
		{"endpoint allowed", policy, map[string]string{"endpoint": "http://localhost:5000"}, nil},
		{"other endpoint", policy, map[string]string{"endpoint": "http://evil.example"}, []string{"endpoint"}},
		{"insecure by default", AgentPolicy{}, map[string]string{"insecure": "true"}, []string{"insecure"}},
		{"insecure allowed, spelled yes", policy, map[string]string{"insecure": "yes"}, nil},
		{"all at once", AgentPolicy{}, map[string]string{"contains": "a", "endpoint": "http://e/", "insecure": "1"}, []string{"contains", "endpoint", "insecure"}},
	}
	for _, tt := range tests {
		params, err := spec.Bind(tt.raw, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		err = tt.policy.Admit(spec, params)
		var got []string
		for _, e := range unjoin(err) {
			var ae *AgentError
			if !errors.As(e, &ae) {
				t.Fatalf("%s: %v is not an AgentError", tt.name, e)
			}
			got = append(got, ae.Param)
		}
		if strings.Join(got, ",") != strings.Join(tt.refuse, ",") {
			t.Errorf("%s: refused %v, want %v (%v)", tt.name, got, tt.refuse, err)
		}
	}
	params, _ := spec.Bind(map[string]string{"endpoint": "http://evil.example", "contains": "x"}, nil)
	msg := policy.Admit(spec, params).Error()
	for _, want := range []string{`add "http://evil.example" to agents.params.endpoint in /cfg.yaml`, "contains= would reveal", "write the item in a heartbeat file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message does not say %q:\n%s", want, msg)
		}
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestConfiguredParams(t *testing.T) {
	r := NewRegistry()
	if err := r.AddCheck(fakeCheck{Spec{ID: "a.b", Params: []ParamSpec{{Name: "profile", Agent: AgentConfigured}, {Name: "contains", Agent: AgentRefused}}}}); err != nil {
		t.Fatal(err)
	}
	if got := r.ConfiguredParams(); strings.Join(got, ",") != "profile" {
		t.Errorf("ConfiguredParams = %v", got)
	}
}
