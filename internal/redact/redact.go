// Package redact removes secrets from text before it leaves the process (to a model,
// a log line, an answer or a notification): cloud, code-hosting, chat, payment and
// SaaS tokens recognised by their shape, private keys, credentials in URLs, HTTP
// authorization and cookie headers, and the values of assignments whose name says
// secret (password, token, api_key, ...), quoted values with spaces included.
// internal/redact/redacttest holds the corpus of shapes the tests hold it to.
package redact

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Mask replaces every secret.
const Mask = "[REDACTED]"

// A pattern matches a secret in two groups: a prefix that is kept (a key, a URL
// scheme, an authorization scheme; often empty) and the value, which is masked.
// needs, when set, is a fact every match has, cheap to test on ASCII text: a text
// without it cannot match, so the expression is not run (most texts hold no secret,
// and running every expression over every text was most of an output's cost).
type pattern struct {
	re    *regexp.Regexp
	needs func(s string) bool
}

func p(expr string, needs func(string) bool) pattern {
	return pattern{regexp.MustCompile(expr), needs}
}

// anyOf is true for a text that holds one of the needles, as written.
func anyOf(needles ...string) func(string) bool {
	return func(s string) bool {
		for _, n := range needles {
			if strings.Contains(s, n) {
				return true
			}
		}
		return false
	}
}

// anyFold is anyOf ignoring ASCII case (for (?i) expressions; String uses it on ASCII
// text only, where that is exactly the expression's folding). Needles are lower case.
func anyFold(needles ...string) func(string) bool {
	return func(s string) bool {
		for _, n := range needles {
			if containsFoldASCII(s, n) {
				return true
			}
		}
		return false
	}
}

func containsFoldASCII(s, lower string) bool {
	for i := 0; i+len(lower) <= len(s); i++ {
		j := 0
		for ; j < len(lower); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				break
			}
		}
		if j == len(lower) {
			return true
		}
	}
	return false
}

// tokenRun is the shortest run of [A-Za-z0-9_-] every token shape holds (a JWT's
// first part: eyJ and 8 more).
const tokenRun = 11

// hasTokenRun is true for a text with tokenRun characters of [A-Za-z0-9_-] in a row.
func hasTokenRun(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' {
			if n++; n >= tokenRun {
				return true
			}
			continue
		}
		n = 0
	}
	return false
}

// value is an assignment's value: double-quoted (with backslash escapes), double-quoted
// inside a quoted string (\"...\", or \\\"...\\\" a level deeper, as an error that
// quotes JSON with %q writes it; replace finds where it ends), single-quoted, or a run
// of characters that ends where a value in YAML, JSON, logfmt, a query string or a
// connection string ends.
const value = `\\+"(?:[^"\\\n]|\\+[^"\\\n])*\\+"|"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s"',;}&]+`

// secretKeys are names whose value is a secret whatever it looks like.
const secretKeys = `client-key-data|client-certificate-data|certificate-authority-data|token|password|passwd|passphrase|secret|secret_?access_?key|aws_session_token|api[_-]?key|private[_-]?key|AccountKey|SharedAccessKey`

var patterns = []pattern{
	// PEM blocks: private keys, certificates; one cut short runs to the end.
	p(`()((?s)-----BEGIN [A-Z0-9 ]+-----.*?(?:-----END [A-Z0-9 ]+-----|$))`, anyOf("-----BEGIN ")),
	// Tokens whose shape says what they are.
	p(`()(\b(?:`+strings.Join([]string{
		`(?:AKIA|ASIA|AIDA|AROA|ANPA|AGPA)[0-9A-Z]{16}\b`,                    // AWS access key ids
		`gh[pousr]_[A-Za-z0-9]{30,}`,                                         // GitHub
		`github_pat_[A-Za-z0-9_]{22,}`,                                       // GitHub fine-grained
		`gl(?:pat|dt|rt|ptt|cbt|oas|soat|ffct|imt|agent)-[A-Za-z0-9_-]{20,}`, // GitLab
		`npm_[A-Za-z0-9]{30,}`,                                               // npm
		`pypi-Ag[A-Za-z0-9_-]{40,}`,                                          // PyPI
		`xox[abposer]-[A-Za-z0-9-]{10,}`,                                     // Slack
		`xapp-\d-[A-Za-z0-9-]{10,}`,                                          // Slack app-level
		`[sr]k_(?:live|test)_[A-Za-z0-9]{16,}`,                               // Stripe secret and restricted keys
		`whsec_[A-Za-z0-9]{16,}`,                                             // Stripe webhook secrets
		`AIza[0-9A-Za-z_-]{30,}`,                                             // Google API keys
		`GOCSPX-[A-Za-z0-9_-]{20,}`,                                          // Google OAuth client secrets
		`SK[0-9a-fA-F]{32}\b`,                                                // Twilio API keys
		`SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}`,                         // SendGrid
		`sk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}`,               // OpenAI, Anthropic
		`shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}`,                                 // Shopify
		`hv[sbr]\.[A-Za-z0-9_-]{20,}`,                                        // HashiCorp Vault
		`do[opr]_v1_[a-f0-9]{64}`,                                            // DigitalOcean
		`HRKU-[A-Za-z0-9_-]{20,}`,                                            // Heroku
		`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`,         // JWTs (Kubernetes service-account tokens among them)
	}, "|")+`))`, hasTokenRun),
	// Webhook URLs whose path is the secret.
	p(`(hooks\.slack\.com/(?:services|workflows|triggers)/)([A-Za-z0-9/_-]+)`, anyOf("hooks.slack.com/")),
	p(`(discord(?:app)?\.com/api/webhooks/)([0-9]+/[A-Za-z0-9_-]+)`, anyOf("discord")),
	// user:password@ in URLs (the user may be empty), and a long token as the user.
	p(`(?i)(\b[a-z][a-z0-9+.-]*://)([^/\s:@]*:[^/\s@]+)@`, anyOf("://")),
	p(`(?i)(\b[a-z][a-z0-9+.-]*://)([A-Za-z0-9_.~%-]{20,})@`, anyOf("://")),
	// HTTP authorization headers: the value after the scheme, to the end of the line.
	p(`(?i)(\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|digest|token|apikey|aws4-hmac-sha256|negotiate|ntlm|oauth|ssws|key)\s+)?)([^"'\n]+)`, anyFold("authorization")),
	// Cookie headers: every cookie.
	p(`(?i)(\b(?:set-)?cookie["']?\s*:\s*["']?)([^"'\n]+)`, anyFold("cookie")),
	// Bearer and basic credentials outside a header.
	p(`(?i)(\b(?:bearer|basic)\s+)([A-Za-z0-9._~+/=-]{8,})`, anyFold("bearer", "basic")),
	// Query parameters that carry credentials or signatures.
	p(`(?i)([?&;](?:x-amz-credential|x-amz-signature|x-amz-security-token|x-goog-credential|x-goog-signature|sig|signature|key|access_token|id_token|refresh_token|token|api_?key|client_secret|password)=)([^&#\s"']+)`, anyOf("=")),
	// A password written unquoted after a colon (YAML) may have spaces: the rest of the line.
	p(`(?i)((?:password|passwd|passphrase)["']?[ \t]*:[ \t]*)([^\s"'][^\n,;}]*)`, anyFold("pass")),
	// key: value and key=value credentials (YAML, JSON, logfmt, connection strings).
	p(`(?i)("?(?:`+secretKeys+`)\\*["']?\s*[:=]\s*)(`+value+`)`, anyOf(":", "=")),
	// Environment-style assignments whose name says secret.
	p(`(\b[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|CREDENTIALS|PRIVATE_KEY)[A-Z0-9_]*=)(`+value+`)`, anyOf("=")),
	// Command-line flags whose name says secret, with = or a space.
	p(`(--(?:[a-z0-9]+-)*(?:token|password|passwd|secret|api-key|apikey)[= ])(`+value+`)`, anyOf("--")),
	// 40-character AWS secret keys next to a word that says so.
	p(`(?i)(secret[A-Za-z_]*[^A-Za-z0-9/+]{1,20})([A-Za-z0-9/+]{40})\b`, anyFold("secret")),
}

// String returns s with every secret replaced by Mask.
func String(s string) string {
	// Masking only removes text and adds ASCII, so ASCII text stays ASCII.
	ascii := isASCII(s)
	for _, p := range patterns {
		if ascii && p.needs != nil && !p.needs(s) {
			continue
		}
		s = p.replace(s)
	}
	return s
}

// everyPattern is String without the needs tests: what they must never change.
func everyPattern(s string) string {
	for _, p := range patterns {
		s = p.replace(s)
	}
	return s
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// replace masks the value of every match, keeping its prefix and its quotes.
func (p pattern) replace(s string) string {
	ms := p.re.FindAllStringSubmatchIndex(s, -1)
	if ms == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		if m[2] < last {
			continue // inside the quoted value before
		}
		end := quotedEnd(s, m[4], m[5])
		b.WriteString(s[last:m[3]])
		b.WriteString(masked(s[m[4]:end]))
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// quotedEnd is where the value at s[start:end] ends. For a value opened by n
// backslashes and a quote, that is after the first quote with exactly n backslashes
// before it on the same line: a quote with more is a quote inside the value.
func quotedEnd(s string, start, end int) int {
	open := strings.IndexByte(s[start:end], '"') + 1
	if s[start] != '\\' || open <= 0 {
		return end
	}
	n := open - 1
	run := 0
	for i := start + open; i < len(s) && s[i] != '\n'; i++ {
		switch {
		case s[i] == '\\':
			run++
		case s[i] == '"' && run == n:
			return i + 1
		default:
			run = 0
		}
	}
	return end
}

// masked is Mask in the quotes v was written in (a quote, or backslashes and a quote).
func masked(v string) string {
	if q := strings.IndexByte(v, '"') + 1; q > 0 && strings.Trim(v[:q-1], `\`) == "" && len(v) >= 2*q && strings.HasSuffix(v, v[:q]) {
		return v[:q] + Mask + v[:q]
	}
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return "'" + Mask + "'"
	}
	return Mask
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
