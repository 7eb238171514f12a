package aws

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/awstest"
)

// facts runs a change-tracking check and returns its facts as sorted
// "resource | key | severity".
func facts(t *testing.T, p *Provider, id string, raw map[string]string) []string {
	t.Helper()
	return factsAt(t, p, moto.URL, id, raw)
}

func factsAt(t *testing.T, p *Provider, endpoint, id string, raw map[string]string) []string {
	t.Helper()
	res, err := runAt(t, p, endpoint, id, raw)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	if res.Inventory == nil || len(res.Findings) > 0 {
		t.Fatalf("%s returned findings %v and inventory %v: a change-tracking check returns only facts", id, res.Findings, res.Inventory)
	}
	var out []string
	for _, f := range res.Inventory.Facts {
		if f.Summary == "" {
			t.Errorf("%s: fact without a summary: %+v", id, f)
		}
		if f.Severity.Rank() > checks.Info.Rank() && f.Fix == "" {
			t.Errorf("%s: fact without a fix hint: %+v", id, f)
		}
		out = append(out, f.Resource+" | "+f.Key+" | "+string(f.Severity))
	}
	if !slices.IsSorted(out) {
		t.Errorf("%s: facts are not sorted: %q", id, out)
	}
	return out
}

// added is what after holds that before does not.
func added(before, after []string) []string {
	var out []string
	for _, f := range after {
		if !slices.Contains(before, f) {
			out = append(out, f)
		}
	}
	return out
}

// change applies a change, checks that exactly want appeared and nothing went,
// reverts it and checks that the facts are back to before.
func change(t *testing.T, name string, before func() []string, apply, revert func(), want ...string) {
	t.Helper()
	base := before()
	apply()
	after := before()
	expect(t, name+": new facts", added(base, after), want...)
	expect(t, name+": facts gone", added(after, base))
	revert()
	expect(t, name+" reverted", before(), base...)
}

func TestExposureFacts(t *testing.T) {
	p, cfg := account(t, Options{})
	ctx := t.Context()
	ec := ec2Client(cfg)
	vpc := must[*ec2.CreateVpcOutput](t)(ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: awssdk.String("10.1.0.0/16")}))
	sg := must[*ec2.CreateSecurityGroupOutput](t)(ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("web"), Description: awssdk.String("web"), VpcId: vpc.Vpc.VpcId}))
	app := must[*ec2.CreateSecurityGroupOutput](t)(ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("app"), Description: awssdk.String("app"), VpcId: vpc.Vpc.VpcId}))
	webID, appID := awssdk.ToString(sg.GroupId), awssdk.ToString(app.GroupId)
	rule := func(from, to int32, cidr string) ec2types.IpPermission {
		p := ec2types.IpPermission{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(from), ToPort: awssdk.Int32(to)}
		if strings.Contains(cidr, ":") {
			p.Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: awssdk.String(cidr)}}
		} else {
			p.IpRanges = []ec2types.IpRange{{CidrIp: awssdk.String(cidr)}}
		}
		return p
	}
	authorize := func(group *string, perms ...ec2types.IpPermission) {
		t.Helper()
		if _, err := ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: group, IpPermissions: perms}); err != nil {
			t.Fatal(err)
		}
	}
	revoke := func(group *string, perms ...ec2types.IpPermission) {
		t.Helper()
		if _, err := ec.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: group, IpPermissions: perms}); err != nil {
			t.Fatal(err)
		}
	}
	authorize(sg.GroupId,
		rule(443, 443, "0.0.0.0/0"),
		rule(443, 443, "::/0"),
		rule(8000, 8100, "198.51.100.0/24"),
		rule(5432, 5432, "10.1.2.0/24"), // inside the VPC: internal
		rule(9000, 9000, "10.9.0.0/16"), // private, outside the VPC (peering): low
	)
	// app takes traffic from web only: a group reference is internal.
	authorize(app.GroupId, ec2types.IpPermission{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(8080), ToPort: awssdk.Int32(8080),
		UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: sg.GroupId}}})

	// A bucket behind its own full block, in an account without one.
	s := s3Client(cfg)
	if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: awssdk.String("site")}); err != nil {
		t.Fatal(err)
	}
	on := awssdk.Bool(true)
	fullBlock := func() {
		t.Helper()
		if _, err := s.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: awssdk.String("site"), PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls: on, IgnorePublicAcls: on, BlockPublicPolicy: on, RestrictPublicBuckets: on}}); err != nil {
			t.Fatal(err)
		}
	}
	fullBlock()

	// A private database and an internet-facing load balancer with an HTTP listener.
	r := rds.NewFromConfig(cfg)
	if _, err := r.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: awssdk.String("orders"), DBInstanceClass: awssdk.String("db.t3.micro"),
		Engine: awssdk.String("postgres"), MasterUsername: awssdk.String("admin"), MasterUserPassword: awssdk.String("secret-password"),
		AllocatedStorage: awssdk.Int32(20), PubliclyAccessible: awssdk.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	tgARN, lbARN := targetGroup(t, cfg, "shop")

	exposure := func() []string { return facts(t, p, "aws.changes.exposure", nil) }
	const acct = "s3-account/123456789012"
	webRes := "security-group/us-east-1/" + webID
	expect(t, "aws.changes.exposure", exposure(),
		acct+" | public access block off: BlockPublicAcls | low",
		acct+" | public access block off: BlockPublicPolicy | low",
		acct+" | public access block off: IgnorePublicAcls | low",
		acct+" | public access block off: RestrictPublicBuckets | low",
		lbARN+" | internet-facing HTTP 80 | high",
		webRes+" | 443/tcp from 0.0.0.0/0 | medium",
		webRes+" | 443/tcp from ::/0 | medium",
		webRes+" | 8000-8100/tcp from 198.51.100.0/24 | medium",
		webRes+" | 9000/tcp from 10.9.0.0/16 | low",
	)
	// Nothing changed: the same facts, in the same order.
	first, second := exposure(), exposure()
	expect(t, "aws.changes.exposure again", second, first...)
	// baseline=empty is passed on to the store with the same facts.
	for raw, want := range map[string]bool{"record": false, "empty": true} {
		res, err := run(t, p, "aws.changes.exposure", map[string]string{"baseline": raw})
		if err != nil || res.Inventory == nil || res.Inventory.FromEmpty != want || len(res.Inventory.Facts) != len(first) {
			t.Errorf("baseline=%s: %v, inventory %+v", raw, err, res.Inventory)
		}
	}

	// Each change is exactly its facts, and reverting it takes them away.
	partner := rule(22, 22, "203.0.113.0/24")
	change(t, "SG rule to a partner", exposure,
		func() { authorize(sg.GroupId, partner) }, func() { revoke(sg.GroupId, partner) },
		webRes+" | 22/tcp from 203.0.113.0/24 | medium")
	world := rule(22, 22, "0.0.0.0/0")
	change(t, "SSH to the world", exposure,
		func() { authorize(sg.GroupId, world) }, func() { revoke(sg.GroupId, world) },
		webRes+" | 22/tcp from 0.0.0.0/0 | critical")
	internal := rule(6379, 6379, "10.1.0.0/20")
	change(t, "a rule inside the VPC", exposure,
		func() { authorize(sg.GroupId, internal) }, func() { revoke(sg.GroupId, internal) })
	everything := ec2types.IpPermission{IpProtocol: awssdk.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}
	change(t, "all traffic", exposure,
		func() { authorize(app.GroupId, everything) }, func() { revoke(app.GroupId, everything) },
		"security-group/us-east-1/"+appID+" | all traffic from 0.0.0.0/0 | critical")

	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"Public","Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:GetObjectVersion"],"Resource":"arn:aws:s3:::site/*"}]}`
	site := "arn:aws:s3:::site"
	// makePublic drops the bucket's block and gives everyone read access by ACL and
	// policy.
	makePublic := func() {
		t.Helper()
		if _, err := s.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: awssdk.String("site")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: awssdk.String("site"), ACL: s3types.BucketCannedACLPublicRead}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: awssdk.String("site"), Policy: awssdk.String(policy)}); err != nil {
			t.Fatal(err)
		}
	}
	change(t, "public bucket", exposure, makePublic,
		func() {
			if _, err := s.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: awssdk.String("site"), ACL: s3types.BucketCannedACLPrivate}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: awssdk.String("site")}); err != nil {
				t.Fatal(err)
			}
			fullBlock()
		},
		site+" | acl READ to AllUsers | high",
		site+" | policy allows s3:GetObject,s3:GetObjectVersion on arn:aws:s3:::site/* to * | critical",
		site+" | public access block off: BlockPublicAcls | low",
		site+" | public access block off: BlockPublicPolicy | low",
		site+" | public access block off: IgnorePublicAcls | low",
		site+" | public access block off: RestrictPublicBuckets | low",
	)

	public := func(on bool) func() {
		return func() {
			if _, err := r.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: awssdk.String("orders"), PubliclyAccessible: awssdk.Bool(on), ApplyImmediately: awssdk.Bool(true)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	change(t, "public database", exposure, public(true), public(false),
		"arn:aws:rds:us-east-1:123456789012:db:orders | publicly accessible on port 5432 | high")

	var listener *string
	lb := elbv2.NewFromConfig(cfg)
	change(t, "second listener", exposure,
		func() {
			l := must[*elbv2.CreateListenerOutput](t)(lb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: &lbARN, Protocol: elbtypes.ProtocolEnumHttp, Port: awssdk.Int32(8443),
				DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &tgARN}}}))
			listener = l.Listeners[0].ListenerArn
		},
		func() {
			if _, err := lb.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: listener}); err != nil {
				t.Fatal(err)
			}
		},
		lbARN+" | internet-facing HTTP 8443 | high")

	// With the account-wide block on, its flags are no facts, and a public ACL and
	// policy are facts that say they are neutralised: turning the block off makes them
	// new, more severe facts.
	blockAccount(t, p)
	blocked := exposure()
	expect(t, "account block on", added(blocked, first), acct+" | public access block off: BlockPublicAcls | low",
		acct+" | public access block off: BlockPublicPolicy | low", acct+" | public access block off: IgnorePublicAcls | low",
		acct+" | public access block off: RestrictPublicBuckets | low")
	makePublic()
	expect(t, "public bucket behind the account block", added(blocked, exposure()),
		site+" | acl READ to AllUsers (ignored: IgnorePublicAcls) | low",
		site+" | policy allows s3:GetObject,s3:GetObjectVersion on arn:aws:s3:::site/* to * (restricted: RestrictPublicBuckets) | low")
}

// managedPolicies starts a moto_server of the test's own that knows AWS managed
// policies (AdministratorAccess): loading them makes every IAM reset of the shared
// server almost a second slower, so only this test pays for it.
func managedPolicies(t *testing.T) (*Provider, awssdk.Config, string) {
	t.Helper()
	awstest.Require(t, moto, motoReason)
	t.Setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
	m, err := awstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithBaseEndpoint(m.URL), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{MaxAttempts: 1}), cfg, m.URL
}

func TestAccessFacts(t *testing.T) {
	p, cfg, endpoint := managedPolicies(t)
	ctx := t.Context()
	c := iam.NewFromConfig(cfg)
	ok := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ok(c.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("alice")}))
	ok(c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: awssdk.String("alice"), Password: awssdk.String("Correct-Horse-9")}))
	ok(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: awssdk.String("devs")}))
	ok(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: awssdk.String("devs"), UserName: awssdk.String("alice")}))
	ok(c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: awssdk.String("devs"), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}))
	ci := must[*iam.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: awssdk.String("ci"),
		PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::artifacts/*"}]}`)}))
	ok(c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: awssdk.String("devs"), PolicyArn: ci.Policy.Arn}))
	trust := func(principals ...string) *string {
		return awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}` +
			strings.Join(principals, "") + `]}`)
	}
	ok(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("app"), AssumeRolePolicyDocument: trust()}))
	ok(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String("app"), PolicyName: awssdk.String("queue"),
		PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":{"Sid":"Q","Effect":"Allow","Action":"sqs:*","Resource":"*"}}`)}))

	access := func() []string { return factsAt(t, p, endpoint, "aws.changes.access", nil) }
	const (
		alice = "arn:aws:iam::123456789012:user/alice"
		devs  = "arn:aws:iam::123456789012:group/devs"
		role  = "arn:aws:iam::123456789012:role/app"
	)
	got := access()
	ciKey := ""
	for _, f := range got {
		if strings.HasPrefix(f, devs+" | attached policy arn:aws:iam::123456789012:policy/ci") {
			ciKey = f
		}
	}
	expect(t, "aws.changes.access", got,
		devs+" | attached policy arn:aws:iam::aws:policy/ReadOnlyAccess | low",
		ciKey,
		role+" | inline policy queue: allows sqs:* (document "+documentDigest(must[[]statement](t)(parsePolicy(`{"Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}`)))+") | medium",
		role+" | trusts ec2.amazonaws.com | low",
		alice+" | console password | medium",
		alice+" | member of group devs | low",
	)
	if !strings.Contains(ciKey, ": allows s3:GetObject,s3:PutObject (document ") || !strings.HasSuffix(ciKey, ") | low") {
		t.Errorf("customer managed policy fact %q", ciKey)
	}
	first, second := access(), access()
	expect(t, "aws.changes.access again", second, first...)

	admin := awssdk.String("arn:aws:iam::aws:policy/AdministratorAccess")
	change(t, "AdministratorAccess", access,
		func() {
			ok(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: awssdk.String("alice"), PolicyArn: admin}))
		},
		func() {
			ok(c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: awssdk.String("alice"), PolicyArn: admin}))
		},
		alice+" | attached policy arn:aws:iam::aws:policy/AdministratorAccess | critical")

	// An access key's id is known once it exists.
	base := access()
	k := must[*iam.CreateAccessKeyOutput](t)(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("alice")}))
	id := awssdk.ToString(k.AccessKey.AccessKeyId)
	expect(t, "new access key", added(base, access()), alice+" | access key "+id+" active | medium")
	ok(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: awssdk.String("alice"), AccessKeyId: &id, Status: "Inactive"}))
	expect(t, "deactivated access key", added(base, access()), alice+" | access key "+id+" inactive | low")
	ok(c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: awssdk.String("alice"), AccessKeyId: &id}))
	expect(t, "access key deleted", access(), base...)

	external := `,{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"partner-7"}}}`
	change(t, "external principal in the trust policy", access,
		func() {
			ok(c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String("app"), PolicyDocument: trust(external)}))
		},
		func() {
			ok(c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String("app"), PolicyDocument: trust()}))
		},
		role+" | trusts arn:aws:iam::999999999999:root if StringEquals sts:ExternalId=partner-7 | high")
	// Dropping the condition is a widening: a new fact.
	change(t, "trust without its condition", access,
		func() {
			ok(c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String("app"),
				PolicyDocument: trust(`,{"Effect":"Allow","Principal":{"AWS":"999999999999"},"Action":"sts:AssumeRole"}`)}))
		},
		func() {
			ok(c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String("app"), PolicyDocument: trust()}))
		},
		role+" | trusts 999999999999 | high")
}

// TestChangesErrors: a change-tracking check that could not read everything is an
// error, never a smaller inventory (the store would read it as "removed"). moto
// cannot be made to refuse, so AWS's wire format is served here: EC2's XML, the
// query protocol of IAM, STS, RDS and ELBv2, and s3control's REST errors.
func TestChangesErrors(t *testing.T) {
	emptyRegion := func(w http.ResponseWriter, op string) bool {
		switch op {
		case "DescribeSecurityGroups":
			fmt.Fprint(w, `<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>1</requestId><securityGroupInfo/></DescribeSecurityGroupsResponse>`)
		case "DescribeVpcs":
			fmt.Fprint(w, `<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>1</requestId><vpcSet/></DescribeVpcsResponse>`)
		case "DescribeDBInstances":
			xmlReply(w, op, "<DBInstances/>")
		case "DescribeLoadBalancers":
			xmlReply(w, op, "<LoadBalancers/>")
		case "GetCallerIdentity":
			xmlReply(w, op, callerIdentity)
		default:
			return false
		}
		return true
	}
	user := `<UserDetailList><member><UserName>alice</UserName><Arn>arn:aws:iam::210987654321:user/alice</Arn><Path>/</Path><UserId>AIDA1</UserId><CreateDate>2026-01-01T00:00:00Z</CreateDate></member></UserDetailList><IsTruncated>false</IsTruncated>`
	for _, tc := range []struct {
		name, check string
		params      map[string]string
		reply       func(w http.ResponseWriter, region, op string)
		want        []string
	}{
		{"security groups denied", "aws.changes.exposure", nil, func(w http.ResponseWriter, region, op string) {
			ec2Error(w, 403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
		}, []string{"ec2:DescribeSecurityGroups in us-east-1", "lacks ec2:DescribeSecurityGroups"}},
		{"one region of two denied", "aws.changes.exposure", map[string]string{"regions": "us-east-1,eu-west-1"}, func(w http.ResponseWriter, region, op string) {
			if region == "us-east-1" && emptyRegion(w, op) {
				return
			}
			ec2Error(w, 403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
		}, []string{"ec2:DescribeSecurityGroups in eu-west-1", "access denied"}},
		{"S3 denied", "aws.changes.exposure", nil, func(w http.ResponseWriter, region, op string) {
			if !emptyRegion(w, op) { // s3control wraps its errors as IAM does
				iamError(w, 403, "AccessDenied", "Access Denied")
			}
		}, []string{"s3:GetAccountPublicAccessBlock", "access denied"}},
		{"IAM denied", "aws.changes.access", nil, func(w http.ResponseWriter, region, op string) {
			if !emptyRegion(w, op) {
				iamError(w, 403, "AccessDenied", "not authorized to perform: "+op)
			}
		}, []string{"iam:GetAccountAuthorizationDetails", "lacks iam:GetAccountAuthorizationDetails"}},
		{"access keys denied", "aws.changes.access", nil, func(w http.ResponseWriter, region, op string) {
			switch op {
			case "GetAccountAuthorizationDetails":
				xmlReply(w, op, user)
			case "GenerateCredentialReport":
				xmlReply(w, op, "<State>COMPLETE</State>")
			case "GetCredentialReport":
				xmlReply(w, op, "<Content></Content><ReportFormat>text/csv</ReportFormat>")
			default:
				if !emptyRegion(w, op) {
					iamError(w, 403, "AccessDenied", "not authorized to perform: "+op)
				}
			}
		}, []string{"iam:ListAccessKeys", "user alice", "lacks iam:ListAccessKeys"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				form, _ := url.ParseQuery(string(body))
				region := "us-east-1"
				if _, scope, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
					if parts := strings.Split(scope, "/"); len(parts) > 2 {
						region = parts[2]
					}
				}
				tc.reply(w, region, form.Get("Action"))
			}))
			t.Cleanup(srv.Close)
			res, err := runAt(t, New(Options{MaxAttempts: 1}), srv.URL, tc.check, tc.params)
			if err == nil {
				t.Fatalf("%s answered %+v, want an error", tc.check, res.Inventory)
			}
			if res.Inventory != nil {
				t.Errorf("an error with an inventory: %+v", res.Inventory)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestIngressKeys(t *testing.T) {
	vpc := ec2types.Vpc{VpcId: awssdk.String("vpc-1"), CidrBlock: awssdk.String("10.1.0.0/16"),
		CidrBlockAssociationSet: []ec2types.VpcCidrBlockAssociation{{CidrBlock: awssdk.String("100.64.0.0/16"),
			CidrBlockState: &ec2types.VpcCidrBlockState{State: ec2types.VpcCidrBlockStateCodeAssociated}}},
		Ipv6CidrBlockAssociationSet: []ec2types.VpcIpv6CidrBlockAssociation{{Ipv6CidrBlock: awssdk.String("2600:1f18:1::/56"),
			Ipv6CidrBlockState: &ec2types.VpcCidrBlockState{State: ec2types.VpcCidrBlockStateCodeAssociated}}}}
	perm := func(proto string, from, to int32, sources ...string) ec2types.IpPermission {
		p := ec2types.IpPermission{IpProtocol: awssdk.String(proto), FromPort: awssdk.Int32(from), ToPort: awssdk.Int32(to)}
		for _, s := range sources {
			switch {
			case strings.HasPrefix(s, "pl-"):
				p.PrefixListIds = append(p.PrefixListIds, ec2types.PrefixListId{PrefixListId: awssdk.String(s)})
			case strings.Contains(s, ":"):
				p.Ipv6Ranges = append(p.Ipv6Ranges, ec2types.Ipv6Range{CidrIpv6: awssdk.String(s)})
			default:
				p.IpRanges = append(p.IpRanges, ec2types.IpRange{CidrIp: awssdk.String(s)})
			}
		}
		return p
	}
	sg := ec2types.SecurityGroup{GroupId: awssdk.String("sg-1"), GroupName: awssdk.String("web"), VpcId: awssdk.String("vpc-1"), IpPermissions: []ec2types.IpPermission{
		perm("tcp", 22, 22, "0.0.0.0/0", "10.1.4.0/24", "100.64.1.1/32", "2600:1f18:1:2::/64"),
		perm("tcp", 3306, 3306, "0.0.0.0/0"),
		perm("tcp", 80, 80, "::/0"),
		perm("tcp", 8080, 8080, "0.0.0.0/0"),
		perm("udp", 53, 53, "192.0.2.10/32"),
		perm("tcp", 0, 65535, "172.31.0.0/16"),
		perm("icmp", 8, -1, "0.0.0.0/0"),
		perm("icmpv6", -1, -1, "::/0"),
		perm("50", -1, -1, "198.51.100.0/24"),
		perm("tcp", 443, 443, "pl-6da54004"),
		{IpProtocol: awssdk.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}},
	}}
	var got []string
	for _, f := range ingressOf("us-east-1", []ec2types.SecurityGroup{sg}, []ec2types.Vpc{vpc}) {
		got = append(got, f.Key+" | "+string(f.Severity))
	}
	expect(t, "ingress facts", got,
		"22/tcp from 0.0.0.0/0 | critical",
		"3306/tcp from 0.0.0.0/0 | high",
		"80/tcp from ::/0 | medium",
		"8080/tcp from 0.0.0.0/0 | high",
		"53/udp from 192.0.2.10/32 | medium",
		"0-65535/tcp from 172.31.0.0/16 | low",
		"icmp type 8 from 0.0.0.0/0 | low",
		"icmpv6 from ::/0 | low",
		"protocol 50 from 198.51.100.0/24 | medium",
		"443/tcp from pl-6da54004 | medium",
		"all traffic from 0.0.0.0/0 | critical",
	)
}

// thousandGroups is 1,000 groups in 50 VPCs with ten rules each, every rule from one
// range inside the VPC and one outside.
func thousandGroups() ([]ec2types.SecurityGroup, []ec2types.Vpc) {
	var groups []ec2types.SecurityGroup
	var vpcs []ec2types.Vpc
	for i := range 1000 {
		vpc := fmt.Sprintf("vpc-%d", i%50)
		if i < 50 {
			vpcs = append(vpcs, ec2types.Vpc{VpcId: awssdk.String(vpc), CidrBlock: awssdk.String(fmt.Sprintf("10.%d.0.0/16", i))})
		}
		sg := ec2types.SecurityGroup{GroupId: awssdk.String(fmt.Sprintf("sg-%04d", i)), GroupName: awssdk.String("g"), VpcId: awssdk.String(vpc)}
		for r := range 10 {
			sg.IpPermissions = append(sg.IpPermissions, ec2types.IpPermission{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(int32(8000 + r)), ToPort: awssdk.Int32(int32(8000 + r)),
				IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String(fmt.Sprintf("10.%d.%d.0/24", i%50, r))}, {CidrIp: awssdk.String(fmt.Sprintf("203.0.113.%d/32", r))}}})
		}
		groups = append(groups, sg)
	}
	return groups, vpcs
}

func TestIngressOfThousandGroups(t *testing.T) {
	groups, vpcs := thousandGroups()
	if n := len(ingressOf("us-east-1", groups, vpcs)); n != 10000 {
		t.Errorf("%d facts, want 10000 (one per rule from outside its VPC)", n)
	}
}

// BenchmarkIngressOfThousandGroups is the cost of the security-group facts of a
// region with 1,000 groups, once they are read (about 25 ms here).
func BenchmarkIngressOfThousandGroups(b *testing.B) {
	groups, vpcs := thousandGroups()
	for b.Loop() {
		ingressOf("us-east-1", groups, vpcs)
	}
}

// TestChangesShareTheRoundsReads: in a round that also runs the checks reading the
// same kinds, the change-tracking checks make no call of their own for them.
func TestChangesShareTheRoundsReads(t *testing.T) {
	_, cfg := account(t, Options{})
	ctx := t.Context()
	ec := ec2Client(cfg)
	vpc := must[*ec2.CreateVpcOutput](t)(ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: awssdk.String("10.1.0.0/16")}))
	if _, err := ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("web"), Description: awssdk.String("web"), VpcId: vpc.Vpc.VpcId}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3Client(cfg).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: awssdk.String("logs")}); err != nil {
		t.Fatal(err)
	}
	if _, err := iam.NewFromConfig(cfg).CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("alice")}); err != nil {
		t.Fatal(err)
	}
	// calls runs the checks in one round with a fresh provider and counts its requests.
	calls := func(ids ...string) int64 {
		t.Helper()
		p := New(Options{MaxAttempts: 1})
		reg := checks.NewRegistry()
		if err := p.Register(reg); err != nil {
			t.Fatal(err)
		}
		round := checks.WithRound(ctx, checks.NewRound())
		for _, id := range ids {
			c, _ := reg.Check(id)
			params, err := c.Spec().Bind(map[string]string{"endpoint": moto.URL}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Run(round, params); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
		return p.Calls()
	}
	for _, tc := range []struct {
		check  string
		others []string
	}{
		{"aws.changes.exposure", []string{"aws.ec2.sg.open", "aws.s3.public", "aws.rds.public", "aws.elb.public"}},
		{"aws.changes.access", []string{"aws.iam.users.nomfa", "aws.iam.keys.old"}},
	} {
		alone, others := calls(tc.check), calls(tc.others...)
		if together := calls(append(tc.others, tc.check)...); together >= alone+others {
			t.Errorf("%s: %d calls alone, %d for %v, %d together: it read nothing of theirs", tc.check, alone, others, tc.others, together)
		}
		// What it adds is only its own reads: VPCs (exposure); the authorization
		// details and one ListAccessKeys per user (access).
		own := map[string]int64{"aws.changes.exposure": 1, "aws.changes.access": 2}[tc.check]
		if together := calls(append(tc.others, tc.check)...); together != others+own {
			t.Errorf("%s: %d calls together with %v, want %d (theirs) + %d (its own)", tc.check, together, tc.others, others, own)
		}
	}
}
