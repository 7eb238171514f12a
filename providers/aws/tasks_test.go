package aws

import (
	"errors"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/runner"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/internal/testenv/awstest"
	"github.com/clankerd/clankerd/internal/testenv/plantest"
	"github.com/clankerd/clankerd/tasks"
)

func params(raw map[string]string) map[string]string {
	raw["endpoint"] = moto.URL
	return raw
}

func liveDesired(t *testing.T, a *autoscaling.Client, name string) int32 {
	t.Helper()
	out := must[*autoscaling.DescribeAutoScalingGroupsOutput](t)(a.DescribeAutoScalingGroups(t.Context(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}}))
	return awssdk.ToInt32(out.AutoScalingGroups[0].DesiredCapacity)
}

func TestASGCapacityPlanApproveDrift(t *testing.T) {
	p, cfg := account(t, Options{})
	ctx := t.Context()
	a := autoscaling.NewFromConfig(cfg)
	_, err := a.CreateLaunchConfiguration(ctx, &autoscaling.CreateLaunchConfigurationInput{LaunchConfigurationName: awssdk.String("web"), ImageId: awssdk.String("ami-12345678"), InstanceType: awssdk.String("m5.large")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: awssdk.String("web"), LaunchConfigurationName: awssdk.String("web"),
		MinSize: awssdk.Int32(1), MaxSize: awssdk.Int32(10), DesiredCapacity: awssdk.Int32(2), AvailabilityZones: []string{"us-east-1a"}})
	if err != nil {
		t.Fatal(err)
	}
	m := plantest.New(t, p, time.Hour)
	plan := m.Queue(t, m.Item(t, "aws.asg.capacity", params(map[string]string{"asg": "web", "desired": "5"}), ""))
	if plan.Target != "autoscaling-group/us-east-1/web" || plan.Observed["desired"] != "2" || plan.Observed["min"] != "1" || plan.Observed["max"] != "10" ||
		plan.Observed["account"] != "123456789012" || plan.Change != "desired capacity 2 → 5" || plan.Risk != checks.RiskLow {
		t.Fatalf("plan = %+v", plan)
	}
	// 3 × m5.large ($0.096/h × 730 h = $70.08) = $210.24
	if plan.MonthlyCostChangeUSD == nil || *plan.MonthlyCostChangeUSD != 210.24 {
		t.Errorf("cost change = %v (%s)", plan.MonthlyCostChangeUSD, plan.CostNote)
	}
	if liveDesired(t, a, "web") != 2 {
		t.Fatal("queueing changed the group")
	}
	if _, err := m.Approve(ctx, plan.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := liveDesired(t, a, "web"); got != 5 {
		t.Errorf("desired after approve = %d, want 5", got)
	}
	if got := strings.Join(m.Audit(t, plan.ID), ","); got != "plan.created,plan.approved,plan.applying,plan.applied" {
		t.Errorf("audit: %s", got)
	}

	// Someone scales the group after the plan: approve refuses and changes nothing.
	stale := m.Queue(t, m.Item(t, "aws.asg.capacity", params(map[string]string{"asg": "web", "desired": "1"}), ""))
	if stale.Risk != checks.RiskMedium {
		t.Errorf("scaling down: risk %s", stale.Risk)
	}
	if _, err := a.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: awssdk.String("web"), DesiredCapacity: awssdk.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Approve(ctx, stale.ID, "alice")
	if !errors.Is(err, tasks.ErrStale) || got.State != tasks.PlanStale || !strings.Contains(got.Error, `desired was "5" when planned, is "3" now`) {
		t.Errorf("approve after drift: %v, %+v", err, got)
	}
	if liveDesired(t, a, "web") != 3 {
		t.Error("a stale plan changed the group")
	}

	// Out of the group's limits: no plan.
	if _, err := m.Draft(t, m.Item(t, "aws.asg.capacity", params(map[string]string{"asg": "web", "desired": "50"}), "")); err == nil || !strings.Contains(err.Error(), "outside the group's size limits 1..10") {
		t.Errorf("desired above max: %v", err)
	}
}

func TestSecurityGroupRevokeAndFix(t *testing.T) {
	p, cfg := account(t, Options{})
	ctx := t.Context()
	ec := ec2Client(cfg)
	sg := must[*ec2.CreateSecurityGroupOutput](t)(ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("bastion"), Description: awssdk.String("bastion")}))
	id := awssdk.ToString(sg.GroupId)
	ssh := ec2types.IpPermission{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}
	if _, err := ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{ssh}}); err != nil {
		t.Fatal(err)
	}
	m := plantest.New(t, p, time.Hour)

	// The check item with fix= queues a revoke plan for its new finding.
	check := m.Item(t, "aws.ec2.sg.open", params(map[string]string{}), "aws.ec2.sg.revoke")
	o := m.Runner.RunItem(ctx, check, runnerTrigger())
	if o.Err != nil || o.Receipt.Status != checks.Fail {
		t.Fatalf("check: %+v %v", o.Receipt, o.Err)
	}
	plans, err := m.Plans(ctx, tasks.PlanFilter{States: []tasks.PlanState{tasks.PlanPending}})
	if err != nil || len(plans) != 1 {
		t.Fatalf("plans after fix= = %+v, %v", plans, err)
	}
	plan := plans[0]
	if plan.Task != "aws.ec2.sg.revoke" || plan.Target != "security-group/us-east-1/"+id || plan.Change != "revoke ingress tcp 22-22 from 0.0.0.0/0" {
		t.Fatalf("fix plan = %+v", plan)
	}
	if _, err := m.Approve(ctx, plan.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	expect(t, "aws.ec2.sg.open after the approved revoke", found(t, p, "aws.ec2.sg.open", nil))

	// A plan for a rule that someone else removed first is refused.
	if _, err := ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{ssh}}); err != nil {
		t.Fatal(err)
	}
	again := m.Queue(t, m.Item(t, "aws.ec2.sg.revoke", params(map[string]string{"group": id, "protocol": "tcp", "ports": "22", "cidr": "0.0.0.0/0"}), ""))
	if _, err := ec.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{ssh}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, again.ID, "alice"); !errors.Is(err, tasks.ErrStale) || !strings.Contains(err.Error(), "rule_present") {
		t.Errorf("approve after the rule went: %v", err)
	}
	// And one for a deleted group.
	if _, err := ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{ssh}}); err != nil {
		t.Fatal(err)
	}
	third := m.Queue(t, m.Item(t, "aws.ec2.sg.revoke", params(map[string]string{"group": id, "protocol": "tcp", "ports": "22-22", "cidr": "0.0.0.0/0"}), ""))
	if _, err := ec.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sg.GroupId}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Approve(ctx, third.ID, "alice"); !errors.Is(err, tasks.ErrStale) || !strings.Contains(err.Error(), "(gone)") {
		t.Errorf("approve after the group went: %v", err)
	}
}

func TestS3BlockPublic(t *testing.T) {
	p, cfg := account(t, Options{})
	ctx := t.Context()
	s := s3Client(cfg)
	if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: awssdk.String("site")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: awssdk.String("site"), ACL: s3types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	m := plantest.New(t, p, time.Hour)
	plan := m.Queue(t, m.Item(t, "aws.s3.block_public", params(map[string]string{"bucket": "site"}), ""))
	if plan.Observed["block"] != "none" || plan.Risk != checks.RiskMedium {
		t.Fatalf("plan = %+v", plan)
	}
	if _, err := m.Approve(ctx, plan.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	out := must[*s3.GetPublicAccessBlockOutput](t)(s.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: awssdk.String("site")}))
	if b := bucketBlock(out.PublicAccessBlockConfiguration); !b.full() {
		t.Errorf("block after approve: %s", b)
	}
	got := found(t, p, "aws.s3.public", nil)
	for _, f := range got {
		if strings.HasPrefix(f, "arn:aws:s3:::site ") && !strings.HasSuffix(f, "public_acl low") {
			t.Errorf("after the block: %s", f)
		}
	}
	// Nothing left to block.
	if _, err := m.Draft(t, m.Item(t, "aws.s3.block_public", params(map[string]string{"bucket": "site"}), "")); err == nil || !strings.Contains(err.Error(), "already blocks") {
		t.Errorf("second plan: %v", err)
	}
}

func TestInstanceStop(t *testing.T) {
	p, cfg := account(t, Options{})
	ctx := t.Context()
	ec := ec2Client(cfg)
	id := instance(t, ec, "t3.large", map[string]string{"Name": "prod-worker"})
	m := plantest.New(t, p, time.Hour)
	plan := m.Queue(t, m.Item(t, "aws.ec2.instance.stop", params(map[string]string{"instance": id}), ""))
	if plan.Observed["state"] != "running" || plan.Risk != checks.RiskHigh || plan.MonthlyCostChangeUSD == nil || *plan.MonthlyCostChangeUSD != -60.74 {
		t.Fatalf("plan = %+v cost %v", plan, plan.MonthlyCostChangeUSD)
	}
	if _, err := m.Approve(ctx, plan.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	out := must[*ec2.DescribeInstancesOutput](t)(ec.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}))
	if st := stateName(out.Reservations[0].Instances[0]); st != "stopped" && st != "stopping" {
		t.Errorf("state after approve: %s", st)
	}
	if _, err := m.Draft(t, m.Item(t, "aws.ec2.instance.stop", params(map[string]string{"instance": id}), "")); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("stopping a stopped instance: %v", err)
	}
}

func TestECSServiceCount(t *testing.T) {
	p, cfg := account(t, Options{})
	ctx := t.Context()
	e := ecs.NewFromConfig(cfg)
	if _, err := e.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: awssdk.String("apps")}); err != nil {
		t.Fatal(err)
	}
	td := must[*ecs.RegisterTaskDefinitionOutput](t)(e.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: awssdk.String("api"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: awssdk.String("api"), Image: awssdk.String("registry.example/api:1"), Memory: awssdk.Int32(256)}}}))
	if _, err := e.CreateService(ctx, &ecs.CreateServiceInput{Cluster: awssdk.String("apps"), ServiceName: awssdk.String("api"), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: awssdk.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	m := plantest.New(t, p, time.Hour)
	plan := m.Queue(t, m.Item(t, "aws.ecs.service.count", params(map[string]string{"cluster": "apps", "service": "api", "count": "4"}), ""))
	if plan.Observed["desired"] != "2" || plan.Observed["running"] != "2" || plan.Change != "desired tasks 2 → 4 (running now: 2)" {
		t.Fatalf("plan = %+v", plan)
	}
	if _, err := m.Approve(ctx, plan.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	out := must[*ecs.DescribeServicesOutput](t)(e.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: awssdk.String("apps"), Services: []string{"api"}}))
	if n := out.Services[0].DesiredCount; n != 4 {
		t.Errorf("desired after approve = %d", n)
	}
	_ = awstest.ECSRunning
}

func runnerTrigger() runner.Trigger { return runner.Trigger{Kind: store.TriggerSchedule} }
