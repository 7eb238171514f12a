//go:build !clankerd_noaws

package main

import (
	"path/filepath"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestAWSChangeTrackingThroughCLI is issue 15's AWS story through the binary on moto:
// the first run records the baseline; an SG rule opened to a partner's /24, a public
// bucket, an administrator policy attached to a user and a new access key are findings on
// the next run with their severity; reverting them resolves every one.
func TestAWSChangeTrackingThroughCLI(t *testing.T) {
	envs, ec, sg := motoWithGroup(t)
	ctx := t.Context()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithBaseEndpoint(envValue(envs, "AWS_ENDPOINT_URL")))
	if err != nil {
		t.Fatal(err)
	}
	im := iam.NewFromConfig(cfg)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := im.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: awssdk.String("shop-assets")}); err != nil {
		t.Fatal(err)
	}

	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, "---\naws_region: us-east-1\n---\n## Hourly\n- `aws.changes.exposure`\n- `aws.changes.access`\n")
	code, fs, notes := trackedFindings(t, envs, state, hb)
	if code != 0 || len(fs) != 0 {
		t.Fatalf("first run: exit %d, findings %v, want 0 and none (%v)", code, fs, notes)
	}

	rule := ec2types.IpPermission{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22),
		IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("203.0.113.0/24")}}}
	if _, err := ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{rule}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: awssdk.String("shop-assets"), ACL: s3types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	// moto serves AWS managed policies only when told to load them (slow): an
	// administrator policy of the account's own grants the same.
	pol, err := im.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: awssdk.String("admin-all"),
		PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	admin := pol.Policy.Arn
	if _, err := im.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: awssdk.String("alice"), PolicyArn: admin}); err != nil {
		t.Fatal(err)
	}
	key, err := im.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	code, fs, notes = trackedFindings(t, envs, state, hb)
	if code != 1 {
		t.Fatalf("after the changes: exit %d, want 1 (%v)", code, notes)
	}
	want := map[string]int{ // a part of the resource → the least severity
		awssdk.ToString(sg.GroupId): rank("medium"),
		"shop-assets":               rank("high"),
		"alice":                     rank("critical"), // * on *, with the new key on the same user
	}
	for part, atLeast := range want {
		found := false
		for res, f := range fs {
			if strings.Contains(res, part) {
				found = true
				if f.Problem != "beyond_baseline" || f.State != "new" || rank(f.Severity) < atLeast {
					t.Errorf("%s: %+v, want a new beyond_baseline finding at least %d", res, f, atLeast)
				}
			}
		}
		if !found {
			t.Errorf("no finding on a resource naming %s; findings %v", part, fs)
		}
	}

	// Revert everything: every finding resolves.
	if _, err := ec.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{rule}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: awssdk.String("shop-assets"), ACL: s3types.BucketCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	if _, err := im.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: awssdk.String("alice"), PolicyArn: admin}); err != nil {
		t.Fatal(err)
	}
	if _, err := im.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: awssdk.String("alice"), AccessKeyId: key.AccessKey.AccessKeyId}); err != nil {
		t.Fatal(err)
	}
	code, fs, notes = trackedFindings(t, envs, state, hb)
	for res, f := range fs {
		if f.State != "resolved" {
			t.Errorf("after reverting: %s is %+v, want resolved", res, f)
		}
	}
	if code != 0 || len(fs) == 0 {
		t.Errorf("after reverting: exit %d with findings %v, want 0 and the old ones resolved (%v)", code, fs, notes)
	}
}

// envValue is the value of name in a KEY=VALUE list.
func envValue(envs []string, name string) string {
	for _, e := range envs {
		if v, ok := strings.CutPrefix(e, name+"="); ok {
			return v
		}
	}
	return ""
}
