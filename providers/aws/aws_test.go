package aws

import (
	"os"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3controltypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/awstest"
	"github.com/clankerd/clankerd/internal/testenv/checktest"
)

// moto is the moto_server shared by the package's tests (see TestMain). Tests that
// use it reset it first, so they do not run in parallel.
var (
	moto       *awstest.Moto
	motoReason string
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m, &moto, &motoReason)) }

// account resets moto and returns a provider pointed at it, and an SDK config to plant
// resources with.
func account(t *testing.T, opts Options) (*Provider, awssdk.Config) {
	t.Helper()
	awstest.Require(t, moto, motoReason)
	moto.Reset(t)
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 1
	}
	p := New(opts)
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithBaseEndpoint(moto.URL), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	return p, cfg
}

// run runs a registered check against moto with raw parameters bound through its
// spec.
func run(t *testing.T, p *Provider, id string, raw map[string]string) (checks.Result, error) {
	t.Helper()
	return runAt(t, p, moto.URL, id, raw)
}

func runAt(t *testing.T, p *Provider, endpoint, id string, raw map[string]string) (checks.Result, error) {
	t.Helper()
	reg := checks.NewRegistry()
	if err := p.Register(reg); err != nil {
		t.Fatal(err)
	}
	c, ok := reg.Check(id)
	if !ok {
		t.Fatalf("no check %s", id)
	}
	all := map[string]string{"endpoint": endpoint}
	for k, v := range raw {
		all[k] = v
	}
	params, err := c.Spec().Bind(all, nil)
	if err != nil {
		t.Fatalf("binding %v: %v", all, err)
	}
	ctx := checks.WithRound(t.Context(), checks.NewRound())
	return c.Run(ctx, params)
}

// found runs a check and returns its findings as sorted "resource problem severity".
func found(t *testing.T, p *Provider, id string, raw map[string]string) []string {
	t.Helper()
	res, err := run(t, p, id, raw)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return describeFindings(t, id, res.Findings)
}

func describeFindings(t *testing.T, id string, fs []checks.Finding) []string {
	t.Helper()
	var out []string
	for _, f := range fs {
		if f.Summary == "" || f.Resource == "" || f.Problem == "" || f.Severity.Rank() == 0 {
			t.Errorf("%s: incomplete finding %+v", id, f)
		}
		if f.Severity.Rank() > checks.Info.Rank() && f.Fix == "" {
			t.Errorf("%s: finding without a fix hint: %+v", id, f)
		}
		out = append(out, f.Resource+" "+f.Problem+" "+string(f.Severity))
	}
	slices.Sort(out)
	return out
}

var expect = checktest.Expect

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ec2Client(cfg awssdk.Config) *ec2.Client { return ec2.NewFromConfig(cfg) }

func s3Client(cfg awssdk.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// blockAccount turns the account-wide S3 public access block on, as a well-run
// account has it.
func blockAccount(t *testing.T, p *Provider) {
	t.Helper()
	on := awssdk.Bool(true)
	c, err := p.connect(t.Context(), "", moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.s3control("us-east-1").PutPublicAccessBlock(t.Context(), &s3control.PutPublicAccessBlockInput{AccountId: awssdk.String("123456789012"),
		PublicAccessBlockConfiguration: &s3controltypes.PublicAccessBlockConfiguration{BlockPublicAcls: on, IgnorePublicAcls: on, BlockPublicPolicy: on, RestrictPublicBuckets: on}})
	if err != nil {
		t.Fatal(err)
	}
}

// cleanCatalog is every check that a clean moto account must pass. aws.iam.root is
// left out: moto's account summary always says root has no MFA (its credential
// report has no root row); TestRootAccount covers it against AWS's wire format.
// aws.cost.anomalies and aws.cost.forecast call operations moto does not implement;
// TestCostAnomaliesAndForecast covers them the same way.
var cleanCatalog = []string{
	"aws.ec2.sg.open", "aws.s3.public", "aws.iam.keys.old", "aws.iam.users.nomfa", "aws.ec2.volumes.unattached",
	"aws.ec2.eip.unassociated", "aws.ec2.instances.stopped", "aws.rds.public", "aws.elb.public", "aws.tags.missing",
	"aws.cost.increase", "aws.changes.exposure", "aws.changes.access",
}

func TestCleanAccountHasNoFindings(t *testing.T) {
	p, _ := account(t, Options{})
	blockAccount(t, p)
	for _, id := range cleanCatalog {
		res, err := run(t, p, id, nil)
		if err != nil {
			t.Errorf("%s on a clean account: %v", id, err)
			continue
		}
		if len(res.Findings) > 0 || res.Status() != checks.Pass {
			t.Errorf("%s on a clean account: %v", id, describeFindings(t, id, res.Findings))
		}
		if res.Inventory != nil && len(res.Inventory.Facts) > 0 {
			t.Errorf("%s on a clean account: facts %+v", id, res.Inventory.Facts)
		}
	}
	if t.Failed() {
		return
	}
	// Every check of the catalog is either here or covered elsewhere.
	reg := checks.NewRegistry()
	if err := p.Register(reg); err != nil {
		t.Fatal(err)
	}
	for _, c := range p.checkList() {
		id := c.Spec().ID
		if !slices.Contains(cleanCatalog, id) && id != "aws.iam.root" && !strings.HasPrefix(id, "aws.cost.") {
			t.Errorf("%s is not covered by the clean-account test", id)
		}
	}
}

func TestSecurityGroupsOpen(t *testing.T) {
	p, cfg := account(t, Options{})
	ec := ec2Client(cfg)
	ctx := t.Context()
	vpc := must[*ec2.CreateVpcOutput](t)(ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: awssdk.String("10.1.0.0/16")}))
	sg := must[*ec2.CreateSecurityGroupOutput](t)(ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("web"), Description: awssdk.String("web"), VpcId: vpc.Vpc.VpcId}))
	id := awssdk.ToString(sg.GroupId)
	rule := func(proto string, from, to int32, cidr string) ec2types.IpPermission {
		p := ec2types.IpPermission{IpProtocol: awssdk.String(proto), FromPort: awssdk.Int32(from), ToPort: awssdk.Int32(to)}
		if strings.Contains(cidr, ":") {
			p.Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: awssdk.String(cidr)}}
		} else {
			p.IpRanges = []ec2types.IpRange{{CidrIp: awssdk.String(cidr)}}
		}
		return p
	}
	_, err := ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{
		rule("tcp", 22, 22, "0.0.0.0/0"),      // SSH to the world: high
		rule("tcp", 443, 443, "0.0.0.0/0"),    // allowed by default
		rule("tcp", 8080, 8081, "0.0.0.0/0"),  // medium
		rule("tcp", 3389, 3389, "::/0"),       // RDP over IPv6: high
		rule("tcp", 5432, 5432, "10.0.0.0/8"), // private: fine
	}})
	if err != nil {
		t.Fatal(err)
	}
	all := must[*ec2.CreateSecurityGroupOutput](t)(ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("wide"), Description: awssdk.String("wide"), VpcId: vpc.Vpc.VpcId}))
	_, err = ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: all.GroupId, IpPermissions: []ec2types.IpPermission{
		{IpProtocol: awssdk.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	allID := awssdk.ToString(all.GroupId)

	expect(t, "aws.ec2.sg.open", found(t, p, "aws.ec2.sg.open", nil),
		"security-group/us-east-1/"+id+" open_ingress:tcp:22:0.0.0.0/0 high",
		"security-group/us-east-1/"+id+" open_ingress:tcp:8080-8081:0.0.0.0/0 medium",
		"security-group/us-east-1/"+id+" open_ingress:tcp:3389:::/0 high",
		"security-group/us-east-1/"+allID+" open_ingress:-1:all:0.0.0.0/0 critical",
	)
	// allow= widens what may be open.
	expect(t, "aws.ec2.sg.open allow", found(t, p, "aws.ec2.sg.open", map[string]string{"allow": "22,443,8080,8081,3389"}),
		"security-group/us-east-1/"+allID+" open_ingress:-1:all:0.0.0.0/0 critical",
	)
	// Closing a rule resolves exactly its finding.
	if _, err := ec.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{rule("tcp", 22, 22, "0.0.0.0/0")}}); err != nil {
		t.Fatal(err)
	}
	expect(t, "aws.ec2.sg.open after revoke", found(t, p, "aws.ec2.sg.open", nil),
		"security-group/us-east-1/"+id+" open_ingress:tcp:8080-8081:0.0.0.0/0 medium",
		"security-group/us-east-1/"+id+" open_ingress:tcp:3389:::/0 high",
		"security-group/us-east-1/"+allID+" open_ingress:-1:all:0.0.0.0/0 critical",
	)
}
