package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/clankerd/clankerd/internal/awstest"
)

// TestAWSThroughCLI runs the built binary against moto, found through
// AWS_ENDPOINT_URL as the AWS CLI would: an open security group is found, fix=
// queues the revoke plan, approve applies it, and the next check resolves the
// finding.
func TestAWSThroughCLI(t *testing.T) {
	moto, err := awstest.Start()
	if err != nil {
		awstest.Require(t, nil, err.Error())
	}
	defer moto.Stop()
	envs := []string{"AWS_ENDPOINT_URL=" + moto.URL}
	for k, v := range awstest.Env {
		if k != "AWS_ENDPOINT_URL" {
			envs = append(envs, k+"="+v)
		}
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithBaseEndpoint(moto.URL))
	if err != nil {
		t.Fatal(err)
	}
	ec := ec2.NewFromConfig(cfg)
	sg, err := ec.CreateSecurityGroup(t.Context(), &ec2.CreateSecurityGroupInput{GroupName: awssdk.String("bastion"), Description: awssdk.String("bastion")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ec.AuthorizeSecurityGroupIngress(t.Context(), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{
		{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}}})
	if err != nil {
		t.Fatal(err)
	}

	state, dir := t.TempDir(), t.TempDir()
	hb := filepath.Join(dir, "HEARTBEAT.md")
	writeFile(t, hb, "---\naws_region: us-east-1\n---\n## Hourly\n- `aws.ec2.sg.open` fix=aws.ec2.sg.revoke\n")
	check := func(wantCode int) checkOutput {
		t.Helper()
		r := cliEnv(t, envs, state, "check", hb, "-o", "json")
		var out checkOutput
		if r.code != wantCode || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Results) != 1 {
			t.Fatalf("check: exit %d, want %d\n%s\n%s", r.code, wantCode, r.stdout, r.stderr)
		}
		return out
	}
	out := check(1)
	if f := out.Results[0].Findings; len(f) != 1 || f[0].Resource != "security-group/us-east-1/"+awssdk.ToString(sg.GroupId) || f[0].Severity != "high" {
		t.Fatalf("findings = %+v", f)
	}
	r := cliEnv(t, envs, state, "plans", "-o", "json")
	var plans struct {
		Plans []struct {
			ID, Task, Change string
		} `json:"plans"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &plans) != nil || len(plans.Plans) != 1 || plans.Plans[0].Task != "aws.ec2.sg.revoke" {
		t.Fatalf("plans: %+v", r)
	}
	if r := cliEnv(t, envs, state, "approve", plans.Plans[0].ID, "--yes"); r.code != 0 {
		t.Fatalf("approve: %+v", r)
	}
	out = check(0)
	if out.Results[0].Status != "pass" {
		t.Errorf("after the revoke: %+v", out.Results[0])
	}
	r = cliEnv(t, envs, state, "findings", "--state", "resolved", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, "open_ingress:tcp:22:0.0.0.0/0") {
		t.Errorf("resolved findings: %+v", r)
	}
}
