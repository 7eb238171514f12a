//go:build !clankerd_noaws

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/clankerd/clankerd/internal/testenv/awstest"
)

// motoWithGroup starts moto for one test, points the binary's environment at it
// through AWS_ENDPOINT_URL (as the AWS CLI would be), and creates an empty security
// group.
func motoWithGroup(t *testing.T) ([]string, *ec2.Client, *ec2.CreateSecurityGroupOutput) {
	t.Helper()
	moto, err := awstest.Start()
	if err != nil {
		awstest.Require(t, nil, err.Error())
	}
	t.Cleanup(moto.Stop)
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
	return envs, ec, sg
}

// TestAWSThroughCLI runs the built binary against moto, found through
// AWS_ENDPOINT_URL as the AWS CLI would: an open security group is found, fix=
// queues the revoke plan, approve applies it, and the next check resolves the
// finding.
func TestAWSThroughCLI(t *testing.T) {
	envs, ec, sg := motoWithGroup(t)
	_, err := ec.AuthorizeSecurityGroupIngress(t.Context(), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{
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

// TestAskThroughCLI asks questions of the built binary against moto: a question
// routed by the rules runs its check; a change request is refused without --maker and
// becomes a pending plan (never applied) with it; a question the rules cannot route
// goes to the model (a wire-level Ollama stand-in) when one is configured.
func TestAskThroughCLI(t *testing.T) {
	envs, ec, sg := motoWithGroup(t)
	group := awssdk.ToString(sg.GroupId)
	ssh := []ec2types.IpPermission{{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}}
	if _, err := ec.AuthorizeSecurityGroupIngress(t.Context(), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: ssh}); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()

	var ans struct {
		Question string `json:"question"`
		RoutedBy string `json:"routed_by"`
		Routes   []struct {
			Check  string            `json:"check"`
			Params map[string]string `json:"params"`
			Why    string            `json:"why"`
		} `json:"routes"`
		Results []struct {
			Check    string `json:"check"`
			Status   string `json:"status"`
			Findings []struct {
				Resource string `json:"resource"`
			} `json:"findings"`
		} `json:"results"`
		Plan *struct {
			ID string `json:"id"`
		} `json:"plan"`
		Answer string `json:"answer"`
	}
	r := cliEnv(t, envs, state, "ask", "is any security group open to the world on ssh?", "-o", "json")
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &ans) != nil {
		t.Fatalf("ask: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if ans.RoutedBy != "rules" || len(ans.Routes) != 1 || ans.Routes[0].Check != "aws.ec2.sg.open" || ans.Routes[0].Why == "" ||
		len(ans.Results) != 1 || ans.Results[0].Status != "fail" || len(ans.Results[0].Findings) != 1 || !strings.Contains(ans.Answer, "found 1 problem") {
		t.Errorf("answer = %+v", ans)
	}

	revoke := "revoke the open ssh rule on " + group
	if r := cliEnv(t, envs, state, "ask", revoke); r.code != 0 || !strings.Contains(r.stdout, "--maker") || !strings.Contains(r.stdout, "nothing was queued") {
		t.Errorf("a change without --maker is a preview: %+v", r)
	}
	if r := cliEnv(t, envs, state, "plans", "-o", "json"); r.code != 0 || strings.Contains(r.stdout, "pending") {
		t.Errorf("a preview queued a plan: %+v", r)
	}
	ans.Plan = nil
	r = cliEnv(t, envs, state, "ask", revoke, "--maker", "-o", "json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ans) != nil || ans.Plan == nil || !strings.Contains(ans.Answer, "clankerd approve "+ans.Plan.ID) {
		t.Fatalf("ask --maker: %+v", r)
	}
	out, err := ec.DescribeSecurityGroups(t.Context(), &ec2.DescribeSecurityGroupsInput{GroupIds: []string{group}})
	if err != nil || len(out.SecurityGroups[0].IpPermissions) != 1 {
		t.Errorf("ask --maker changed the group: %+v %v", out, err)
	}
	if r := cliEnv(t, envs, state, "plans", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, ans.Plan.ID) || !strings.Contains(r.stdout, "pending") {
		t.Errorf("plans: %+v", r)
	}

	if r := cliEnv(t, envs, state, "ask", "what is the meaning of life?"); r.code != 3 || !strings.Contains(r.stderr, "no check matches") {
		t.Errorf("unroutable without a model: %+v", r)
	}
	// With a model, the model routes it (through tool calling).
	var chats atomic.Int32
	ollama := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/api/chat" {
			http.NotFound(w, req)
			return
		}
		chats.Add(1)
		w.Header().Set("Content-Type", "application/x-ndjson")
		fmt.Fprint(w, `{"model":"tiny","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"aws__ec2__sg__open","arguments":{"allow":"443"}}}]},"done":true}`+"\n")
	}))
	defer ollama.Close()
	r = cliEnv(t, envs, state, "ask", "what is the meaning of life?", "--model", "tiny", "--model-host", ollama.URL, "-o", "json")
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &ans) != nil || ans.RoutedBy != "model" || ans.Routes[0].Check != "aws.ec2.sg.open" || ans.Routes[0].Params["allow"] != "443" || chats.Load() != 1 {
		t.Errorf("model routing: %d chats, %+v", chats.Load(), r)
	}
}
