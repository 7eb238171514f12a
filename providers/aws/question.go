package aws

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/clankerd/clankerd/checks"
)

// The words questions use for AWS: the profiles that exist and the parameters a
// question gives.
var (
	_ checks.Vocabulary = (*Provider)(nil)
	_ checks.Extractor  = (*Provider)(nil)
)

// What AWS ids and rule parts look like in a question. The ids are stricter than the
// validators (sgIDRE, instanceIDRE): a word is taken only when it looks like a real id.
var (
	instanceWord = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)
	groupWord    = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	cidrWord     = regexp.MustCompile(`^[0-9a-f.:]+/\d{1,3}$`)
	portNumber   = regexp.MustCompile(`\bport\s+(\d{1,5})\b`)
)

// servicePorts are the ports of services people name instead of numbers.
var servicePorts = map[string]string{
	"ssh": "22", "rdp": "3389", "http": "80", "https": "443", "mysql": "3306", "postgres": "5432",
	"postgresql": "5432", "redis": "6379", "mongodb": "27017", "smtp": "25",
}

// anyoneWords say that a rule's source is anyone: "the open ssh rule".
var anyoneWords = []string{"open", "world", "internet", "anywhere", "public"}

// Names lists the profiles of the shared config and credentials files, so that a
// question naming one can be routed to it, and "credentials": "environment" when
// AWS_ACCESS_KEY_ID is set, so that a router sees AWS configured without a profile.
func (p *Provider) Names(context.Context) map[string][]string {
	files := []string{config.DefaultSharedConfigFilename(), config.DefaultSharedCredentialsFilename()}
	if f := os.Getenv("AWS_CONFIG_FILE"); f != "" {
		files[0] = f
	}
	if f := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
		files[1] = f
	}
	seen := map[string]bool{}
	var profiles []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "[") || !strings.HasSuffix(line, "]") {
				continue
			}
			name := strings.TrimSpace(strings.TrimPrefix(strings.Trim(line, "[]"), "profile "))
			if name != "" && !strings.HasPrefix(name, "sso-session") && !seen[name] {
				seen[name] = true
				profiles = append(profiles, name)
			}
		}
	}
	out := map[string][]string{"profile": profiles}
	if os.Getenv("AWS_ACCESS_KEY_ID") != "" {
		out["credentials"] = []string{"environment"}
	}
	return out
}

// Extract takes the parameters of the AWS checks and tasks from a question: a profile
// that exists, "production" for the one profile named like it, regions or "all
// regions", instance and security group ids, a security-group rule, and the Auto
// Scaling group, bucket, ECS service and cluster named after their nouns.
func (p *Provider) Extract(q checks.Question, spec checks.Spec, names map[string][]string) []checks.Proposal {
	e := checks.NewExtraction(spec)
	e.Set("profile", q.Name(names["profile"]), "an AWS profile")
	e.Set("profile", q.Production(names["profile"]), `"production"`)
	setRegions(e, q)
	for _, w := range q.Words {
		switch {
		case instanceWord.MatchString(w):
			e.Set("instance", w, "the question")
		case groupWord.MatchString(w):
			e.Set("group", w, "the question")
		}
	}
	if e.Declares("protocol") {
		setRule(e, q)
	}
	e.Set("asg", q.After([]string{"group", "asg"}, "group"), "the question")
	e.Set("bucket", q.After([]string{"bucket"}), "the question")
	e.Set("service", q.After([]string{"service"}), "the question")
	e.Set("cluster", q.After([]string{"cluster"}), "the question")
	return e.Proposals()
}

// setRegions takes "all regions", one region for a check that takes one, or the
// regions the question names.
func setRegions(e *checks.Extraction, q checks.Question) {
	var regions []string
	for _, w := range q.Words {
		if regionRE.MatchString(w) && !slices.Contains(regions, w) {
			regions = append(regions, w)
		}
	}
	switch {
	case strings.Contains(q.Lower, "all regions") || strings.Contains(q.Lower, "every region"):
		e.Set("regions", "all", `"all regions"`)
	case len(regions) == 1 && e.Declares("region"):
		e.Set("region", regions[0], "the question")
	case len(regions) > 0:
		e.Set("regions", strings.Join(regions, ","), "the question")
	}
}

// setRule takes a security-group rule: the protocol and ports from a service name
// ("ssh") or "port N", the source from a CIDR or a word such as "world".
func setRule(e *checks.Extraction, q checks.Question) {
	for _, w := range q.Words {
		if port, ok := servicePorts[w]; ok {
			e.Set("protocol", "tcp", strconv.Quote(w))
			e.Set("ports", port, strconv.Quote(w))
		}
		if cidrWord.MatchString(w) {
			e.Set("cidr", w, "the question")
		}
	}
	if m := portNumber.FindStringSubmatch(q.Lower); m != nil {
		e.Set("protocol", "tcp", "port "+m[1])
		e.Set("ports", m[1], "port "+m[1])
	}
	for _, w := range anyoneWords {
		if q.Mentions(w) {
			e.Set("cidr", "0.0.0.0/0", strconv.Quote(w))
		}
	}
}

// Owns reports whether check is one of the provider's: a question about a category
// ("anything exposed?") runs it only when a profile or credentials are configured.
func (p *Provider) Owns(check string) bool { return strings.HasPrefix(check, "aws.") }
