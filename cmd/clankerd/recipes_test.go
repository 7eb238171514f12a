//go:build !clankerd_nokube && !clankerd_noaws

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clankerd/clankerd/internal/testenv/kubetest"
)

// recipesFile is the page whose recipes TestRecipes runs.
const recipesFile = "../../docs/recipes.md"

// recipe is a fenced block of docs/recipes.md whose info string names it
// (```sh recipe=NAME); todo= marks one written for a feature not built yet.
type recipe struct {
	name, todo, body string
	line             int
}

// infoAttr matches key=value and key="quoted value" in a fence's info string.
var infoAttr = regexp.MustCompile(`(\w+)=("[^"]*"|\S+)`)

// readRecipes reads every recipe block of the page.
func readRecipes(t *testing.T, path string) []recipe {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []recipe
	var cur *recipe
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fence := strings.HasPrefix(line, "```")
		switch {
		case fence && cur != nil:
			cur.body = body.String()
			out = append(out, *cur)
			cur = nil
		case fence && strings.Contains(line, "recipe="):
			r := recipe{line: n}
			for _, m := range infoAttr.FindAllStringSubmatch(line, -1) {
				v := m[2]
				if uq, err := strconv.Unquote(v); err == nil {
					v = uq
				}
				switch m[1] {
				case "recipe":
					r.name = v
				case "todo":
					r.todo = v
				default:
					t.Fatalf("%s:%d: unknown fence attribute %q", path, n, m[1])
				}
			}
			cur = &r
			body.Reset()
		case cur != nil:
			body.WriteString(line + "\n")
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: recipe %s is not closed", path, cur.line, cur.name)
	}
	return out
}

// recipeShell runs recipes as a CI step would: bash -e in a fresh home and working
// directory, with the built binary (as clankerd) and jq first on PATH.
type recipeShell struct {
	home, dir string
	env       []string
}

func newRecipeShell(t *testing.T, env ...string) recipeShell {
	t.Helper()
	if _, err := exec.LookPath("jq"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: jq is not installed (scripts/test installs it)")
		}
		t.Skip("no jq on PATH (scripts/test installs it): the recipes pipe through the real jq")
	}
	bin := t.TempDir()
	if err := os.Symlink(binary, filepath.Join(bin, "clankerd")); err != nil {
		t.Fatal(err)
	}
	s := recipeShell{home: t.TempDir(), dir: t.TempDir()}
	s.env = append([]string{"HOME=" + s.home, "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"XDG_STATE_HOME=", "XDG_CONFIG_HOME=", "CLANKERD_STATE_DIR=", "KUBECONFIG=", "OLLAMA_HOST=", "CLANKERD_MODEL="}, env...)
	return s
}

// run runs script with shell (e.g. "bash", "-e") and returns what it printed.
func (s recipeShell) run(t *testing.T, script string, shell ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), shell[0], append(shell[1:], "-c", script)...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	return runCommand(t, cmd)
}

// bash runs a recipe as `bash -e` runs a CI step.
func (s recipeShell) bash(t *testing.T, r recipe) result {
	t.Helper()
	return s.run(t, r.body, "bash", "-e")
}

// recipeEnvs starts the test cluster and moto once for every recipe that needs them,
// with the objects the recipes' questions are about.
type recipeEnvs struct {
	parent *testing.T
	k      *kubetest.Env
	awsEnv []string
	ec     *ec2.Client
	// expensive is an untagged m5.large (about 70 USD a month), cheap an untagged
	// 20 GiB volume (1.60).
	expensive, cheap string
}

// kube is the test cluster with the namespace production holding a healthy
// deployment api (2 replicas with requests) and its healthy pod.
func (e *recipeEnvs) kube(t *testing.T) *kubetest.Env {
	t.Helper()
	if e.k != nil {
		return e.k
	}
	k, err := kubetest.Start(e.parent.TempDir())
	if err != nil {
		kubetest.Require(t, nil, err.Error())
	}
	e.parent.Cleanup(k.Stop)
	ctx := t.Context()
	if _, err := k.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "production"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := kubetest.DeploymentWithStatus(ctx, k.Client, "production", "api", 2, 2, "registry.example/api:2.4.1", true); err != nil {
		t.Fatal(err)
	}
	if err := plantPod(t, k, "api-6b7d9-a1", healthyPod()); err != nil {
		t.Fatal(err)
	}
	e.k = k
	return k
}

func healthyPod() corev1.PodStatus {
	started := metav1.NewTime(time.Now().Add(-time.Hour))
	return corev1.PodStatus{Phase: corev1.PodRunning,
		Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: started}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "registry.example/api:2.4.1", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}}}
}

func crashingPod() corev1.PodStatus {
	return corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "registry.example/api:2.4.1", RestartCount: 9,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off restarting failed container"}}}}}
}

// plantPod creates a pod of the api in production with the status.
func plantPod(t *testing.T, k *kubetest.Env, name string, status corev1.PodStatus) error {
	t.Helper()
	return kubetest.CreatePod(t.Context(), k.Client, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "production", Labels: map[string]string{"app": "api"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/api:2.4.1"}}},
	}, status)
}

// kubeEnv is the environment that points clankerd at the cluster.
func (e *recipeEnvs) kubeEnv(t *testing.T) []string {
	t.Helper()
	return []string{"KUBECONFIG=" + e.kube(t).Kubeconfig}
}

// aws is moto with an expensive untagged instance, a cheap untagged volume and a
// tagged instance; it returns the environment that points clankerd at it.
func (e *recipeEnvs) aws(t *testing.T) []string {
	t.Helper()
	if e.awsEnv != nil {
		return e.awsEnv
	}
	env, ec, _ := motoWithGroup(e.parent)
	ctx := t.Context()
	run := func(itype string, tags ...ec2types.Tag) string {
		in := &ec2.RunInstancesInput{ImageId: awssdk.String("ami-12345678"), InstanceType: ec2types.InstanceType(itype), MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1)}
		if len(tags) > 0 {
			in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: tags}}
		}
		out, err := ec.RunInstances(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return awssdk.ToString(out.Instances[0].InstanceId)
	}
	e.expensive = run("m5.large")
	run("m5.large", ec2types.Tag{Key: awssdk.String("owner"), Value: awssdk.String("payments")})
	vol, err := ec.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: awssdk.String("us-east-1a"), Size: awssdk.Int32(20), VolumeType: ec2types.VolumeTypeGp3})
	if err != nil {
		t.Fatal(err)
	}
	e.cheap = awssdk.ToString(vol.VolumeId)
	e.awsEnv, e.ec = env, ec
	return env
}

// TestRecipes runs every recipe of docs/recipes.md with the built binary and the real
// jq against the test cluster or moto, and checks what each is for: the CI gate fails
// on an unhealthy cluster and passes on a healthy one, the cost filter prints the
// expensive untagged resource and not the cheap one, the MCP registration starts a
// server. Every recipe has a scenario here and every scenario a recipe.
func TestRecipes(t *testing.T) {
	envs := &recipeEnvs{parent: t}
	scenarios := map[string]func(t *testing.T, r recipe){
		"cron":                   envs.cron,
		"ci-health-gate":         envs.ciHealthGate,
		"ci-health-gate-actions": envs.ciHealthGateActions,
		"untagged-cost":          envs.untaggedCost,
		"jq-filters":             envs.jqFilters,
		"pre-deploy-cost":        envs.preDeployCost,
		"mcp-config":             envs.mcpConfig,
		"maker-ci":               envs.makerCI,
		"maker-ci-approve":       envs.makerCI,
	}
	recipes := readRecipes(t, recipesFile)
	seen := map[string]bool{}
	for _, r := range recipes {
		seen[r.name] = true
		t.Run(r.name, func(t *testing.T) {
			if r.todo != "" {
				t.Skipf("TODO %s:%d: %s", recipesFile, r.line, r.todo)
			}
			run, ok := scenarios[r.name]
			if !ok || run == nil {
				t.Fatalf("%s:%d: recipe %s has no scenario in TestRecipes", recipesFile, r.line, r.name)
			}
			run(t, r)
		})
	}
	for name := range scenarios {
		if !seen[name] {
			t.Errorf("TestRecipes has a scenario for %s, which %s does not hold", name, recipesFile)
		}
	}
}

// cronLine is a crontab entry: five schedule fields, then the command; cronVariable a
// crontab's variable line (PATH=...).
var (
	cronLine     = regexp.MustCompile(`^\s*(\S+\s+){5}(.+)$`)
	cronVariable = regexp.MustCompile(`^\w+=`)
)

// cron runs each entry's command with /bin/sh, as cron does, from a home holding the
// heartbeat the first one names.
func (e *recipeEnvs) cron(t *testing.T, r recipe) {
	s := newRecipeShell(t, append(e.kubeEnv(t), e.aws(t)...)...)
	hb := filepath.Join(s.home, ".config", "clankerd", "HEARTBEAT.md")
	if err := os.MkdirAll(filepath.Dir(hb), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, hb, "## Every 15 minutes\n- `k8s.pods.unhealthy` namespace=production\n")
	n := 0
	for line := range strings.Lines(r.body) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || cronVariable.MatchString(line) {
			continue // comments and the crontab's variables (the test sets PATH itself)
		}
		m := cronLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s:%d: not a crontab entry: %s", recipesFile, r.line, line)
		}
		n++
		if res := s.run(t, m[2], "/bin/sh"); res.code != 0 {
			t.Errorf("cron command %q: exit %d\n%s\n%s", m[2], res.code, res.stdout, res.stderr)
		}
	}
	if n != 2 {
		t.Fatalf("%d crontab entries, want 2", n)
	}
	var last checkOutput
	if raw, err := os.ReadFile(filepath.Join(s.home, "clankerd-last.json")); err != nil || json.Unmarshal(raw, &last) != nil || len(last.Results) != 1 || last.Results[0].Status != "pass" {
		t.Errorf("~/clankerd-last.json: %v\n%s", err, raw)
	}
	spend, err := os.ReadFile(filepath.Join(s.home, "untagged-spend.txt"))
	if err != nil || !strings.Contains(string(spend), e.expensive+" ") || strings.Contains(string(spend), e.cheap) {
		t.Errorf("~/untagged-spend.txt (want %s, not %s): %v\n%s", e.expensive, e.cheap, err, spend)
	}
}

// ciHealthGate passes on the healthy namespace, fails saying why once a pod
// crashloops, passes again when that finding is muted, and fails on a question that
// does not route and without a kubeconfig.
func (e *recipeEnvs) ciHealthGate(t *testing.T, r recipe) {
	s := newRecipeShell(t, e.kubeEnv(t)...)
	if res := s.bash(t, r); res.code != 0 {
		t.Fatalf("the gate on a healthy namespace: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	e.crashingPod(t)
	res := s.bash(t, r)
	if res.code == 0 || !strings.Contains(res.stderr, "Unhealthy pods detected: 1 check(s) failed") {
		t.Errorf("the gate on a crashlooping pod: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	// A mute of the finding lets the known problem through the gate.
	mute := s.run(t, `clankerd ask "are all pods healthy in namespace production?" -o findings | jq -r '.[0].fingerprint' | xargs -I{} clankerd mute {} --for 1h --reason "known crashloop"`, "bash", "-e")
	if mute.code != 0 {
		t.Fatalf("mute: exit %d\n%s\n%s", mute.code, mute.stdout, mute.stderr)
	}
	if res := s.bash(t, r); res.code != 0 {
		t.Errorf("the gate on a muted crashloop: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	// A question that routes nowhere prints nothing: pipefail fails the step on
	// clankerd's exit 3, where jq alone would pass.
	unroutable := r
	unroutable.body = strings.Replace(r.body, "are all pods healthy in namespace production?", "what is the meaning of life?", 1)
	if res := s.bash(t, unroutable); res.code != 3 {
		t.Errorf("the gate on a question that does not route: exit %d, want 3\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	// Without the cluster the check is skipped: not healthy either.
	s = newRecipeShell(t)
	if res := s.bash(t, r); res.code == 0 || !strings.Contains(res.stderr, "Unhealthy pods detected: 1 check(s) skipped") {
		t.Errorf("the gate without a kubeconfig: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}

// ciHealthGateActions runs the step's script as GitHub Actions runs `shell: bash`,
// on the healthy namespace and on a crashlooping pod.
func (e *recipeEnvs) ciHealthGateActions(t *testing.T, r recipe) {
	var steps []struct {
		Name  string `yaml:"name"`
		Shell string `yaml:"shell"`
		Run   string `yaml:"run"`
	}
	if err := yaml.Unmarshal([]byte(r.body), &steps); err != nil || len(steps) != 1 || steps[0].Shell != "bash" || steps[0].Run == "" {
		t.Fatalf("%s:%d: want one step with shell: bash and run: %v %+v", recipesFile, r.line, err, steps)
	}
	s := newRecipeShell(t, e.kubeEnv(t)...)
	actions := []string{"bash", "--noprofile", "--norc", "-eo", "pipefail"}
	if res := s.run(t, steps[0].Run, actions...); res.code != 0 {
		t.Fatalf("the step on a healthy namespace: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	e.crashingPod(t)
	if res := s.run(t, steps[0].Run, actions...); res.code == 0 || !strings.Contains(res.stderr, "Unhealthy pods detected") {
		t.Errorf("the step on a crashlooping pod: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}

// crashingPod plants a crashlooping pod in production until the test ends.
func (e *recipeEnvs) crashingPod(t *testing.T) {
	t.Helper()
	k := e.kube(t)
	if err := plantPod(t, k, "api-6b7d9-crash", crashingPod()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Client.CoreV1().Pods("production").Delete(e.parent.Context(), "api-6b7d9-crash", metav1.DeleteOptions{}); err != nil {
			e.parent.Errorf("deleting the crashlooping pod: %v", err)
		}
	})
}

// untaggedCost prints the expensive untagged instance with its cost, not the cheap
// volume.
func (e *recipeEnvs) untaggedCost(t *testing.T, r recipe) {
	s := newRecipeShell(t, e.aws(t)...)
	res := s.bash(t, r)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(res.stdout))
	var got []map[string]any
	for {
		var f map[string]any
		if err := dec.Decode(&f); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("jq printed something else than findings: %v\n%s", err, res.stdout)
		}
		got = append(got, f)
	}
	if len(got) != 1 || got[0]["resource"] != "instance/us-east-1/"+e.expensive || got[0]["check"] != "aws.tags.missing" {
		t.Fatalf("want the untagged instance %s alone, got:\n%s", e.expensive, res.stdout)
	}
	if c, _ := got[0]["cost"].(float64); c <= 10 {
		t.Errorf("cost = %v, want over 10", got[0]["cost"])
	}
	// The cost is stored with the finding: clankerd findings reads it back.
	stored := s.run(t, `clankerd findings -o json | jq -e --arg r "instance/us-east-1/`+e.expensive+`" '.findings[] | select(.resource == $r) | .cost > 10'`, "bash", "-e")
	if stored.code != 0 || stored.stdout != "true\n" {
		t.Errorf("the stored finding's cost: exit %d\n%s\n%s", stored.code, stored.stdout, stored.stderr)
	}
}

// jqFilters runs every filter over the findings: the resources, none high, the new
// ones, the total and a table row per finding.
func (e *recipeEnvs) jqFilters(t *testing.T, r recipe) {
	s := newRecipeShell(t, e.aws(t)...)
	res := s.bash(t, r)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	// Four untagged resources: the instance (70.08), the volume (1.60) and the
	// instances' root volumes (0.80 each).
	for _, want := range []string{"instance/us-east-1/" + e.expensive + "\n", "volume/us-east-1/" + e.cheap + "\n", "[]\n", "\n4\n", "\n73.28\n",
		"low\t70.08\tinstance/us-east-1/" + e.expensive + "\n", "low\t1.6\tvolume/us-east-1/" + e.cheap + "\n"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output has no %q:\n%s", want, res.stdout)
		}
	}
}

// preDeployCost queues the scale plan, prints its estimate (4 more pods of 250m CPU
// and 512 MiB at the default prices), passes the budget and changes nothing; scaling
// to 40 is over the budget and fails the step.
func (e *recipeEnvs) preDeployCost(t *testing.T, r recipe) {
	k := e.kube(t)
	s := newRecipeShell(t, e.kubeEnv(t)...)
	res := s.bash(t, r)
	if res.code != 0 || !regexp.MustCompile(`^plan p-\S+: 29.26 USD/month\n$`).MatchString(res.stdout) {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	over := r
	over.body = strings.Replace(r.body, "to 6 replicas", "to 40 replicas", 1)
	if res := s.bash(t, over); res.code != 1 || !strings.Contains(res.stderr, "over the 100 USD/month budget") {
		t.Errorf("scaling to 40: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	d, err := k.Client.AppsV1().Deployments("production").Get(t.Context(), "api", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 2 {
		t.Errorf("the estimate changed the deployment: %v %v", d.Spec.Replicas, err)
	}
}

// makerCI writes the page's approvals policy and runs the recipe: the deployment is
// scaled as asked, the approval audited with the rule; then, with a rule that allows
// at most 3 replicas, the same recipe exits 4 and changes nothing.
func (e *recipeEnvs) makerCI(t *testing.T, r recipe) {
	k := e.kube(t)
	s := newRecipeShell(t, e.kubeEnv(t)...)
	want := int32(4)
	if strings.Contains(r.body, "to 5 replicas") {
		want = 5
	}
	policy := filepath.Join(s.dir, ".clankerd", "approvals.yaml")
	write := func(max int) {
		if err := os.MkdirAll(filepath.Dir(policy), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, policy, fmt.Sprintf("rules:\n  - name: scale-production-api\n    task: k8s.deployment.scale\n    target: deployment/production/api\n    params:\n      replicas: {min: 2, max: %d}\n    max_risk: high\n    max_monthly_cost_increase: 100\n    expires: 2099-01-01\n    reason: the launch pipeline scales the API within its budget\n", max))
	}
	replicas := func() int32 {
		d, err := k.Client.AppsV1().Deployments("production").Get(t.Context(), "api", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *d.Spec.Replicas
	}
	before := replicas()
	write(3)
	if res := s.bash(t, r); res.code != exitRefused || !strings.Contains(res.stderr, "is outside 2–3") || replicas() != before {
		t.Errorf("with a rule up to 3 replicas: exit %d, replicas %d\n%s\n%s", res.code, replicas(), res.stdout, res.stderr)
	}
	write(6)
	res := s.bash(t, r)
	if res.code != 0 || replicas() != want {
		t.Fatalf("with the page's rule: exit %d, replicas %d, want %d\n%s\n%s", res.code, replicas(), want, res.stdout, res.stderr)
	}
	if res := s.run(t, "clankerd audit -o json", "bash", "-e"); !strings.Contains(res.stdout, `"policy:scale-production-api (by `) || !strings.Contains(res.stdout, `"rule": "scale-production-api"`) {
		t.Errorf("the audit log does not name the rule:\n%s", res.stdout)
	}
}

// mcpConfig parses the client configuration and starts the server it names.
func (e *recipeEnvs) mcpConfig(t *testing.T, r recipe) {
	var cfg struct {
		MCPServers map[string]struct {
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal([]byte(r.body), &cfg); err != nil {
		t.Fatalf("%s:%d: %v", recipesFile, r.line, err)
	}
	srv, ok := cfg.MCPServers["clankerd"]
	if !ok || srv.Command != "clankerd" {
		t.Fatalf("no clankerd server running the clankerd command: %+v", cfg)
	}
	session := stdioSessionTo(t, io.Discard, append([]string{"--state-dir", t.TempDir()}, srv.Args...)...)
	tools, err := session.ListTools(t.Context(), &mcp.ListToolsParams{})
	if err != nil || len(tools.Tools) == 0 {
		t.Fatalf("tools: %v %+v", err, tools)
	}
}
