package aws

import (
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

// instance runs one instance of the type with tags and returns its id.
func instance(t *testing.T, ec *ec2.Client, itype string, tags map[string]string) string {
	t.Helper()
	in := &ec2.RunInstancesInput{ImageId: awssdk.String("ami-12345678"), InstanceType: ec2types.InstanceType(itype), MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1)}
	if len(tags) > 0 {
		spec := ec2types.TagSpecification{ResourceType: ec2types.ResourceTypeInstance}
		for k, v := range tags {
			spec.Tags = append(spec.Tags, ec2types.Tag{Key: awssdk.String(k), Value: awssdk.String(v)})
		}
		in.TagSpecifications = []ec2types.TagSpecification{spec}
	}
	out := must[*ec2.RunInstancesOutput](t)(ec.RunInstances(t.Context(), in))
	return awssdk.ToString(out.Instances[0].InstanceId)
}

func TestWaste(t *testing.T) {
	p, cfg := account(t, Options{})
	ec := ec2Client(cfg)
	ctx := t.Context()

	vol := must[*ec2.CreateVolumeOutput](t)(ec.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: awssdk.String("us-east-1a"), Size: awssdk.Int32(100), VolumeType: ec2types.VolumeTypeGp3}))
	eip := must[*ec2.AllocateAddressOutput](t)(ec.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc}))
	running := instance(t, ec, "m5.large", map[string]string{"owner": "payments"})
	stopped := instance(t, ec, "t3.micro", nil)
	if _, err := ec.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{stopped}}); err != nil {
		t.Fatal(err)
	}
	// An associated EIP is not waste.
	used := must[*ec2.AllocateAddressOutput](t)(ec.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc}))
	if _, err := ec.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: used.AllocationId, InstanceId: &running}); err != nil {
		t.Fatal(err)
	}
	volID, eipID := awssdk.ToString(vol.VolumeId), awssdk.ToString(eip.AllocationId)

	res, err := run(t, p, "aws.ec2.volumes.unattached", nil)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "aws.ec2.volumes.unattached", describeFindings(t, "", res.Findings), "volume/us-east-1/"+volID+" unattached low")
	if c := res.Findings[0].MonthlyCostUSD; c == nil || *c != 8 { // 100 GiB × $0.08
		t.Errorf("volume cost = %v, want 8", c)
	}
	res, err = run(t, p, "aws.ec2.eip.unassociated", nil)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "aws.ec2.eip.unassociated", describeFindings(t, "", res.Findings), "elastic-ip/us-east-1/"+eipID+" unassociated low")
	if c := res.Findings[0].MonthlyCostUSD; c == nil || *c != 3.65 {
		t.Errorf("EIP cost = %v, want 3.65", c)
	}

	// Just stopped: not yet reported; 8 days later it is.
	expect(t, "aws.ec2.instances.stopped", found(t, p, "aws.ec2.instances.stopped", nil))
	later := New(Options{MaxAttempts: 1, Now: func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }})
	res, err = run(t, later, "aws.ec2.instances.stopped", nil)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "aws.ec2.instances.stopped later", describeFindings(t, "", res.Findings), "instance/us-east-1/"+stopped+" stopped low")
	if len(res.Findings) == 1 && res.Findings[0].Evidence["stopped_since"] == "unknown" {
		t.Errorf("stop time not read: %+v", res.Findings[0])
	}

	// Tags: everything but the running instance lacks owner; with min_cost=10 only
	// what costs at least $10 a month is reported (the m5.large costs ~$70 and is
	// tagged; the 100 GiB volume costs $8).
	want := []string{
		"volume/us-east-1/" + volID + " missing_tags low",
		"elastic-ip/us-east-1/" + eipID + " missing_tags low",
		"elastic-ip/us-east-1/" + awssdk.ToString(used.AllocationId) + " missing_tags low",
		"instance/us-east-1/" + stopped + " missing_tags low",
	}
	vols := must[*ec2.DescribeVolumesOutput](t)(ec.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}))
	for _, v := range vols.Volumes {
		if len(v.Attachments) > 0 { // the instances' untagged root volumes
			want = append(want, "volume/us-east-1/"+awssdk.ToString(v.VolumeId)+" missing_tags low")
		}
	}
	expect(t, "aws.tags.missing", found(t, p, "aws.tags.missing", map[string]string{"tags": "owner"}), want...)
	expect(t, "aws.tags.missing min_cost", found(t, p, "aws.tags.missing", map[string]string{"tags": "owner", "min_cost": "5"}),
		"volume/us-east-1/"+volID+" missing_tags low",
	)
	expect(t, "aws.tags.missing env", found(t, p, "aws.tags.missing", map[string]string{"tags": "owner,env", "types": "instance", "min_cost": "10"}),
		"instance/us-east-1/"+running+" missing_tags low",
	)

	// Fixing the waste resolves it.
	if _, err := ec.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: vol.VolumeId}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: eip.AllocationId}); err != nil {
		t.Fatal(err)
	}
	expect(t, "volumes after delete", found(t, p, "aws.ec2.volumes.unattached", nil))
	expect(t, "EIPs after release", found(t, p, "aws.ec2.eip.unassociated", nil))
}

func TestExposure(t *testing.T) {
	p, cfg := account(t, Options{})
	ctx := t.Context()
	r := rds.NewFromConfig(cfg)
	for _, db := range []struct {
		id     string
		public bool
	}{{"orders", true}, {"internal", false}} {
		_, err := r.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: awssdk.String(db.id), DBInstanceClass: awssdk.String("db.t3.micro"),
			Engine: awssdk.String("postgres"), MasterUsername: awssdk.String("admin"), MasterUserPassword: awssdk.String("secret-password"),
			AllocatedStorage: awssdk.Int32(20), PubliclyAccessible: awssdk.Bool(db.public)})
		if err != nil {
			t.Fatal(err)
		}
	}
	got := found(t, p, "aws.rds.public", nil)
	if len(got) != 1 || !strings.HasSuffix(got[0], ":db:orders publicly_accessible high") {
		t.Errorf("aws.rds.public = %q, want only orders", got)
	}

	ec := ec2Client(cfg)
	vpc := must[*ec2.CreateVpcOutput](t)(ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: awssdk.String("10.2.0.0/16")}))
	var subnets []string
	for i, az := range []string{"us-east-1a", "us-east-1b"} {
		sn := must[*ec2.CreateSubnetOutput](t)(ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: awssdk.String([]string{"10.2.1.0/24", "10.2.2.0/24"}[i]), AvailabilityZone: awssdk.String(az)}))
		subnets = append(subnets, awssdk.ToString(sn.Subnet.SubnetId))
	}
	lb := elbv2.NewFromConfig(cfg)
	for _, l := range []struct{ name, scheme string }{{"public-web", "internet-facing"}, {"private-api", "internal"}} {
		if _, err := lb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: awssdk.String(l.name), Subnets: subnets, Scheme: elbScheme(l.scheme)}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := run(t, p, "aws.elb.public", nil)
	if err != nil {
		t.Fatal(err)
	}
	got = describeFindings(t, "aws.elb.public", res.Findings)
	if len(got) != 1 || !strings.Contains(got[0], "loadbalancer/app/public-web/") || !strings.HasSuffix(got[0], " internet_facing info") {
		t.Errorf("aws.elb.public = %q, want only public-web", got)
	}
	if res.Status() != "pass" {
		t.Errorf("an inventory finding (info) failed the check: %s", res.Status())
	}
}

func elbScheme(s string) elbtypes.LoadBalancerSchemeEnum { return elbtypes.LoadBalancerSchemeEnum(s) }
