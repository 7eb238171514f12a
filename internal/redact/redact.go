// Package redact removes secrets from text before it leaves the process (to a model,
// a log line or an answer): AWS access key ids and secret keys, bearer tokens, private
// keys and certificates, kubeconfig credentials, password-like assignments and
// credentials in URLs.
package redact

import (
	"regexp"
)

// Mask replaces every secret.
const Mask = "[REDACTED]"

var patterns = []struct {
	re   *regexp.Regexp
	repl string
}{
	// PEM blocks: private keys, certificates.
	{regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]+-----.*?(-----END [A-Z0-9 ]+-----|$)`), Mask},
	// AWS access key ids.
	{regexp.MustCompile(`\b(AKIA|ASIA|AIDA|AROA|ANPA|AGPA)[0-9A-Z]{16}\b`), Mask},
	// Bearer and basic authorization.
	{regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}`), "$1 " + Mask},
	// kubeconfig and similar key: value credentials (YAML or JSON).
	{regexp.MustCompile(`(?i)("?(?:client-key-data|client-certificate-data|certificate-authority-data|token|id-token|refresh-token|access-token|password|passwd|secret|secret_access_key|aws_secret_access_key|aws_session_token|api[_-]?key|private[_-]?key)"?\s*[:=]\s*"?)([^\s",}]+)`), "${1}" + Mask},
	// Environment-style assignments whose name says secret.
	{regexp.MustCompile(`\b([A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|CREDENTIALS|PRIVATE_KEY)[A-Z0-9_]*)=(\S+)`), "${1}=" + Mask},
	// user:password@ in URLs.
	{regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@`), "${1}" + Mask + "@"},
	// JWTs.
	{regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b`), Mask},
	// 40-character AWS secret keys next to a word that says so.
	{regexp.MustCompile(`(?i)(secret[A-Za-z_]*[^A-Za-z0-9/+]{1,20})[A-Za-z0-9/+]{40}\b`), "${1}" + Mask},
}

// String returns s with every secret replaced by Mask.
func String(s string) string {
	for _, p := range patterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	return s
}

// secretKey matches map keys whose values are secrets whatever they look like.
var secretKey = regexp.MustCompile(`(?i)(password|passwd|secret|token|api[_-]?key|private[_-]?key|credential|authorization|cookie|client-key)`)

// SecretName reports whether a key or parameter name says its value is a secret
// (password, token, api_key, ...), whatever the value looks like.
func SecretName(name string) bool { return secretKey.MatchString(name) }

// Map returns a copy of m with secret values masked: every value whose key names a
// secret, and every secret found inside the other values.
func Map(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if SecretName(k) {
			out[k] = Mask
			continue
		}
		out[k] = String(v)
	}
	return out
}
