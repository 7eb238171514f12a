package aws

import (
	"fmt"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/testenv/plantest"
)

// group makes an Auto Scaling group of n m5.large instances, attached to target
// groups, and reports cpu (percent) for it to CloudWatch over the last hour unless
// cpu is negative.
func group(t *testing.T, cfg awssdk.Config, name string, n int32, cpu float64, targetGroups ...string) {
	t.Helper()
	ctx := t.Context()
	a := autoscaling.NewFromConfig(cfg)
	if _, err := a.CreateLaunchConfiguration(ctx, &autoscaling.CreateLaunchConfigurationInput{LaunchConfigurationName: awssdk.String(name), ImageId: awssdk.String("ami-12345678"), InstanceType: awssdk.String("m5.large")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: awssdk.String(name), LaunchConfigurationName: awssdk.String(name),
		MinSize: awssdk.Int32(0), MaxSize: awssdk.Int32(10), DesiredCapacity: awssdk.Int32(n), AvailabilityZones: []string{"us-east-1a"}, TargetGroupARNs: targetGroups}); err != nil {
		t.Fatal(err)
	}
	if cpu < 0 {
		return
	}
	var data []cwtypes.MetricDatum
	for i := range 6 {
		data = append(data, cwtypes.MetricDatum{
			MetricName: awssdk.String("CPUUtilization"), Unit: cwtypes.StandardUnitPercent, Value: awssdk.Float64(cpu),
			Dimensions: []cwtypes.Dimension{{Name: awssdk.String("AutoScalingGroupName"), Value: awssdk.String(name)}},
			Timestamp:  awssdk.Time(time.Now().Add(-time.Duration(5+i*10) * time.Minute)),
		})
	}
	if _, err := cloudwatch.NewFromConfig(cfg).PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: awssdk.String("AWS/EC2"), MetricData: data}); err != nil {
		t.Fatal(err)
	}
}

// targetGroup makes an internet-facing load balancer forwarding to a new target group and returns the
// group's and the balancer's ARNs.
func targetGroup(t *testing.T, cfg awssdk.Config, name string) (tgARN, lbARN string) {
	t.Helper()
	ctx := t.Context()
	ec := ec2Client(cfg)
	vpc := must[*ec2.CreateVpcOutput](t)(ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: awssdk.String("10.3.0.0/16")}))
	var subnets []string
	for i, az := range []string{"us-east-1a", "us-east-1b"} {
		sn := must[*ec2.CreateSubnetOutput](t)(ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: awssdk.String(fmt.Sprintf("10.3.%d.0/24", i+1)), AvailabilityZone: awssdk.String(az)}))
		subnets = append(subnets, awssdk.ToString(sn.Subnet.SubnetId))
	}
	lb := elbv2.NewFromConfig(cfg)
	balancer := must[*elbv2.CreateLoadBalancerOutput](t)(lb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: awssdk.String(name + "-lb"), Subnets: subnets,
		Scheme: elbtypes.LoadBalancerSchemeEnumInternetFacing})) // AWS's default; moto leaves it out unless given
	tg := must[*elbv2.CreateTargetGroupOutput](t)(lb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: awssdk.String(name + "-tg"), Protocol: elbtypes.ProtocolEnumHttp, Port: awssdk.Int32(8080), VpcId: vpc.Vpc.VpcId}))
	tgARN, lbARN = awssdk.ToString(tg.TargetGroups[0].TargetGroupArn), awssdk.ToString(balancer.LoadBalancers[0].LoadBalancerArn)
	if _, err := lb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: &lbARN, Protocol: elbtypes.ProtocolEnumHttp, Port: awssdk.Int32(80),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &tgARN}}}); err != nil {
		t.Fatal(err)
	}
	return tgARN, lbARN
}

func reasons(plan checks.Plan) string { return strings.Join(plan.RiskReasons, "; ") }

// A capacity plan shows the group's CPU from CloudWatch and the target groups and load
// balancers sending it traffic, and judges from them: idle with nothing in front is
// LOW though the group's name looks like production; busy is HIGH.
func TestASGPlanFacts(t *testing.T) {
	p, cfg := account(t, Options{})
	m := plantest.New(t, p, time.Hour)
	plan := func(name string, desired int) checks.Plan {
		t.Helper()
		return m.Queue(t, m.Item(t, "aws.asg.capacity", params(map[string]string{"asg": name, "desired": fmt.Sprint(desired)}), "")).Plan
	}

	group(t, cfg, "prod-billing-worker", 4, 3)
	idle := plan("prod-billing-worker", 2)
	if idle.Risk != checks.RiskLow || !strings.Contains(reasons(idle), "idle (CPU 3% average over the last hour, under 10%) and no target group or load balancer sends it traffic") ||
		!strings.Contains(reasons(idle), `the group "prod-billing-worker" looks like production`) {
		t.Errorf("idle, nothing in front, production name: %s: %s", idle.Risk, reasons(idle))
	}
	if !strings.HasPrefix(idle.Utilization, "CPU 3% average over the last hour (CloudWatch AWS/EC2 CPUUtilization") || len(idle.Dependencies) != 0 {
		t.Errorf("utilization %q, dependencies %v", idle.Utilization, idle.Dependencies)
	}

	tg, lb := targetGroup(t, cfg, "web")
	group(t, cfg, "web", 4, 5, tg)
	served := plan("web", 2)
	if len(served.Dependencies) != 2 || served.Dependencies[0].Resource != tg || !strings.Contains(served.Dependencies[0].Relation, "target group web-tg: registers its instances (HTTP port 8080)") ||
		served.Dependencies[1].Resource != lb || !strings.Contains(served.Dependencies[1].Relation, "load balancer web-lb (application): forwards to it through target group web-tg") {
		t.Errorf("dependencies = %+v", served.Dependencies)
	}
	if served.Risk != checks.RiskMedium || !strings.Contains(reasons(served), "but 2 target groups and load balancers route to it") {
		t.Errorf("idle behind a load balancer: %s: %s", served.Risk, reasons(served))
	}

	group(t, cfg, "batch", 4, 70)
	if busy := plan("batch", 2); busy.Risk != checks.RiskHigh || !strings.Contains(reasons(busy), "busy: CPU 70% average over the last hour now, about 140% after the change") {
		t.Errorf("busy: %s: %s", busy.Risk, reasons(busy))
	}
	group(t, cfg, "quiet", 4, -1)
	if unknown := plan("quiet", 2); unknown.Utilization != "utilization unknown: CloudWatch has no CPUUtilization for the group in the last hour" || unknown.Risk != checks.RiskMedium {
		t.Errorf("no metrics: %q %s: %s", unknown.Utilization, unknown.Risk, reasons(unknown))
	}
}

// A revoke names the instances and network interfaces using the group; with none it
// is LOW, even in a group whose name looks like production.
func TestRevokePlanNamesUsers(t *testing.T) {
	p, cfg := account(t, Options{})
	ctx := t.Context()
	ec := ec2Client(cfg)
	ssh := ec2types.IpPermission{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}
	newGroup := func(name string) string {
		sg := must[*ec2.CreateSecurityGroupOutput](t)(ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String(name), Description: awssdk.String(name)}))
		if _, err := ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{ssh}}); err != nil {
			t.Fatal(err)
		}
		return awssdk.ToString(sg.GroupId)
	}
	unused, used := newGroup("prod-unused"), newGroup("bastion")
	run := must[*ec2.RunInstancesOutput](t)(ec.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: awssdk.String("ami-12345678"), MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1),
		SecurityGroupIds: []string{used}, TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: awssdk.String("Name"), Value: awssdk.String("jump")}}}}}))
	instance := awssdk.ToString(run.Instances[0].InstanceId)
	subnet := awssdk.ToString(run.Instances[0].SubnetId)
	eni := must[*ec2.CreateNetworkInterfaceOutput](t)(ec.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: &subnet, Groups: []string{used}, Description: awssdk.String("lambda vpc access")}))

	m := plantest.New(t, p, time.Hour)
	revoke := func(group string) checks.Plan {
		return m.Queue(t, m.Item(t, "aws.ec2.sg.revoke", params(map[string]string{"group": group, "protocol": "tcp", "ports": "22", "cidr": "0.0.0.0/0"}), "")).Plan
	}
	if plan := revoke(unused); plan.Risk != checks.RiskLow || len(plan.Dependencies) != 0 || !strings.Contains(reasons(plan), "no instance or network interface uses the group") {
		t.Errorf("revoke on an unused group: %s %v: %s", plan.Risk, plan.Dependencies, reasons(plan))
	}
	plan := revoke(used)
	var got []string
	for _, d := range plan.Dependencies {
		got = append(got, d.Resource+" "+d.Relation)
	}
	want := []string{"instance/us-east-1/" + instance + " uses the group (running, jump)",
		"network-interface/us-east-1/" + awssdk.ToString(eni.NetworkInterface.NetworkInterfaceId) + " uses the group (lambda vpc access)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("users of the group:\n got %q\nwant %q", got, want)
	}
	if plan.Risk != checks.RiskMedium || !strings.Contains(reasons(plan), "2 instances and network interfaces use the group: clients that reach these ports from 0.0.0.0/0 lose access to them") {
		t.Errorf("revoke on a used group: %s: %s", plan.Risk, reasons(plan))
	}
}
