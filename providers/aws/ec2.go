package aws

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/clankerd/clankerd/checks"
)

// Ports that must never be open to the internet: remote shells and databases.
var sensitivePorts = map[int32]string{
	22: "SSH", 3389: "RDP", 23: "telnet", 3306: "MySQL", 5432: "PostgreSQL", 1433: "SQL Server",
	1521: "Oracle", 27017: "MongoDB", 6379: "Redis", 9200: "Elasticsearch", 11211: "memcached",
	5439: "Redshift", 2375: "Docker API", 9092: "Kafka",
}

// openRule is one ingress permission open to the whole internet.
type openRule struct {
	protocol string // "tcp", "udp", "icmp", "-1" (all)
	from, to int32
	cidr     string
}

func (r openRule) allPorts() bool { return r.protocol == "-1" || (r.from <= 0 && r.to >= 65535) }

func (r openRule) ports() string {
	switch {
	case r.allPorts():
		return "all"
	case r.from == r.to:
		return strconv.Itoa(int(r.from))
	}
	return fmt.Sprintf("%d-%d", r.from, r.to)
}

// problem is the finding's problem kind; it names the exact rule, so revoking one
// rule resolves exactly its finding.
func (r openRule) problem() string {
	return fmt.Sprintf("open_ingress:%s:%s:%s", r.protocol, r.ports(), r.cidr)
}

// openRules lists a group's ingress permissions from 0.0.0.0/0 or ::/0.
func openRules(sg ec2types.SecurityGroup) []openRule {
	var out []openRule
	for _, p := range sg.IpPermissions {
		proto := awssdk.ToString(p.IpProtocol)
		from, to := awssdk.ToInt32(p.FromPort), awssdk.ToInt32(p.ToPort)
		if proto == "-1" {
			from, to = 0, 65535
		}
		for _, r := range p.IpRanges {
			if awssdk.ToString(r.CidrIp) == "0.0.0.0/0" {
				out = append(out, openRule{proto, from, to, "0.0.0.0/0"})
			}
		}
		for _, r := range p.Ipv6Ranges {
			if awssdk.ToString(r.CidrIpv6) == "::/0" {
				out = append(out, openRule{proto, from, to, "::/0"})
			}
		}
	}
	return out
}

// allowed reports whether an open rule covers only allowed ports. ICMP is left
// alone (ping and path MTU discovery); "all traffic" is never allowed.
func (r openRule) allowed(allow []int32) bool {
	switch {
	case r.allPorts():
		return false
	case r.protocol == "icmp" || r.protocol == "icmpv6" || r.protocol == "1" || r.protocol == "58":
		return true
	case int(r.to)-int(r.from)+1 > len(allow):
		return false
	}
	for port := r.from; port <= r.to; port++ {
		if !slices.Contains(allow, port) {
			return false
		}
	}
	return true
}

// severity is critical for all ports, high when a remote shell or database port is
// in range, medium otherwise; the second value names why.
func (r openRule) severity() (checks.Severity, string) {
	if r.allPorts() {
		return checks.Critical, "all ports"
	}
	ports := slices.Sorted(maps.Keys(sensitivePorts))
	for _, port := range ports {
		if port >= r.from && port <= r.to {
			return checks.High, sensitivePorts[port]
		}
	}
	return checks.Medium, ""
}

func (p *Provider) sgOpen(ctx context.Context, c *conn, region string, params checks.Params) ([]checks.Finding, error) {
	var allow []int32
	for _, s := range params.List("allow") {
		n, _ := strconv.Atoi(s) // validated at bind
		allow = append(allow, int32(n))
	}
	groups, err := c.securityGroups(ctx, region)
	if err != nil {
		return nil, err
	}
	var out []checks.Finding
	for _, sg := range groups {
		id := awssdk.ToString(sg.GroupId)
		for _, r := range openRules(sg) {
			if r.allowed(allow) {
				continue
			}
			sev, what := r.severity()
			summary := fmt.Sprintf("security group %s (%s) allows %s port %s from %s", id, awssdk.ToString(sg.GroupName), protoName(r.protocol), r.ports(), r.cidr)
			if what != "" {
				summary += " (" + what + ")"
			}
			out = append(out, checks.Finding{
				Resource: res("security-group", region, id),
				Problem:  r.problem(),
				Severity: sev,
				Summary:  summary,
				Evidence: map[string]string{
					"group": id, "group_name": awssdk.ToString(sg.GroupName), "vpc": awssdk.ToString(sg.VpcId), "region": region,
					"protocol": r.protocol, "from_port": strconv.Itoa(int(r.from)), "to_port": strconv.Itoa(int(r.to)), "cidr": r.cidr,
				},
				Fix: fmt.Sprintf("restrict the source to known addresses, or queue `aws.ec2.sg.revoke group=%s region=%s protocol=%s ports=%s cidr=%s`", id, region, r.protocol, r.ports(), r.cidr),
			})
		}
	}
	return out, nil
}

func protoName(p string) string {
	if p == "-1" {
		return "every protocol,"
	}
	return p
}

func validatePorts(s string) error {
	for _, v := range splitComma(s) {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("%q is not a port number (0-65535)", v)
		}
	}
	return nil
}

func (p *Provider) volumesUnattached(ctx context.Context, c *conn, region string, params checks.Params) ([]checks.Finding, error) {
	vols, err := c.volumes(ctx, region)
	if err != nil {
		return nil, err
	}
	var out []checks.Finding
	for _, v := range vols {
		if v.State != ec2types.VolumeStateAvailable {
			continue
		}
		id := awssdk.ToString(v.VolumeId)
		f := checks.Finding{
			Resource: res("volume", region, id),
			Problem:  "unattached",
			Severity: checks.Low,
			Summary:  fmt.Sprintf("EBS volume %s (%d GiB %s) is attached to nothing", id, awssdk.ToInt32(v.Size), v.VolumeType),
			Evidence: map[string]string{"size_gib": strconv.Itoa(int(awssdk.ToInt32(v.Size))), "type": string(v.VolumeType), "region": region},
			Fix:      fmt.Sprintf("snapshot it if needed, then `aws ec2 delete-volume --region %s --volume-id %s`", region, id),
		}
		if name := nameOf(v.Tags); name != "" {
			f.Evidence["name"] = name
		}
		if cost, err := volumeMonthly(string(v.VolumeType), awssdk.ToInt32(v.Size), region); err == nil {
			f.MonthlyCostUSD = money(round2(cost))
		} else {
			f.Evidence["cost"] = err.Error()
		}
		out = append(out, f)
	}
	return out, nil
}

func (p *Provider) eipUnassociated(ctx context.Context, c *conn, region string, params checks.Params) ([]checks.Finding, error) {
	addrs, err := c.addresses(ctx, region)
	if err != nil {
		return nil, err
	}
	var out []checks.Finding
	for _, a := range addrs {
		// moto answers "" where AWS leaves the field out.
		if awssdk.ToString(a.AssociationId) != "" || awssdk.ToString(a.InstanceId) != "" || awssdk.ToString(a.NetworkInterfaceId) != "" {
			continue
		}
		id := awssdk.ToString(a.AllocationId)
		if id == "" {
			id = awssdk.ToString(a.PublicIp)
		}
		f := checks.Finding{
			Resource: res("elastic-ip", region, id),
			Problem:  "unassociated",
			Severity: checks.Low,
			Summary:  fmt.Sprintf("Elastic IP %s is not associated with anything and still costs money", awssdk.ToString(a.PublicIp)),
			Evidence: map[string]string{"public_ip": awssdk.ToString(a.PublicIp), "region": region},
			Fix:      fmt.Sprintf("`aws ec2 release-address --region %s --allocation-id %s`", region, id),
		}
		if cost, err := eipMonthly(region); err == nil {
			f.MonthlyCostUSD = money(round2(cost))
		}
		out = append(out, f)
	}
	return out, nil
}

// stoppedAt reads when an instance stopped from its state transition reason, "User
// initiated (2024-01-02 15:04:05 GMT)" (moto writes UTC).
var stoppedAtRE = regexp.MustCompile(`\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)`)

func stoppedAt(i ec2types.Instance) (time.Time, bool) {
	m := stoppedAtRE.FindStringSubmatch(awssdk.ToString(i.StateTransitionReason))
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateTime, m[1])
	return t, err == nil
}

func (p *Provider) instancesStopped(ctx context.Context, c *conn, region string, params checks.Params) ([]checks.Finding, error) {
	insts, err := c.instances(ctx, region)
	if err != nil {
		return nil, err
	}
	vols, err := c.volumes(ctx, region)
	if err != nil {
		return nil, err
	}
	byInstance := map[string][]ec2types.Volume{}
	for _, v := range vols {
		for _, a := range v.Attachments {
			byInstance[awssdk.ToString(a.InstanceId)] = append(byInstance[awssdk.ToString(a.InstanceId)], v)
		}
	}
	min := params.Duration("for")
	now := p.now()
	var out []checks.Finding
	for _, i := range insts {
		if i.State == nil || i.State.Name != ec2types.InstanceStateNameStopped {
			continue
		}
		id := awssdk.ToString(i.InstanceId)
		since := "unknown"
		if at, ok := stoppedAt(i); ok {
			if now.Sub(at) < min {
				continue
			}
			since = at.UTC().Format(time.DateOnly)
		}
		cost, sizes := 0.0, 0
		for _, v := range byInstance[id] {
			sizes += int(awssdk.ToInt32(v.Size))
			if c, err := volumeMonthly(string(v.VolumeType), awssdk.ToInt32(v.Size), region); err == nil {
				cost += c
			}
		}
		f := checks.Finding{
			Resource: res("instance", region, id),
			Problem:  "stopped",
			Severity: checks.Low,
			Summary:  fmt.Sprintf("instance %s (%s) has been stopped since %s; its %d GiB of volumes still cost money", id, i.InstanceType, since, sizes),
			Evidence: map[string]string{"type": string(i.InstanceType), "stopped_since": since, "volumes_gib": strconv.Itoa(sizes), "region": region},
			Fix:      fmt.Sprintf("terminate it if it is no longer needed (snapshot first): `aws ec2 terminate-instances --region %s --instance-ids %s`", region, id),
		}
		if name := nameOf(i.Tags); name != "" {
			f.Evidence["name"] = name
		}
		if cost > 0 {
			f.MonthlyCostUSD = money(round2(cost))
		}
		out = append(out, f)
	}
	return out, nil
}

func (p *Provider) rdsPublic(ctx context.Context, c *conn, region string, params checks.Params) ([]checks.Finding, error) {
	dbs, err := c.dbInstances(ctx, region)
	if err != nil {
		return nil, err
	}
	var out []checks.Finding
	for _, db := range dbs {
		if !awssdk.ToBool(db.PubliclyAccessible) {
			continue
		}
		id, resource := dbResource(db, region)
		out = append(out, checks.Finding{
			Resource: resource,
			Problem:  "publicly_accessible",
			Severity: checks.High,
			Summary:  fmt.Sprintf("RDS instance %s (%s) is publicly accessible", id, awssdk.ToString(db.Engine)),
			Evidence: map[string]string{"engine": awssdk.ToString(db.Engine), "class": awssdk.ToString(db.DBInstanceClass), "region": region},
			Fix:      fmt.Sprintf("`aws rds modify-db-instance --region %s --db-instance-identifier %s --no-publicly-accessible --apply-immediately`", region, id),
		})
	}
	return out, nil
}

func (p *Provider) elbPublic(ctx context.Context, c *conn, region string, params checks.Params) ([]checks.Finding, error) {
	lbs, err := c.loadBalancers(ctx, region)
	if err != nil {
		return nil, err
	}
	var out []checks.Finding
	for _, lb := range lbs {
		if lb.Scheme != "internet-facing" {
			continue
		}
		name, resource := lbResource(lb, region)
		out = append(out, checks.Finding{
			Resource: resource,
			Problem:  "internet_facing",
			Severity: checks.Info,
			Summary:  fmt.Sprintf("%s load balancer %s is internet-facing (%s)", lb.Type, name, awssdk.ToString(lb.DNSName)),
			Evidence: map[string]string{"type": string(lb.Type), "dns_name": awssdk.ToString(lb.DNSName), "region": region},
		})
	}
	return out, nil
}

// dbResource names a DB instance: its identifier, and its ARN (or
// "db/REGION/ID" where the ARN is missing) as the resource.
func dbResource(db rdstypes.DBInstance, region string) (id, resource string) {
	id = awssdk.ToString(db.DBInstanceIdentifier)
	if resource = awssdk.ToString(db.DBInstanceArn); resource == "" {
		resource = res("db", region, id)
	}
	return id, resource
}

// lbResource names a load balancer: its name, and its ARN (or
// "load-balancer/REGION/NAME") as the resource.
func lbResource(lb elbtypes.LoadBalancer, region string) (name, resource string) {
	name = awssdk.ToString(lb.LoadBalancerName)
	if resource = awssdk.ToString(lb.LoadBalancerArn); resource == "" {
		resource = res("load-balancer", region, name)
	}
	return name, resource
}
