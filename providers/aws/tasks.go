package aws

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/clankerd/clankerd/checks"
)

// task is one AWS write task. Plan reads live state; Apply re-reads it, refuses on
// drift, and makes exactly the planned change.
type task struct {
	spec  checks.Spec
	p     *Provider
	plan  func(ctx context.Context, c *conn, region string, params checks.Params) (checks.Plan, error)
	apply func(ctx context.Context, c *conn, region string, plan checks.Plan) (checks.Applied, error)
	fix   func(f checks.Finding) (map[string]string, bool)
}

var (
	_ checks.Task       = (*task)(nil)
	_ checks.Remediator = (*task)(nil)
)

func (t *task) Spec() checks.Spec { return t.spec }

func (t *task) Plan(ctx context.Context, params checks.Params) (checks.Plan, error) {
	c, err := t.p.connectFor(ctx, params)
	if err != nil {
		return checks.Plan{}, err
	}
	region, err := c.region(params)
	if err != nil {
		return checks.Plan{}, err
	}
	account, err := c.accountID(ctx)
	if err != nil {
		return checks.Plan{}, err
	}
	plan, err := t.plan(ctx, c, region, params)
	if err != nil {
		return checks.Plan{}, err
	}
	plan.Observed["account"] = account
	plan.Observed["region"] = region
	return plan, nil
}

func (t *task) Apply(ctx context.Context, plan checks.Plan) (checks.Applied, error) {
	c, err := t.p.connectFor(ctx, plan.Params)
	if err != nil {
		return checks.Applied{}, err
	}
	account, err := c.accountID(ctx)
	if err != nil {
		return checks.Applied{}, err
	}
	if account != plan.Observed["account"] {
		return checks.Applied{}, &checks.DriftError{Target: plan.Target, Fields: []checks.Drift{{Field: "account", Planned: plan.Observed["account"], Live: account}}}
	}
	return t.apply(ctx, c, plan.Observed["region"], plan)
}

func (t *task) FixParams(f checks.Finding) (map[string]string, bool) {
	if t.fix == nil {
		return nil, false
	}
	return t.fix(f)
}

// drift compares the planned observation with live state on the given keys.
func drift(plan checks.Plan, live map[string]string, keys ...string) error {
	planned := map[string]string{}
	for _, k := range keys {
		planned[k] = plan.Observed[k]
	}
	return checks.CompareObserved(plan.Target, planned, live)
}

// gone is the drift of a target that no longer exists.
func gone(plan checks.Plan, field string) error {
	return &checks.DriftError{Target: plan.Target, Fields: []checks.Drift{{Field: field, Planned: plan.Observed[field], Live: ""}}}
}

func nonNegative(s string) error {
	if n, err := strconv.Atoi(s); err == nil && n < 0 {
		return errors.New("must not be negative")
	}
	return nil
}

var (
	sgIDRE       = regexp.MustCompile(`^sg-[0-9a-f]+$`)
	instanceIDRE = regexp.MustCompile(`^i-[0-9a-f]+$`)
)

func matching(re *regexp.Regexp, what string) func(string) error {
	return func(s string) error {
		if !re.MatchString(s) {
			return fmt.Errorf("%q is not %s", s, what)
		}
		return nil
	}
}

func prodLike(names ...string) string {
	for _, n := range names {
		if strings.Contains(strings.ToLower(n), "prod") {
			return n
		}
	}
	return ""
}

func (p *Provider) taskList() []checks.Task {
	taskSpec := func(id, desc string, keywords, verbs []string, params ...checks.ParamSpec) checks.Spec {
		return checks.Spec{ID: id, Description: desc, Params: append([]checks.ParamSpec{profileParam, regionParam, endpointParam}, params...), Keywords: append([]string{"aws"}, keywords...), Verbs: verbs}
	}
	return []checks.Task{
		&task{p: p, plan: p.planASG, apply: p.applyASG,
			spec: taskSpec("aws.asg.capacity", "set an Auto Scaling group's desired capacity", []string{"scale", "autoscaling", "asg", "capacity", "instances"}, []string{"scale", "resize"},
				checks.ParamSpec{Name: "asg", Type: checks.String, Required: true, Doc: "Auto Scaling group name"},
				checks.ParamSpec{Name: "desired", Type: checks.Int, Required: true, Validate: nonNegative, Doc: "desired capacity"})},
		&task{p: p, plan: p.planECS, apply: p.applyECS,
			spec: taskSpec("aws.ecs.service.count", "set an ECS service's desired task count", []string{"scale", "ecs", "service", "tasks", "containers"}, []string{"scale", "resize"},
				checks.ParamSpec{Name: "cluster", Type: checks.String, Required: true, Doc: "ECS cluster name or ARN"},
				checks.ParamSpec{Name: "service", Type: checks.String, Required: true, Doc: "ECS service name or ARN"},
				checks.ParamSpec{Name: "count", Type: checks.Int, Required: true, Validate: nonNegative, Doc: "desired task count"})},
		&task{p: p, plan: p.planRevoke, apply: p.applyRevoke, fix: fixRevoke,
			spec: taskSpec("aws.ec2.sg.revoke", "revoke one ingress rule of a security group", []string{"revoke", "close", "security group", "rule", "firewall"}, []string{"revoke", "close"},
				checks.ParamSpec{Name: "group", Type: checks.String, Required: true, Validate: matching(sgIDRE, "a security group id (sg-...)"), Doc: "security group id"},
				checks.ParamSpec{Name: "protocol", Type: checks.Enum, Required: true, Choices: []string{"tcp", "udp", "icmp", "icmpv6", "-1"}, Doc: "IP protocol of the rule (-1 for all)"},
				checks.ParamSpec{Name: "ports", Type: checks.String, Default: "all", Validate: validatePortRange, Doc: "PORT, FROM-TO, or all"},
				checks.ParamSpec{Name: "cidr", Type: checks.String, Required: true, Doc: "source CIDR of the rule (0.0.0.0/0, ::/0, ...)"})},
		&task{p: p, plan: p.planStop, apply: p.applyStop,
			spec: taskSpec("aws.ec2.instance.stop", "stop a running EC2 instance", []string{"stop", "instance", "shut down", "ec2"}, []string{"stop", "shut"},
				checks.ParamSpec{Name: "instance", Type: checks.String, Required: true, Validate: matching(instanceIDRE, "an instance id (i-...)"), Doc: "instance id"})},
		&task{p: p, plan: p.planBlock, apply: p.applyBlock, fix: fixBlock,
			spec: taskSpec("aws.s3.block_public", "turn on all four settings of a bucket's public access block", []string{"block", "public access", "s3", "bucket", "private"}, []string{"block"},
				checks.ParamSpec{Name: "bucket", Type: checks.String, Required: true, Doc: "bucket name"})},
	}
}

// --- Auto Scaling -------------------------------------------------------------

// asgState reads a group: what Apply compares, the instance type its instances run
// (for the cost), and the group itself; g is nil when the group does not exist.
func (c *conn) asgState(ctx context.Context, region, name string) (obs map[string]string, itype string, g *asgtypes.AutoScalingGroup, err error) {
	out, err := autoscaling.NewFromConfig(c.cfg, func(o *autoscaling.Options) { o.Region = region }).
		DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, "", nil, c.apiError("autoscaling:DescribeAutoScalingGroups", region, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return nil, "", nil, nil
	}
	g = &out.AutoScalingGroups[0]
	for _, i := range g.Instances {
		if t := awssdk.ToString(i.InstanceType); t != "" {
			itype = t
			break
		}
	}
	return map[string]string{
		"desired":   strconv.Itoa(int(awssdk.ToInt32(g.DesiredCapacity))),
		"min":       strconv.Itoa(int(awssdk.ToInt32(g.MinSize))),
		"max":       strconv.Itoa(int(awssdk.ToInt32(g.MaxSize))),
		"instances": strconv.Itoa(len(g.Instances)),
	}, itype, g, nil
}

func (p *Provider) planASG(ctx context.Context, c *conn, region string, params checks.Params) (checks.Plan, error) {
	name, want := params.Get("asg"), params.Int("desired")
	obs, itype, group, err := c.asgState(ctx, region, name)
	if err != nil {
		return checks.Plan{}, err
	}
	if group == nil {
		return checks.Plan{}, fmt.Errorf("Auto Scaling group %q does not exist in %s; list them with `aws autoscaling describe-auto-scaling-groups --region %s`", name, region, region)
	}
	cur, _ := strconv.Atoi(obs["desired"])
	lo, _ := strconv.Atoi(obs["min"])
	hi, _ := strconv.Atoi(obs["max"])
	if want < lo || want > hi {
		return checks.Plan{}, fmt.Errorf("desired=%d is outside the group's size limits %d..%d; change its min/max size first", want, lo, hi)
	}
	if want == cur {
		return checks.Plan{}, fmt.Errorf("Auto Scaling group %q already wants %d instances; nothing to change", name, cur)
	}
	plan := checks.Plan{
		Target:   "autoscaling-group/" + region + "/" + name,
		Observed: obs,
		Change:   fmt.Sprintf("desired capacity %d → %d", cur, want),
		Risk:     checks.RiskLow,
	}
	if itype != "" {
		plan.Observed["instance_type"] = itype
	}
	p.judgeASG(ctx, c, region, group, &plan, cur, want)
	if itype == "" {
		plan.CostNote = "the group has no running instances to read an instance type from; cost not estimated"
	} else if m, err := instanceMonthly(itype, region); err != nil {
		plan.CostNote = err.Error()
	} else {
		plan.MonthlyCostChangeUSD = money(round2(float64(want-cur) * m))
		plan.CostNote = fmt.Sprintf("%s on-demand in %s, embedded price table of %s", itype, region, PriceDate)
	}
	plan.Preconditions = []string{fmt.Sprintf("desired capacity is still %d, size limits %s..%s", cur, obs["min"], obs["max"])}
	return plan, nil
}

func (p *Provider) applyASG(ctx context.Context, c *conn, region string, plan checks.Plan) (checks.Applied, error) {
	name, want := plan.Params.Get("asg"), plan.Params.Int("desired")
	live, _, group, err := c.asgState(ctx, region, name)
	if err != nil {
		return checks.Applied{}, err
	}
	if group == nil {
		return checks.Applied{}, gone(plan, "desired")
	}
	if err := drift(plan, live, "desired", "min", "max"); err != nil {
		return checks.Applied{}, err
	}
	_, err = autoscaling.NewFromConfig(c.cfg, func(o *autoscaling.Options) { o.Region = region }).SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: &name, DesiredCapacity: awssdk.Int32(int32(want)), HonorCooldown: awssdk.Bool(false),
	})
	if err != nil {
		return checks.Applied{}, c.apiError("autoscaling:SetDesiredCapacity", region, err)
	}
	return checks.Applied{Summary: fmt.Sprintf("set %s desired capacity to %d", name, want), After: map[string]string{"desired": strconv.Itoa(want)}}, nil
}

// --- ECS ----------------------------------------------------------------------

func (c *conn) ecsState(ctx context.Context, region, cluster, service string) (map[string]string, bool, error) {
	out, err := ecs.NewFromConfig(c.cfg, func(o *ecs.Options) { o.Region = region }).
		DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: &cluster, Services: []string{service}})
	if err != nil {
		return nil, false, c.apiError("ecs:DescribeServices", region, err)
	}
	for _, s := range out.Services {
		if awssdk.ToString(s.Status) == "INACTIVE" {
			continue
		}
		return map[string]string{
			"desired": strconv.Itoa(int(s.DesiredCount)),
			"running": strconv.Itoa(int(s.RunningCount)),
			"status":  awssdk.ToString(s.Status),
		}, true, nil
	}
	return nil, false, nil
}

func (p *Provider) planECS(ctx context.Context, c *conn, region string, params checks.Params) (checks.Plan, error) {
	cluster, service, want := params.Get("cluster"), params.Get("service"), params.Int("count")
	obs, ok, err := c.ecsState(ctx, region, cluster, service)
	if err != nil {
		return checks.Plan{}, err
	}
	if !ok {
		return checks.Plan{}, fmt.Errorf("ECS service %q is not active in cluster %q (%s); list them with `aws ecs list-services --cluster %s --region %s`", service, cluster, region, cluster, region)
	}
	cur, _ := strconv.Atoi(obs["desired"])
	if cur == want {
		return checks.Plan{}, fmt.Errorf("ECS service %q already wants %d tasks; nothing to change", service, cur)
	}
	plan := checks.Plan{
		Target:   "ecs-service/" + region + "/" + cluster + "/" + service,
		Observed: obs,
		Change:   fmt.Sprintf("desired tasks %d → %d (running now: %s)", cur, want, obs["running"]),
		Risk:     checks.RiskLow,
		CostNote: "ECS task cost depends on the launch type and task size; not estimated",
	}
	switch {
	case want == 0:
		plan.Risk, plan.RiskReasons = checks.RiskHigh, []string{"stops every task of the service"}
	case want < cur:
		plan.Risk, plan.RiskReasons = checks.RiskMedium, []string{fmt.Sprintf("stops %d tasks", cur-want)}
	default:
		plan.RiskReasons = []string{"adds tasks"}
	}
	if n := prodLike(cluster, service); n != "" {
		plan.Risk, plan.RiskReasons = checks.RiskHigh, append(plan.RiskReasons, fmt.Sprintf("%q looks like production", n))
	}
	plan.Preconditions = []string{fmt.Sprintf("desired count is still %d", cur)}
	return plan, nil
}

func (p *Provider) applyECS(ctx context.Context, c *conn, region string, plan checks.Plan) (checks.Applied, error) {
	cluster, service, want := plan.Params.Get("cluster"), plan.Params.Get("service"), plan.Params.Int("count")
	live, ok, err := c.ecsState(ctx, region, cluster, service)
	if err != nil {
		return checks.Applied{}, err
	}
	if !ok {
		return checks.Applied{}, gone(plan, "desired")
	}
	// The running count moves on its own; only the desired count makes a plan stale.
	if err := drift(plan, live, "desired", "status"); err != nil {
		return checks.Applied{}, err
	}
	_, err = ecs.NewFromConfig(c.cfg, func(o *ecs.Options) { o.Region = region }).UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: &cluster, Service: &service, DesiredCount: awssdk.Int32(int32(want)),
	})
	if err != nil {
		return checks.Applied{}, c.apiError("ecs:UpdateService", region, err)
	}
	return checks.Applied{Summary: fmt.Sprintf("set %s/%s desired count to %d", cluster, service, want), After: map[string]string{"desired": strconv.Itoa(want)}}, nil
}

// --- security group rules -------------------------------------------------------

// validatePortRange accepts PORT, FROM-TO or all.
func validatePortRange(s string) error {
	_, _, err := parsePortRange(s)
	return err
}

func parsePortRange(s string) (from, to int32, err error) {
	if s == "all" {
		return 0, 65535, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	if !isRange {
		b = a
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || x < 0 || y > 65535 || x > y {
		return 0, 0, fmt.Errorf("%q is not PORT, FROM-TO (0-65535) or all", s)
	}
	return int32(x), int32(y), nil
}

// ruleParams is the exact rule a revoke plan names.
type ruleParams struct {
	group, protocol, cidr string
	from, to              int32
}

func ruleOf(params checks.Params) ruleParams {
	r := ruleParams{group: params.Get("group"), protocol: params.Get("protocol"), cidr: params.Get("cidr")}
	r.from, r.to, _ = parsePortRange(params.Get("ports"))
	if r.protocol == "-1" {
		r.from, r.to = 0, 65535
	}
	return r
}

func (r ruleParams) String() string {
	ports := fmt.Sprintf("%d-%d", r.from, r.to)
	if r.protocol == "-1" {
		ports = "all"
	}
	return fmt.Sprintf("%s %s from %s", r.protocol, ports, r.cidr)
}

// sgRule reads a group and reports whether it has the rule; ok is false when the
// group does not exist.
func (c *conn) sgRule(ctx context.Context, region string, r ruleParams) (name string, has, ok bool, err error) {
	out, err := c.ec2(region).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{r.group}})
	if errorCode(err) == "InvalidGroup.NotFound" {
		return "", false, false, nil
	}
	if err != nil {
		return "", false, false, c.apiError("ec2:DescribeSecurityGroups", region, err)
	}
	if len(out.SecurityGroups) == 0 {
		return "", false, false, nil
	}
	sg := out.SecurityGroups[0]
	for _, p := range sg.IpPermissions {
		proto := awssdk.ToString(p.IpProtocol)
		from, to := awssdk.ToInt32(p.FromPort), awssdk.ToInt32(p.ToPort)
		if proto == "-1" {
			from, to = 0, 65535
		}
		if proto != r.protocol || from != r.from || to != r.to {
			continue
		}
		for _, ip := range p.IpRanges {
			if awssdk.ToString(ip.CidrIp) == r.cidr {
				has = true
			}
		}
		for _, ip := range p.Ipv6Ranges {
			if awssdk.ToString(ip.CidrIpv6) == r.cidr {
				has = true
			}
		}
	}
	return awssdk.ToString(sg.GroupName), has, true, nil
}

func (p *Provider) planRevoke(ctx context.Context, c *conn, region string, params checks.Params) (checks.Plan, error) {
	r := ruleOf(params)
	name, has, ok, err := c.sgRule(ctx, region, r)
	if err != nil {
		return checks.Plan{}, err
	}
	if !ok {
		return checks.Plan{}, fmt.Errorf("security group %s does not exist in %s", r.group, region)
	}
	if !has {
		return checks.Plan{}, fmt.Errorf("security group %s (%s) has no ingress rule %s; nothing to revoke (see `aws ec2 describe-security-group-rules --region %s --filters Name=group-id,Values=%s`)", r.group, name, r, region, r.group)
	}
	plan := checks.Plan{
		Target:        "security-group/" + region + "/" + r.group,
		Observed:      map[string]string{"group_name": name, "rule": r.String(), "rule_present": "true"},
		Change:        "revoke ingress " + r.String(),
		Risk:          checks.RiskLow,
		Preconditions: []string{"the rule still exists"},
	}
	zero := 0.0
	plan.MonthlyCostChangeUSD = &zero
	c.judgeRevoke(ctx, region, r, name, &plan)
	return plan, nil
}

func (p *Provider) applyRevoke(ctx context.Context, c *conn, region string, plan checks.Plan) (checks.Applied, error) {
	r := ruleOf(plan.Params)
	name, has, ok, err := c.sgRule(ctx, region, r)
	if err != nil {
		return checks.Applied{}, err
	}
	if !ok {
		return checks.Applied{}, gone(plan, "group_name")
	}
	if err := drift(plan, map[string]string{"group_name": name, "rule_present": strconv.FormatBool(has)}, "group_name", "rule_present"); err != nil {
		return checks.Applied{}, err
	}
	perm := ec2types.IpPermission{IpProtocol: &r.protocol}
	if r.protocol != "-1" {
		perm.FromPort, perm.ToPort = awssdk.Int32(r.from), awssdk.Int32(r.to)
	}
	if strings.Contains(r.cidr, ":") {
		perm.Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: &r.cidr}}
	} else {
		perm.IpRanges = []ec2types.IpRange{{CidrIp: &r.cidr}}
	}
	_, err = c.ec2(region).RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: &r.group, IpPermissions: []ec2types.IpPermission{perm}})
	if err != nil {
		return checks.Applied{}, c.apiError("ec2:RevokeSecurityGroupIngress", region, err)
	}
	return checks.Applied{Summary: fmt.Sprintf("revoked %s on %s", r, r.group), After: map[string]string{"rule_present": "false"}}, nil
}

// fixRevoke aims aws.ec2.sg.revoke at an aws.ec2.sg.open finding.
func fixRevoke(f checks.Finding) (map[string]string, bool) {
	if !strings.HasPrefix(f.Resource, "security-group/") || f.Evidence["group"] == "" {
		return nil, false
	}
	ports := f.Evidence["from_port"] + "-" + f.Evidence["to_port"]
	if f.Evidence["protocol"] == "-1" {
		ports = "all"
	}
	return map[string]string{"group": f.Evidence["group"], "region": f.Evidence["region"], "protocol": f.Evidence["protocol"], "ports": ports, "cidr": f.Evidence["cidr"]}, true
}

// --- instances ------------------------------------------------------------------

func (c *conn) instanceState(ctx context.Context, region, id string) (ec2types.Instance, bool, error) {
	out, err := c.ec2(region).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if errorCode(err) == "InvalidInstanceID.NotFound" {
		return ec2types.Instance{}, false, nil
	}
	if err != nil {
		return ec2types.Instance{}, false, c.apiError("ec2:DescribeInstances", region, err)
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			return i, true, nil
		}
	}
	return ec2types.Instance{}, false, nil
}

func stateName(i ec2types.Instance) string {
	if i.State == nil {
		return ""
	}
	return string(i.State.Name)
}

func (p *Provider) planStop(ctx context.Context, c *conn, region string, params checks.Params) (checks.Plan, error) {
	id := params.Get("instance")
	i, ok, err := c.instanceState(ctx, region, id)
	if err != nil {
		return checks.Plan{}, err
	}
	if !ok {
		return checks.Plan{}, fmt.Errorf("instance %s does not exist in %s", id, region)
	}
	if st := stateName(i); st != "running" {
		return checks.Plan{}, fmt.Errorf("instance %s is %s, not running; nothing to stop", id, st)
	}
	tags := ec2Tags(i.Tags)
	plan := checks.Plan{
		Target:        "instance/" + region + "/" + id,
		Observed:      map[string]string{"state": "running", "type": string(i.InstanceType)},
		Change:        "stop instance (running → stopped)",
		Risk:          checks.RiskMedium,
		RiskReasons:   []string{"whatever runs on it stops; its public IP changes on the next start unless it is an Elastic IP"},
		Preconditions: []string{"the instance is still running, with the same type"},
	}
	if i.InstanceLifecycle == ec2types.InstanceLifecycleTypeSpot {
		plan.RiskReasons = append(plan.RiskReasons, "a spot instance")
	}
	if i.RootDeviceType == ec2types.DeviceTypeInstanceStore {
		plan.Risk, plan.RiskReasons = checks.RiskHigh, append(plan.RiskReasons, "instance-store root device: its data is lost")
	}
	if n := prodLike(tags["Name"], tags["env"], tags["environment"]); n != "" {
		plan.Risk, plan.RiskReasons = checks.RiskHigh, append(plan.RiskReasons, fmt.Sprintf("tagged %q, which looks like production", n))
	}
	if m, err := instanceMonthly(string(i.InstanceType), region); err != nil {
		plan.CostNote = err.Error()
	} else {
		plan.MonthlyCostChangeUSD = money(round2(-m))
		plan.CostNote = fmt.Sprintf("%s on-demand in %s, embedded price table of %s; its volumes keep costing", i.InstanceType, region, PriceDate)
	}
	return plan, nil
}

func (p *Provider) applyStop(ctx context.Context, c *conn, region string, plan checks.Plan) (checks.Applied, error) {
	id := plan.Params.Get("instance")
	i, ok, err := c.instanceState(ctx, region, id)
	if err != nil {
		return checks.Applied{}, err
	}
	if !ok {
		return checks.Applied{}, gone(plan, "state")
	}
	if err := drift(plan, map[string]string{"state": stateName(i), "type": string(i.InstanceType)}, "state", "type"); err != nil {
		return checks.Applied{}, err
	}
	out, err := c.ec2(region).StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return checks.Applied{}, c.apiError("ec2:StopInstances", region, err)
	}
	after := "stopping"
	if len(out.StoppingInstances) > 0 && out.StoppingInstances[0].CurrentState != nil {
		after = string(out.StoppingInstances[0].CurrentState.Name)
	}
	return checks.Applied{Summary: fmt.Sprintf("stopping %s", id), After: map[string]string{"state": after}}, nil
}

// --- S3 public access block -----------------------------------------------------

func (c *conn) bucketBlockState(ctx context.Context, region, name string) (block, error) {
	out, err := c.s3(region).GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &name})
	switch {
	case errorCode(err) == "NoSuchPublicAccessBlockConfiguration":
		return block{}, nil
	case err != nil:
		return block{}, c.apiError("s3:GetBucketPublicAccessBlock", region, fmt.Errorf("bucket %s: %w", name, err))
	}
	return bucketBlock(out.PublicAccessBlockConfiguration), nil
}

func (p *Provider) planBlock(ctx context.Context, c *conn, region string, params checks.Params) (checks.Plan, error) {
	name := params.Get("bucket")
	b, err := c.bucketBlockState(ctx, region, name)
	if err != nil {
		return checks.Plan{}, err
	}
	if b.full() {
		return checks.Plan{}, fmt.Errorf("bucket %s already blocks all public access; nothing to change", name)
	}
	zero := 0.0
	return checks.Plan{
		Target:               "arn:aws:s3:::" + name,
		Observed:             map[string]string{"block": b.String()},
		Change:               "public access block " + b.String() + " → all four on",
		Risk:                 checks.RiskMedium,
		RiskReasons:          []string{"anything served publicly from the bucket (a static site, public downloads) stops being reachable"},
		MonthlyCostChangeUSD: &zero,
		Preconditions:        []string{"the bucket's block settings are unchanged"},
	}, nil
}

func (p *Provider) applyBlock(ctx context.Context, c *conn, region string, plan checks.Plan) (checks.Applied, error) {
	name := plan.Params.Get("bucket")
	b, err := c.bucketBlockState(ctx, region, name)
	if errorCode(errors.Unwrap(err)) == "NoSuchBucket" || errorCode(err) == "NoSuchBucket" {
		return checks.Applied{}, gone(plan, "block")
	}
	if err != nil {
		return checks.Applied{}, err
	}
	if err := drift(plan, map[string]string{"block": b.String()}, "block"); err != nil {
		return checks.Applied{}, err
	}
	on := awssdk.Bool(true)
	_, err = c.s3(region).PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &name, PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
		BlockPublicAcls: on, IgnorePublicAcls: on, BlockPublicPolicy: on, RestrictPublicBuckets: on,
	}})
	if err != nil {
		return checks.Applied{}, c.apiError("s3:PutBucketPublicAccessBlock", region, err)
	}
	return checks.Applied{Summary: "blocked all public access to bucket " + name, After: map[string]string{"block": block{true, true, true, true, true}.String()}}, nil
}

// fixBlock aims aws.s3.block_public at an aws.s3.public bucket finding.
func fixBlock(f checks.Finding) (map[string]string, bool) {
	name, ok := strings.CutPrefix(f.Resource, "arn:aws:s3:::")
	if !ok || name == "" {
		return nil, false
	}
	params := map[string]string{"bucket": name}
	if r := f.Evidence["region"]; r != "" {
		params["region"] = r
	}
	return params, true
}
