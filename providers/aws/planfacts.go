package aws

import (
	"context"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/clankerd/clankerd/checks"
)

// judgeASG adds what a capacity plan needs a person to see (the group's average CPU
// over the last hour, the target groups and load balancers sending it traffic) and
// judges the risk from it. The rules are in docs/aws.md ("How plans judge risk").
func (p *Provider) judgeASG(ctx context.Context, c *conn, region string, g *asgtypes.AutoScalingGroup, plan *checks.Plan, cur, want int) {
	name := awssdk.ToString(g.AutoScalingGroupName)
	deps, err := c.asgDependencies(ctx, region, g)
	if err != nil {
		plan.Raise(checks.RiskMedium, "could not read what sends the group traffic: "+err.Error())
	}
	plan.Dependencies = deps
	facts := checks.ScaleFacts{From: cur, To: want, Unit: "instance", Load: "average over the last hour", Dependents: len(deps),
		DependentsAre: "target groups and load balancers", NoDependents: "no target group or load balancer sends it traffic"}
	facts.CPU, plan.Utilization = c.asgCPU(ctx, region, name, p.now())
	checks.JudgeScale(plan, facts)
	if want < cur && want > 0 {
		plan.Raise(checks.RiskLow, fmt.Sprintf("removes %d instances; their in-flight work is lost unless the group drains them", cur-want))
	}
	checks.NameRisk(plan, "group", name)
}

// asgDependencies lists the group's target groups and the load balancers they belong
// to, and its Classic Load Balancers.
func (c *conn) asgDependencies(ctx context.Context, region string, g *asgtypes.AutoScalingGroup) ([]checks.Dependency, error) {
	var deps []checks.Dependency
	for _, lb := range g.LoadBalancerNames {
		deps = append(deps, checks.Dependency{Resource: "classic-load-balancer/" + region + "/" + lb, Relation: "sends traffic to its instances"})
	}
	if len(g.TargetGroupARNs) == 0 {
		return deps, nil
	}
	client := c.elbv2(region)
	tgs, err := client.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: g.TargetGroupARNs})
	if err != nil {
		return deps, c.apiError("elasticloadbalancing:DescribeTargetGroups", region, err)
	}
	var lbArns []string
	lbVia := map[string]string{}
	for _, tg := range tgs.TargetGroups {
		deps = append(deps, checks.Dependency{Resource: awssdk.ToString(tg.TargetGroupArn),
			Relation: fmt.Sprintf("target group %s: registers its instances (%s port %d)", awssdk.ToString(tg.TargetGroupName), tg.Protocol, awssdk.ToInt32(tg.Port))})
		for _, arn := range tg.LoadBalancerArns {
			if _, seen := lbVia[arn]; !seen {
				lbArns = append(lbArns, arn)
				lbVia[arn] = awssdk.ToString(tg.TargetGroupName)
			}
		}
	}
	if len(lbArns) == 0 {
		return deps, nil
	}
	lbs, err := client.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: lbArns})
	if err != nil {
		return deps, c.apiError("elasticloadbalancing:DescribeLoadBalancers", region, err)
	}
	for _, lb := range lbs.LoadBalancers {
		arn := awssdk.ToString(lb.LoadBalancerArn)
		deps = append(deps, checks.Dependency{Resource: arn,
			Relation: fmt.Sprintf("load balancer %s (%s): forwards to it through target group %s", awssdk.ToString(lb.LoadBalancerName), lb.Type, lbVia[arn])})
	}
	return deps, nil
}

// cpuWindow is how far back a capacity plan averages the group's CPU.
const cpuWindow = time.Hour

// asgCPU is the group's average CPUUtilization over the last hour from CloudWatch
// (AWS/EC2, dimension AutoScalingGroupName), or nil and why it is unknown.
func (c *conn) asgCPU(ctx context.Context, region, name string, now time.Time) (*float64, string) {
	out, err := cloudwatch.NewFromConfig(c.cfg, func(o *cloudwatch.Options) { o.Region = region }).GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: awssdk.String("AWS/EC2"), MetricName: awssdk.String("CPUUtilization"),
		Dimensions: []cwtypes.Dimension{{Name: awssdk.String("AutoScalingGroupName"), Value: awssdk.String(name)}},
		StartTime:  awssdk.Time(now.Add(-cpuWindow)), EndTime: awssdk.Time(now),
		Period: awssdk.Int32(300), Statistics: []cwtypes.Statistic{cwtypes.StatisticAverage, cwtypes.StatisticSampleCount},
	})
	if err != nil {
		return nil, "utilization unknown: " + c.apiError("cloudwatch:GetMetricStatistics", region, err).Error()
	}
	var sum, samples float64
	for _, d := range out.Datapoints {
		n := awssdk.ToFloat64(d.SampleCount)
		if n == 0 {
			n = 1
		}
		sum += awssdk.ToFloat64(d.Average) * n
		samples += n
	}
	if samples == 0 {
		return nil, "utilization unknown: CloudWatch has no CPUUtilization for the group in the last hour"
	}
	avg := sum / samples
	return &avg, fmt.Sprintf("CPU %.0f%% average over the last hour (CloudWatch AWS/EC2 CPUUtilization, %d datapoints)", avg, len(out.Datapoints))
}

// sgUsers lists the instances and network interfaces that use a security group: what
// loses access when one of its rules goes. An interface attached to a listed instance
// is named with the instance, not again.
func (c *conn) sgUsers(ctx context.Context, region, group string) ([]checks.Dependency, error) {
	client := c.ec2(region)
	filter := func(name string) []ec2types.Filter {
		return []ec2types.Filter{{Name: awssdk.String(name), Values: []string{group}}}
	}
	pg := ec2.NewDescribeInstancesPaginator(client, &ec2.DescribeInstancesInput{Filters: filter("instance.group-id")})
	reservations, err := paginate(ctx, c, "ec2:DescribeInstances", region, pg.HasMorePages,
		func(ctx context.Context) (*ec2.DescribeInstancesOutput, error) { return pg.NextPage(ctx) },
		func(o *ec2.DescribeInstancesOutput) []ec2types.Reservation { return o.Reservations })
	if err != nil {
		return nil, err
	}
	var deps []checks.Dependency
	instances := map[string]bool{}
	for _, r := range reservations {
		for _, i := range r.Instances {
			id := awssdk.ToString(i.InstanceId)
			instances[id] = true
			rel := "uses the group (" + stateName(i)
			if n := nameOf(i.Tags); n != "" {
				rel += ", " + n
			}
			deps = append(deps, checks.Dependency{Resource: "instance/" + region + "/" + id, Relation: rel + ")"})
		}
	}
	enis := ec2.NewDescribeNetworkInterfacesPaginator(client, &ec2.DescribeNetworkInterfacesInput{Filters: filter("group-id")})
	interfaces, err := paginate(ctx, c, "ec2:DescribeNetworkInterfaces", region, enis.HasMorePages,
		func(ctx context.Context) (*ec2.DescribeNetworkInterfacesOutput, error) { return enis.NextPage(ctx) },
		func(o *ec2.DescribeNetworkInterfacesOutput) []ec2types.NetworkInterface { return o.NetworkInterfaces })
	if err != nil {
		return deps, err
	}
	for _, n := range interfaces {
		if n.Attachment != nil && instances[awssdk.ToString(n.Attachment.InstanceId)] {
			continue
		}
		rel := "uses the group"
		if d := awssdk.ToString(n.Description); d != "" {
			rel += " (" + d + ")"
		}
		deps = append(deps, checks.Dependency{Resource: "network-interface/" + region + "/" + awssdk.ToString(n.NetworkInterfaceId), Relation: rel})
	}
	return deps, nil
}

// judgeRevoke names what uses the group and judges the revoke from it: nothing using
// the group is LOW; something using it MEDIUM, since the clients from the rule's
// source lose access to it; the name heuristic as one reason among others.
func (c *conn) judgeRevoke(ctx context.Context, region string, r ruleParams, name string, plan *checks.Plan) {
	deps, err := c.sgUsers(ctx, region, r.group)
	plan.Dependencies = deps
	switch {
	case err != nil:
		plan.Raise(checks.RiskMedium, "could not read what uses the group: "+err.Error())
	case len(deps) == 0:
		plan.Raise(checks.RiskLow, "no instance or network interface uses the group: nothing loses access now")
	default:
		plan.Raise(checks.RiskMedium, fmt.Sprintf("%d instances and network interfaces use the group: clients that reach these ports from %s lose access to them", len(deps), r.cidr))
	}
	checks.NameRisk(plan, "group", name)
}
