package aws

import (
	"testing"

	"github.com/clankerd/clankerd/internal/testenv/checktest"
)

// TestExtract takes the parameters of AWS checks and tasks from questions, with the
// profiles the shared config files would give.
func TestExtract(t *testing.T) {
	names := map[string][]string{"profile": {"prod", "dev"}}
	oneProd := map[string][]string{"profile": {"dev", "Prod-Main"}}
	x := checktest.NewExtractions(t, New(Options{}))
	x.Expect("are any s3 buckets public in dev?", "aws.s3.public", names, "profile=dev from an AWS profile")
	x.Expect("are production buckets public?", "aws.s3.public", oneProd, `profile=Prod-Main from "production"`)
	x.Expect("are prod buckets public?", "aws.s3.public", nil)
	x.Expect("is rdp open in any security group in eu-west-1?", "aws.ec2.sg.open", nil, "region=eu-west-1 from the question")
	x.Expect("open security groups in us-east-1 and eu-west-1, us-east-1 first", "aws.ec2.sg.open", nil, "regions=us-east-1,eu-west-1 from the question")
	x.Expect("unattached ebs volumes in all regions", "aws.ec2.volumes.unattached", nil, `regions=all from "all regions"`)
	// A check that is not regional takes no regions.
	x.Expect("does the root account in every region have mfa?", "aws.iam.root", nil)
	x.Expect("revoke the open ssh rule on sg-0123456789abcdef0", "aws.ec2.sg.revoke", nil,
		"group=sg-0123456789abcdef0 from the question", `protocol=tcp from "ssh"`, `ports=22 from "ssh"`, `cidr=0.0.0.0/0 from "open"`)
	x.Expect("close port 8080 from 10.0.0.0/8 on sg-0123456789abcdef0", "aws.ec2.sg.revoke", nil,
		"group=sg-0123456789abcdef0 from the question", "cidr=10.0.0.0/8 from the question", "protocol=tcp from port 8080", "ports=8080 from port 8080")
	x.Expect("revoke the rule on sg-1", "aws.ec2.sg.revoke", nil)
	x.Expect("stop instance i-0123456789abcdef0 in prod", "aws.ec2.instance.stop", names,
		"profile=prod from an AWS profile", "instance=i-0123456789abcdef0 from the question")
	x.Expect("set the autoscaling group web to 4 instances", "aws.asg.capacity", nil, "asg=web from the question")
	x.Expect("set asg 4", "aws.asg.capacity", nil)
	x.Expect("block public access to bucket site-assets", "aws.s3.block_public", nil, "bucket=site-assets from the question")
	x.Expect("scale the service api in cluster main to 3", "aws.ecs.service.count", nil,
		"service=api from the question", "cluster=main from the question")
	// A check of another package has none of the parameters.
	x.Expect("restart service api on sg-0123456789abcdef0 in eu-west-1 for prod", "", names)
}

// TestNamesSayWhetherConfigured: with no config files and no credentials in the
// environment AWS names nothing (a category question leaves its checks out); keys in
// the environment count as configured.
func TestNamesSayWhetherConfigured(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/none")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	p := New(Options{})
	if names := p.Names(t.Context()); len(names["profile"]) != 0 || len(names["credentials"]) != 0 {
		t.Errorf("names %v, want none", names)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	if names := p.Names(t.Context()); len(names["credentials"]) != 1 {
		t.Errorf("names %v, want environment credentials", names)
	}
	if !p.Owns("aws.s3.public") || p.Owns("k8s.exposure.public") {
		t.Error("Owns")
	}
}
