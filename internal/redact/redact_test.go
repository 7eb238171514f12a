package redact

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ name, in, secret string }{
		{"aws key id", "used key AKIAIOSFODNN7EXAMPLE yesterday", "AKIAIOSFODNN7EXAMPLE"},
		{"aws secret", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		{"aws secret json", `{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		{"bearer", "Authorization: Bearer abcdef0123456789.xyz", "abcdef0123456789.xyz"},
		{"private key", "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n", "MIIEowIBAAKCAQEA"},
		{"certificate", "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----", "MIIDdzCCAl+gAwIBAgIE"},
		{"kubeconfig", "users:\n- name: admin\n  user:\n    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=\n    token: kubeadmtoken.abcdef", "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo="},
		{"kubeconfig token", "    token: kubeadmtoken.abcdef", "kubeadmtoken.abcdef"},
		{"env password", "DB_PASSWORD=hunter2hunter2 PORT=5432", "hunter2hunter2"},
		{"env token", "GITHUB_TOKEN=ghp_0123456789abcdef", "ghp_0123456789abcdef"},
		{"url credentials", "postgres://app:s3cr3t@db.internal:5432/app", "s3cr3t"},
		{"jwt", "id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "eyJzdWIiOiIxMjM0NTY3ODkwIn0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := String(tc.in)
			if strings.Contains(got, tc.secret) || !strings.Contains(got, Mask) {
				t.Errorf("String(%q) = %q", tc.in, got)
			}
		})
	}
	for _, clean := range []string{"pod api-7d9f in CrashLoopBackOff, 12 restarts", "security group sg-0123456789abcdef0 allows tcp 22 from 0.0.0.0/0", "https://example.com/healthz returned 503"} {
		if got := String(clean); got != clean {
			t.Errorf("String(%q) = %q: changed text without secrets", clean, got)
		}
	}
}

func TestMap(t *testing.T) {
	got := Map(map[string]string{"api_key": "plain", "image": "nginx:latest", "env": "API_TOKEN=abc123def"})
	if got["api_key"] != Mask || got["image"] != "nginx:latest" || strings.Contains(got["env"], "abc123def") {
		t.Errorf("Map = %v", got)
	}
}

func FuzzString(f *testing.F) {
	f.Add("AKIAIOSFODNN7EXAMPLE token: x -----BEGIN PRIVATE KEY-----")
	f.Fuzz(func(t *testing.T, s string) {
		once := String(s)
		if String(once) != once {
			t.Errorf("not idempotent: %q → %q → %q", s, once, String(once))
		}
	})
}
