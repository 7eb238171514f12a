package aws

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// writeActions are the calls that change something; everything else the provider
// calls is a read.
var writeActions = []string{
	"autoscaling:SetDesiredCapacity", "ecs:UpdateService", "ec2:RevokeSecurityGroupIngress",
	"ec2:StopInstances", "s3:PutBucketPublicAccessBlock",
}

func policyActions(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "contrib", "aws", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Effect   string
			Action   []string
			Resource string
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []string
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			t.Errorf("%s: statement with effect %s", name, s.Effect)
		}
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %s: least privilege names each action", name, a)
			}
		}
		out = append(out, s.Action...)
	}
	return out
}

// TestPoliciesCoverEveryCall reads the IAM actions the provider names when it calls
// AWS and checks that the documented read-only policy grants every read, the write
// policy every write, and that the read policy grants no write.
func TestPoliciesCoverEveryCall(t *testing.T) {
	read, write := policyActions(t, "clankerd-read.json"), policyActions(t, "clankerd-write.json")
	files, _ := filepath.Glob("*.go")
	action := regexp.MustCompile(`(?:apiError\(|paginate\(ctx, c, )"([a-z0-9]+:[A-Za-z]+)"`)
	var used []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range action.FindAllStringSubmatch(string(b), -1) {
			used = append(used, m[1])
		}
	}
	if len(used) < 25 {
		t.Fatalf("found only %d calls: %v", len(used), used)
	}
	for _, a := range used {
		switch {
		case a == "sts:GetCallerIdentity": // needs no permission
		case slices.Contains(writeActions, a):
			if !slices.Contains(write, a) {
				t.Errorf("contrib/aws/clankerd-write.json lacks %s", a)
			}
		case !slices.Contains(read, a):
			t.Errorf("contrib/aws/clankerd-read.json lacks %s", a)
		}
	}
	for _, a := range read {
		if slices.Contains(writeActions, a) {
			t.Errorf("the read-only policy grants the write %s", a)
		}
	}
	for _, a := range write {
		if !slices.Contains(writeActions, a) {
			t.Errorf("the write policy grants %s, which no task needs", a)
		}
	}
}
