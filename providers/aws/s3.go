package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3controltypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/clankerd/clankerd/checks"
)

// Public grantee groups of S3 ACLs.
const (
	allUsersURI  = "http://acs.amazonaws.com/groups/global/AllUsers"
	authUsersURI = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
)

func (c *conn) s3(region string) *s3.Client {
	return s3.NewFromConfig(c.cfg, func(o *s3.Options) {
		o.Region = region
		o.UsePathStyle = c.custom
	})
}

// s3control sends account-level S3 calls. AWS puts the account id in front of the
// host name; an endpoint override (moto, localstack) gets the calls at its own host.
func (c *conn) s3control(region string) *s3control.Client {
	return s3control.NewFromConfig(c.cfg, func(o *s3control.Options) {
		o.Region = region
		if c.custom {
			if u, err := url.Parse(awssdk.ToString(c.cfg.BaseEndpoint)); err == nil {
				o.EndpointResolverV2 = fixedEndpoint{*u}
			}
			o.APIOptions = append(o.APIOptions, noHostPrefix)
		}
	})
}

type fixedEndpoint struct{ u url.URL }

func (f fixedEndpoint) ResolveEndpoint(context.Context, s3control.EndpointParameters) (smithyendpoints.Endpoint, error) {
	return smithyendpoints.Endpoint{URI: f.u}, nil
}

func noHostPrefix(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("clankerdNoHostPrefix",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
		}), middleware.Before)
}

// block is a public access block configuration; nil fields mean none is configured.
type block struct {
	configured                                                            bool
	blockPublicAcls, ignorePublicAcls, blockPublicPolicy, restrictBuckets bool
}

func (b block) full() bool {
	return b.configured && b.blockPublicAcls && b.ignorePublicAcls && b.blockPublicPolicy && b.restrictBuckets
}

func (b block) String() string {
	if !b.configured {
		return "none"
	}
	return fmt.Sprintf("BlockPublicAcls=%t IgnorePublicAcls=%t BlockPublicPolicy=%t RestrictPublicBuckets=%t",
		b.blockPublicAcls, b.ignorePublicAcls, b.blockPublicPolicy, b.restrictBuckets)
}

// bucket is what the S3 checks know of one bucket.
type bucket struct {
	name, region string
	aclGrants    []string // public groups granted something: "AllUsers:READ"
	policyPublic []string // statement ids (or indexes) that allow Principal * without conditions
	policy       string   // the bucket policy as S3 returned it, "" without one
	block        block
}

// buckets lists the account's buckets with their ACL, policy and public access
// block. S3 has no describe-all: these are one list and three reads per bucket, run
// eight at a time.
func (c *conn) buckets(ctx context.Context) ([]bucket, error) {
	return checks.Memo(ctx, c.memoKey("", "buckets"), func(ctx context.Context) ([]bucket, error) {
		home := defaultRegion(c)
		list, err := c.s3(home).ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			return nil, c.apiError("s3:ListAllMyBuckets", "", err)
		}
		out, err := fanOut(list.Buckets, 8, func(b s3types.Bucket) (bucket, error) {
			return c.readBucket(ctx, awssdk.ToString(b.Name), awssdk.ToString(b.BucketRegion))
		})
		if err != nil {
			return nil, err
		}
		sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
		return out, nil
	})
}

func (c *conn) readBucket(ctx context.Context, name, region string) (bucket, error) {
	b := bucket{name: name, region: region}
	if b.region == "" {
		loc, err := c.s3(defaultRegion(c)).GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: &name})
		if err != nil {
			return b, c.apiError("s3:GetBucketLocation", "", fmt.Errorf("bucket %s: %w", name, err))
		}
		b.region = string(loc.LocationConstraint)
		if b.region == "" {
			b.region = "us-east-1"
		}
	}
	client := c.s3(b.region)
	acl, err := client.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: &name})
	if err != nil {
		return b, c.apiError("s3:GetBucketAcl", b.region, fmt.Errorf("bucket %s: %w", name, err))
	}
	for _, g := range acl.Grants {
		if g.Grantee == nil {
			continue
		}
		switch awssdk.ToString(g.Grantee.URI) {
		case allUsersURI:
			b.aclGrants = append(b.aclGrants, "AllUsers:"+string(g.Permission))
		case authUsersURI:
			b.aclGrants = append(b.aclGrants, "AuthenticatedUsers:"+string(g.Permission))
		}
	}
	pol, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &name})
	switch {
	case errorCode(err) == "NoSuchBucketPolicy":
	case err != nil:
		return b, c.apiError("s3:GetBucketPolicy", b.region, fmt.Errorf("bucket %s: %w", name, err))
	default:
		b.policy = awssdk.ToString(pol.Policy)
		b.policyPublic = publicStatements(b.policy)
	}
	pab, err := client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &name})
	switch {
	case errorCode(err) == "NoSuchPublicAccessBlockConfiguration":
	case err != nil:
		return b, c.apiError("s3:GetBucketPublicAccessBlock", b.region, fmt.Errorf("bucket %s: %w", name, err))
	default:
		b.block = bucketBlock(pab.PublicAccessBlockConfiguration)
	}
	return b, nil
}

func bucketBlock(cfg *s3types.PublicAccessBlockConfiguration) block {
	if cfg == nil {
		return block{}
	}
	return block{true, awssdk.ToBool(cfg.BlockPublicAcls), awssdk.ToBool(cfg.IgnorePublicAcls), awssdk.ToBool(cfg.BlockPublicPolicy), awssdk.ToBool(cfg.RestrictPublicBuckets)}
}

// accountBlock reads the account-wide S3 public access block.
func (c *conn) accountBlock(ctx context.Context) (block, error) {
	return checks.Memo(ctx, c.memoKey("", "account-public-access-block"), func(ctx context.Context) (block, error) {
		account, err := c.accountID(ctx)
		if err != nil {
			return block{}, err
		}
		out, err := c.s3control(defaultRegion(c)).GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: &account})
		switch {
		case errorCode(err) == "NoSuchPublicAccessBlockConfiguration":
			return block{}, nil
		case err != nil:
			return block{}, c.apiError("s3:GetAccountPublicAccessBlock", "", err)
		}
		return controlBlock(out.PublicAccessBlockConfiguration), nil
	})
}

func controlBlock(cfg *s3controltypes.PublicAccessBlockConfiguration) block {
	if cfg == nil {
		return block{}
	}
	return block{true, awssdk.ToBool(cfg.BlockPublicAcls), awssdk.ToBool(cfg.IgnorePublicAcls), awssdk.ToBool(cfg.BlockPublicPolicy), awssdk.ToBool(cfg.RestrictPublicBuckets)}
}

// publicStatements names the Allow statements of a bucket policy whose principal is
// everyone and that carry no condition. A policy that does not parse is reported as
// such, since S3 would not have accepted it.
func publicStatements(policy string) []string {
	var doc struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return nil
	}
	type statement struct {
		Sid       string
		Effect    string
		Principal json.RawMessage
		Condition json.RawMessage
	}
	var stmts []statement
	if err := json.Unmarshal(doc.Statement, &stmts); err != nil {
		var one statement
		if json.Unmarshal(doc.Statement, &one) != nil {
			return nil
		}
		stmts = []statement{one}
	}
	var out []string
	for i, s := range stmts {
		if s.Effect != "Allow" || !everyone(s.Principal) || (len(s.Condition) > 0 && string(s.Condition) != "{}" && string(s.Condition) != "null") {
			continue
		}
		id := s.Sid
		if id == "" {
			id = fmt.Sprintf("statement %d", i+1)
		}
		out = append(out, id)
	}
	return out
}

// everyone reports whether a policy principal is "*" or {"AWS": "*"} (or a list
// holding "*").
func everyone(p json.RawMessage) bool {
	var s string
	if json.Unmarshal(p, &s) == nil {
		return s == "*"
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(p, &m) != nil {
		return false
	}
	aws, ok := m["AWS"]
	if !ok {
		return false
	}
	if json.Unmarshal(aws, &s) == nil {
		return s == "*"
	}
	var list []string
	if json.Unmarshal(aws, &list) == nil {
		for _, v := range list {
			if v == "*" {
				return true
			}
		}
	}
	return false
}

// s3State is the account id, its public access block and its buckets.
func (c *conn) s3State(ctx context.Context) (string, block, []bucket, error) {
	acct, err := c.accountBlock(ctx)
	if err != nil {
		return "", block{}, nil, err
	}
	bs, err := c.buckets(ctx)
	if err != nil {
		return "", block{}, nil, err
	}
	account, _ := c.accountID(ctx) // read by accountBlock
	return account, acct, bs, nil
}

func (p *Provider) s3Public(ctx context.Context, c *conn, params checks.Params) ([]checks.Finding, error) {
	account, acct, bs, err := c.s3State(ctx)
	if err != nil {
		return nil, err
	}
	var out []checks.Finding
	if !acct.full() {
		out = append(out, checks.Finding{
			Resource: "s3-account/" + account,
			Problem:  "no_account_public_access_block",
			Severity: checks.Medium,
			Summary:  "the account-wide S3 public access block is not fully on: any bucket can be made public by an ACL or policy",
			Evidence: map[string]string{"account_block": acct.String()},
			Fix:      fmt.Sprintf("`aws s3control put-public-access-block --account-id %s --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true` unless a bucket must be public", account),
		})
	}
	for _, b := range bs {
		arn := "arn:aws:s3:::" + b.name
		ev := func() map[string]string {
			return map[string]string{"bucket": b.name, "region": b.region, "bucket_block": b.block.String(), "account_block": acct.String()}
		}
		aclsIgnored := acct.ignorePublicAcls || b.block.ignorePublicAcls
		policyRestricted := acct.restrictBuckets || b.block.restrictBuckets
		if len(b.aclGrants) > 0 {
			f := checks.Finding{Resource: arn, Problem: "public_acl", Severity: checks.High,
				Summary: fmt.Sprintf("bucket %s's ACL grants %s", b.name, strings.Join(b.aclGrants, ", ")),
				Fix:     fmt.Sprintf("`aws s3api put-bucket-acl --bucket %s --acl private`, or queue `aws.s3.block_public bucket=%s`", b.name, b.name)}
			f.Evidence = ev()
			f.Evidence["grants"] = strings.Join(b.aclGrants, ",")
			if aclsIgnored {
				f.Severity = checks.Low
				f.Summary += ", neutralised by a public access block (IgnorePublicAcls)"
			}
			out = append(out, f)
		}
		if len(b.policyPublic) > 0 {
			f := checks.Finding{Resource: arn, Problem: "public_policy", Severity: checks.Critical,
				Summary: fmt.Sprintf("bucket %s's policy allows everyone (Principal *) without conditions in %s", b.name, strings.Join(b.policyPublic, ", ")),
				Fix:     fmt.Sprintf("narrow the principal or add a condition in the bucket policy, or queue `aws.s3.block_public bucket=%s`", b.name)}
			f.Evidence = ev()
			f.Evidence["statements"] = strings.Join(b.policyPublic, ",")
			if policyRestricted {
				f.Severity = checks.Low
				f.Summary += ", neutralised by a public access block (RestrictPublicBuckets)"
			}
			out = append(out, f)
		}
		if !b.block.full() && !acct.full() {
			f := checks.Finding{Resource: arn, Problem: "no_public_access_block", Severity: checks.Medium,
				Summary: fmt.Sprintf("bucket %s has no full public access block and the account has none either", b.name),
				Fix:     fmt.Sprintf("queue `aws.s3.block_public bucket=%s`, or turn on the account-wide block", b.name)}
			f.Evidence = ev()
			out = append(out, f)
		}
	}
	return out, nil
}
