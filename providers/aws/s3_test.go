package aws

import (
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestS3Public(t *testing.T) {
	p, cfg := account(t, Options{})
	s := s3Client(cfg)
	ctx := t.Context()
	for _, b := range []string{"public-acl", "public-policy", "private", "conditional"} {
		if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: awssdk.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: awssdk.String("public-acl"), ACL: s3types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	policy := func(bucket, condition string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"Everyone","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + bucket + `/*"` + condition + `}]}`
	}
	if _, err := s.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: awssdk.String("public-policy"), Policy: awssdk.String(policy("public-policy", ""))}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: awssdk.String("conditional"), Policy: awssdk.String(policy("conditional", `,"Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`))}); err != nil {
		t.Fatal(err)
	}
	on := awssdk.Bool(true)
	if _, err := s.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: awssdk.String("private"), PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
		BlockPublicAcls: on, IgnorePublicAcls: on, BlockPublicPolicy: on, RestrictPublicBuckets: on}}); err != nil {
		t.Fatal(err)
	}

	expect(t, "aws.s3.public", found(t, p, "aws.s3.public", nil),
		"s3-account/123456789012 no_account_public_access_block medium",
		"arn:aws:s3:::public-acl public_acl high",
		"arn:aws:s3:::public-acl no_public_access_block medium",
		"arn:aws:s3:::public-policy public_policy critical",
		"arn:aws:s3:::public-policy no_public_access_block medium",
		"arn:aws:s3:::conditional no_public_access_block medium",
	)

	// The account-wide block neutralises public ACLs and policies and makes per-bucket
	// blocks unnecessary.
	blockAccount(t, p)
	expect(t, "aws.s3.public with the account block", found(t, p, "aws.s3.public", nil),
		"arn:aws:s3:::public-acl public_acl low",
		"arn:aws:s3:::public-policy public_policy low",
	)
}

func TestPublicStatements(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   []string
	}{
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}`, []string{"statement 1"}},
		{`{"Statement":{"Sid":"One","Effect":"Allow","Principal":{"AWS":"*"}}}`, []string{"One"}},
		{`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]}}]}`, []string{"statement 1"}},
		{`{"Statement":[{"Effect":"Deny","Principal":"*"}]}`, nil},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`, nil},
		{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"}}]}`, nil},
		{`not json`, nil},
	} {
		got := publicStatements(tc.policy)
		if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
			t.Errorf("publicStatements(%s) = %q, want %q", tc.policy, got, tc.want)
		}
	}
}
