package aws

import (
	"net/url"
	"testing"

	"github.com/clankerd/clankerd/checks"
)

func TestPolicyNormalisation(t *testing.T) {
	digest := func(doc string) string {
		t.Helper()
		stmts, err := parsePolicy(doc)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		return documentDigest(stmts)
	}
	base := `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::b/*"},{"Effect":"Allow","Action":"sqs:SendMessage","Resource":["*"],"Condition":{"StringEquals":{"aws:SourceVpc":["vpc-2","vpc-1"]}}}]}`
	same := []string{
		// statements reordered, lists reordered, Sid changed, a one-element list as a string
		`{"Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpc":["vpc-1","vpc-2"]}}},{"Sid":"B","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]}]}`,
		// URL-encoded, as IAM returns documents
		url.PathEscape(base),
	}
	for _, doc := range same {
		if digest(doc) != digest(base) {
			t.Errorf("digest of %s differs from the same policy written otherwise", doc)
		}
	}
	wider := []string{
		`{"Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::b/*"},{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}`, // condition dropped
		`{"Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"arn:aws:s3:::b/*"},{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpc":["vpc-2","vpc-1"]}}}]}`,
	}
	for _, doc := range wider {
		if digest(doc) == digest(base) {
			t.Errorf("digest of %s is the base policy's", doc)
		}
	}
	stmts, _ := parsePolicy(base)
	if got := allowedActions(stmts); got != "s3:GetObject,s3:PutObject,sqs:SendMessage" {
		t.Errorf("allowedActions = %q", got)
	}
}

func TestPolicySeverity(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want checks.Severity
	}{
		{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, checks.Critical},
		{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b"}}`, checks.High},
		{`{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}`, checks.High},
		{`{"Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}}`, checks.High},
		{`{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`, checks.High},
		{`{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`, checks.Medium},
		{`{"Statement":{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}}`, checks.Low},
		{`{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`, checks.Low},
	} {
		stmts, err := parsePolicy(tc.doc)
		if err != nil {
			t.Fatal(err)
		}
		if got := policySeverity(stmts); got != tc.want {
			t.Errorf("policySeverity(%s) = %s, want %s", tc.doc, got, tc.want)
		}
	}
	for arn, want := range map[string]checks.Severity{
		"arn:aws:iam::aws:policy/AdministratorAccess":                checks.Critical,
		"arn:aws:iam::aws:policy/IAMFullAccess":                      checks.High,
		"arn:aws:iam::aws:policy/PowerUserAccess":                    checks.High,
		"arn:aws:iam::aws:policy/AmazonS3FullAccess":                 checks.Medium,
		"arn:aws:iam::aws:policy/job-function/ViewOnlyAccess":        checks.Low,
		"arn:aws:iam::aws:policy/service-role/AWSLambdaRole":         checks.Low,
		"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly": checks.Low,
	} {
		if got := managedSeverity(arn); got != want {
			t.Errorf("managedSeverity(%s) = %s, want %s", arn, got, want)
		}
	}
}

func TestTrustFacts(t *testing.T) {
	doc := `{"Statement":[
		{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole"},
		{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:role/ci","arn:aws:iam::999999999999:root"]},"Action":"sts:AssumeRole"},
		{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity",
		 "Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}},
		{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},
		{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}},
		{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::888888888888:root"},"Action":"sts:AssumeRole"}]}`
	fs, err := trustFacts("123456789012", "app", "arn:aws:iam::123456789012:role/app", doc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Key+" | "+string(f.Severity))
	}
	expect(t, "trust facts", got,
		"trusts ec2.amazonaws.com | low",
		"trusts lambda.amazonaws.com | low",
		"trusts arn:aws:iam::123456789012:role/ci | low",
		"trusts arn:aws:iam::999999999999:root | high",
		"trusts federated arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com if StringLike token.actions.githubusercontent.com:sub=repo:acme/* | medium",
		"trusts * | critical",
		"trusts * if StringEquals aws:PrincipalOrgID=o-1 | high",
	)
}
