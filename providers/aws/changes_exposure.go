package aws

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/clankerd/clankerd/checks"
)

// exposureFacts is aws.changes.exposure: what can be reached from outside, in every
// region of the item (security groups, RDS, load balancers) and account-wide (S3).
func (p *Provider) exposureFacts(ctx context.Context, c *conn, params checks.Params) ([]checks.Fact, error) {
	regions, err := c.regions(ctx, params)
	if err != nil {
		return nil, err
	}
	facts, err := inRegions(ctx, p.opts.Concurrency, regions, func(ctx context.Context, region string) ([]checks.Fact, error) {
		sg, err := c.ingressFacts(ctx, region)
		if err != nil {
			return nil, err
		}
		db, err := c.dbFacts(ctx, region)
		if err != nil {
			return nil, err
		}
		lb, err := c.listenerFacts(ctx, region)
		if err != nil {
			return nil, err
		}
		return append(append(sg, db...), lb...), nil
	})
	if err != nil {
		return nil, err
	}
	buckets, err := c.bucketFacts(ctx)
	if err != nil {
		return nil, err
	}
	return append(facts, buckets...), nil
}

// ingressFacts are the ingress rules of every security group of a region whose
// source is outside the group's VPC: one fact per rule and range. References to
// other groups and ranges inside one of the VPC's CIDR blocks are internal.
func (c *conn) ingressFacts(ctx context.Context, region string) ([]checks.Fact, error) {
	groups, err := c.securityGroups(ctx, region)
	if err != nil {
		return nil, err
	}
	vpcs, err := c.vpcs(ctx, region)
	if err != nil {
		return nil, err
	}
	return ingressOf(region, groups, vpcs), nil
}

// ingressOf is ingressFacts on groups and VPCs already read: one pass over the
// rules, with each VPC's blocks parsed once.
func ingressOf(region string, groups []ec2types.SecurityGroup, vpcs []ec2types.Vpc) []checks.Fact {
	inside := vpcBlocks(vpcs)
	var out []checks.Fact
	for _, sg := range groups {
		id, vpc := awssdk.ToString(sg.GroupId), awssdk.ToString(sg.VpcId)
		for _, perm := range sg.IpPermissions {
			var sources []string
			for _, r := range perm.IpRanges {
				sources = append(sources, awssdk.ToString(r.CidrIp))
			}
			for _, r := range perm.Ipv6Ranges {
				sources = append(sources, awssdk.ToString(r.CidrIpv6))
			}
			for _, pl := range perm.PrefixListIds {
				sources = append(sources, awssdk.ToString(pl.PrefixListId))
			}
			for _, src := range sources {
				reach, internal := classify(src, inside[vpc])
				if internal {
					continue
				}
				r := permissionRule(perm, src)
				out = append(out, checks.Fact{
					Resource: res("security-group", region, id),
					Key:      r.key(),
					Severity: r.exposureSeverity(reach),
					Summary:  fmt.Sprintf("security group %s (%s) allows %s", id, awssdk.ToString(sg.GroupName), r.key()),
					Fix:      r.revokeHint(id, region),
				})
			}
		}
	}
	return out
}

// vpcBlocks maps each VPC to its associated IPv4 and IPv6 CIDR blocks.
func vpcBlocks(vpcs []ec2types.Vpc) map[string][]netip.Prefix {
	out := make(map[string][]netip.Prefix, len(vpcs))
	for _, v := range vpcs {
		id := awssdk.ToString(v.VpcId)
		add := func(cidr string) {
			if p, err := netip.ParsePrefix(cidr); err == nil {
				out[id] = append(out[id], p.Masked())
			}
		}
		add(awssdk.ToString(v.CidrBlock))
		for _, a := range v.CidrBlockAssociationSet {
			if a.CidrBlockState == nil || a.CidrBlockState.State == ec2types.VpcCidrBlockStateCodeAssociated {
				add(awssdk.ToString(a.CidrBlock))
			}
		}
		for _, a := range v.Ipv6CidrBlockAssociationSet {
			if a.Ipv6CidrBlockState == nil || a.Ipv6CidrBlockState.State == ec2types.VpcCidrBlockStateCodeAssociated {
				add(awssdk.ToString(a.Ipv6CidrBlock))
			}
		}
	}
	return out
}

// reach is how far outside the VPC a source is.
type reach int

const (
	reachPrivate reach = iota + 1 // a private range outside the VPC: peering, VPN, Direct Connect
	reachPublic                   // public addresses, or a prefix list
	reachWorld                    // 0.0.0.0/0 or ::/0
)

// classify tells whether a rule's source is inside one of the VPC's blocks, and if
// not, how far it reaches. A prefix list (pl-…) is outside.
func classify(src string, blocks []netip.Prefix) (reach, bool) {
	p, err := netip.ParsePrefix(src)
	if err != nil {
		return reachPublic, false
	}
	p = p.Masked()
	for _, b := range blocks {
		if b.Addr().Is4() == p.Addr().Is4() && b.Bits() <= p.Bits() && b.Contains(p.Addr()) {
			return 0, true
		}
	}
	switch {
	case p.Bits() == 0:
		return reachWorld, false
	case p.Addr().IsPrivate():
		return reachPrivate, false
	}
	return reachPublic, false
}

// permissionRule is one permission with one source.
func permissionRule(perm ec2types.IpPermission, src string) openRule {
	proto := awssdk.ToString(perm.IpProtocol)
	from, to := awssdk.ToInt32(perm.FromPort), awssdk.ToInt32(perm.ToPort)
	if proto == "-1" {
		from, to = 0, 65535
	}
	return openRule{proto, from, to, src}
}

// key names a rule the same way every run: "22/tcp from 203.0.113.0/24",
// "all traffic from 0.0.0.0/0", "8000-8100/tcp from ::/0", "icmp type 8 from …".
func (r openRule) key() string {
	var what string
	switch r.protocol {
	case "-1":
		what = "all traffic"
	case "tcp", "udp", "6", "17":
		name := map[string]string{"6": "tcp", "17": "udp"}[r.protocol]
		if name == "" {
			name = r.protocol
		}
		if r.from == r.to {
			what = fmt.Sprintf("%d/%s", r.from, name)
		} else {
			what = fmt.Sprintf("%d-%d/%s", r.from, r.to, name)
		}
	case "icmp", "1", "icmpv6", "58":
		what = map[string]string{"1": "icmp", "58": "icmpv6"}[r.protocol]
		if what == "" {
			what = r.protocol
		}
		if r.from >= 0 {
			what += fmt.Sprintf(" type %d", r.from)
		}
	default:
		what = "protocol " + r.protocol
	}
	return what + " from " + r.cidr
}

// revokeHint says how to remove a rule: the revoke task where it takes the rule
// (TCP, UDP or all traffic from a CIDR), the AWS CLI otherwise.
func (r openRule) revokeHint(group, region string) string {
	if _, err := netip.ParsePrefix(r.cidr); err == nil && (r.protocol == "tcp" || r.protocol == "udp" || r.protocol == "-1") {
		return fmt.Sprintf("remove the rule if it is not wanted: queue `aws.ec2.sg.revoke group=%s region=%s protocol=%s ports=%s cidr=%s`", group, region, r.protocol, r.ports(), r.cidr)
	}
	return fmt.Sprintf("remove the rule if it is not wanted: `aws ec2 revoke-security-group-ingress --region %s --group-id %s --ip-permissions ...` with the rule's protocol, ports and source %s", region, group, r.cidr)
}

// Ports that give a remote shell: open to the world they are critical.
var shellPorts = []int32{22, 23, 3389}

// exposureSeverity ranks a rule from outside the VPC. From the whole internet: all
// traffic or a remote shell port is critical, another sensitive port (a database)
// high, only 80 and 443 medium, ICMP low, anything else high. From other public
// addresses: medium. From a private range outside the VPC: low.
func (r openRule) exposureSeverity(how reach) checks.Severity {
	switch how {
	case reachPrivate:
		return checks.Low
	case reachPublic:
		return checks.Medium
	}
	switch {
	case r.protocol == "-1":
		return checks.Critical
	case r.protocol == "icmp" || r.protocol == "icmpv6" || r.protocol == "1" || r.protocol == "58":
		return checks.Low
	}
	for _, p := range shellPorts {
		if p >= r.from && p <= r.to {
			return checks.Critical
		}
	}
	if sev, _ := r.severity(); sev == checks.Critical || sev == checks.High {
		return checks.High
	}
	if r.allowed([]int32{80, 443}) {
		return checks.Medium
	}
	return checks.High
}

// dbFacts are the region's publicly accessible RDS instances.
func (c *conn) dbFacts(ctx context.Context, region string) ([]checks.Fact, error) {
	dbs, err := c.dbInstances(ctx, region)
	if err != nil {
		return nil, err
	}
	var out []checks.Fact
	for _, db := range dbs {
		if !awssdk.ToBool(db.PubliclyAccessible) {
			continue
		}
		id, resource := dbResource(db, region)
		port := awssdk.ToInt32(db.DbInstancePort)
		if db.Endpoint != nil && db.Endpoint.Port != nil {
			port = *db.Endpoint.Port
		}
		key := "publicly accessible"
		if port > 0 {
			key += fmt.Sprintf(" on port %d", port)
		}
		out = append(out, checks.Fact{
			Resource: resource, Key: key, Severity: checks.High,
			Summary: fmt.Sprintf("RDS instance %s (%s) is %s", id, awssdk.ToString(db.Engine), key),
			Fix:     fmt.Sprintf("`aws rds modify-db-instance --region %s --db-instance-identifier %s --no-publicly-accessible --apply-immediately`", region, id),
		})
	}
	return out, nil
}

// listenerFacts are the listeners of the region's internet-facing load balancers:
// "internet-facing HTTPS 443". A load balancer without listeners is one fact too.
// Listeners are read eight load balancers at a time.
func (c *conn) listenerFacts(ctx context.Context, region string) ([]checks.Fact, error) {
	lbs, err := c.loadBalancers(ctx, region)
	if err != nil {
		return nil, err
	}
	var public []elbtypes.LoadBalancer
	for _, lb := range lbs {
		if lb.Scheme == elbtypes.LoadBalancerSchemeEnumInternetFacing {
			public = append(public, lb)
		}
	}
	lists, err := fanOut(public, 8, func(lb elbtypes.LoadBalancer) ([]elbtypes.Listener, error) {
		return c.listeners(ctx, region, awssdk.ToString(lb.LoadBalancerArn))
	})
	if err != nil {
		return nil, err
	}
	var out []checks.Fact
	for i, lb := range public {
		name, resource := lbResource(lb, region)
		fix := fmt.Sprintf("if it should not be public, delete the listener or recreate %s as internal", name)
		if len(lists[i]) == 0 {
			out = append(out, checks.Fact{Resource: resource, Key: "internet-facing, no listener", Severity: checks.Info,
				Summary: fmt.Sprintf("%s load balancer %s is internet-facing (%s) and has no listener", lb.Type, name, awssdk.ToString(lb.DNSName))})
			continue
		}
		for _, l := range lists[i] {
			key := fmt.Sprintf("internet-facing %s %d", l.Protocol, awssdk.ToInt32(l.Port))
			sev := checks.Medium
			if l.Protocol == elbtypes.ProtocolEnumHttp {
				sev = checks.High // no TLS
			}
			out = append(out, checks.Fact{Resource: resource, Key: key, Severity: sev,
				Summary: fmt.Sprintf("%s load balancer %s (%s) listens on %s %d from the internet", lb.Type, name, awssdk.ToString(lb.DNSName), l.Protocol, awssdk.ToInt32(l.Port)),
				Fix:     fix})
		}
	}
	return out, nil
}

// bucketFacts are the S3 facts of the account: public ACL grants and public policy
// statements of every bucket, and the public access block flags that are off on the
// account and, where the account's flag is off too, on a bucket. A grant or
// statement neutralised by a block says so in its key, so the block going away is a
// new, more severe fact.
func (c *conn) bucketFacts(ctx context.Context) ([]checks.Fact, error) {
	account, acct, bs, err := c.s3State(ctx)
	if err != nil {
		return nil, err
	}
	var out []checks.Fact
	for _, flag := range acct.off() {
		out = append(out, checks.Fact{Resource: "s3-account/" + account, Key: "public access block off: " + flag, Severity: checks.Low,
			Summary: "the account-wide S3 public access block has " + flag + " off",
			Fix:     fmt.Sprintf("`aws s3control put-public-access-block --account-id %s --public-access-block-configuration %s=true,...` unless a bucket must be public", account, flag)})
	}
	for _, b := range bs {
		arn := "arn:aws:s3:::" + b.name
		for _, g := range b.aclGrants {
			group, perm, _ := strings.Cut(g, ":")
			f := checks.Fact{Resource: arn, Key: "acl " + perm + " to " + group, Severity: checks.High,
				Fix: fmt.Sprintf("`aws s3api put-bucket-acl --bucket %s --acl private`, or queue `aws.s3.block_public bucket=%s`", b.name, b.name)}
			if perm != "READ" {
				f.Severity = checks.Critical // write or control of the ACL
			}
			if acct.ignorePublicAcls || b.block.ignorePublicAcls {
				f.Key += " (ignored: IgnorePublicAcls)"
				f.Severity = checks.Low
			}
			f.Summary = fmt.Sprintf("bucket %s's ACL grants %s to %s", b.name, perm, group)
			out = append(out, f)
		}
		stmts, err := publicPolicy(b.policy)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w: fix or remove its policy", b.name, err)
		}
		for _, s := range stmts {
			f := checks.Fact{Resource: arn, Key: s.publicKey(), Severity: checks.Critical,
				Fix: fmt.Sprintf("narrow the principal or add a condition in the bucket policy, or queue `aws.s3.block_public bucket=%s`", b.name)}
			if len(s.conditions) > 0 {
				f.Severity = checks.Medium
			}
			if acct.restrictBuckets || b.block.restrictBuckets {
				f.Key += " (restricted: RestrictPublicBuckets)"
				f.Severity = checks.Low
			}
			f.Summary = fmt.Sprintf("bucket %s's %s", b.name, f.Key)
			out = append(out, f)
		}
		for _, flag := range b.block.off() {
			if !slices.Contains(acct.off(), flag) {
				continue // the account's block covers the bucket
			}
			out = append(out, checks.Fact{Resource: arn, Key: "public access block off: " + flag, Severity: checks.Low,
				Summary: fmt.Sprintf("bucket %s has %s off, and so has the account", b.name, flag),
				Fix:     fmt.Sprintf("queue `aws.s3.block_public bucket=%s`, or turn on the account-wide block", b.name)})
		}
	}
	return out, nil
}

// off names the flags of a public access block that are off; with no block
// configured, all four.
func (b block) off() []string {
	var out []string
	for _, f := range []struct {
		name string
		on   bool
	}{{"BlockPublicAcls", b.blockPublicAcls}, {"IgnorePublicAcls", b.ignorePublicAcls}, {"BlockPublicPolicy", b.blockPublicPolicy}, {"RestrictPublicBuckets", b.restrictBuckets}} {
		if !b.configured || !f.on {
			out = append(out, f.name)
		}
	}
	return out
}

// publicPolicy lists a bucket policy's Allow statements to everyone (Principal *,
// or NotPrincipal), conditions or not.
func publicPolicy(doc string) ([]statement, error) {
	if doc == "" {
		return nil, nil
	}
	stmts, err := parsePolicy(doc)
	if err != nil {
		return nil, err
	}
	var out []statement
	for _, s := range stmts {
		if s.effect != "Allow" {
			continue
		}
		public := s.notPrin
		for _, p := range s.principals {
			public = public || p.public()
		}
		if public {
			out = append(out, s)
		}
	}
	return out, nil
}

// publicKey names a public bucket policy statement: "policy allows s3:GetObject to *
// on arn:aws:s3:::b/*", with its conditions.
func (s statement) publicKey() string {
	return "policy allows " + strings.TrimPrefix(s.String(), "Allow ")
}
