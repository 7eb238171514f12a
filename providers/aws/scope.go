package aws

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/clankerd/clankerd/checks"
)

// Parameters every AWS check and task takes. profile= chooses the credentials and
// endpoint= where the signed requests (access key id, session token) go, so agents may
// give them only values the operator allows (checks.AgentConfigured).
var (
	profileParam = checks.ParamSpec{
		Name: "profile", Type: checks.String, FrontMatter: "aws_profile", Agent: checks.AgentConfigured,
		Doc: "shared config profile (default: AWS_PROFILE, then default)",
	}
	regionParam = checks.ParamSpec{
		Name: "region", Type: checks.String, FrontMatter: "aws_region", Validate: validateRegion,
		Doc: "region (default: AWS_REGION, then the profile's region)",
	}
	regionsParam = checks.ParamSpec{
		Name: "regions", Type: checks.List, Validate: validateRegions,
		Doc: "several regions, comma-separated, or all (every region enabled in the account); wins over region=",
	}
	endpointParam = checks.ParamSpec{
		Name: "endpoint", Type: checks.URL, FrontMatter: "aws_endpoint", Agent: checks.AgentConfigured,
		Doc: "send every call to this endpoint (moto, localstack); AWS_ENDPOINT_URL does the same",
	}
)

var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)

func validateRegion(s string) error {
	if !regionRE.MatchString(s) {
		return fmt.Errorf("%q is not an AWS region name such as us-east-1 or eu-central-1", s)
	}
	return nil
}

func validateRegions(s string) error {
	if s == "all" {
		return nil
	}
	var errs []error
	for _, r := range splitComma(s) {
		if err := validateRegion(r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// spec builds a check spec with the parameters every AWS check takes; regional checks
// also take regions=.
func spec(id, description, category string, regional bool, keywords []string, params ...checks.ParamSpec) checks.Spec {
	common := []checks.ParamSpec{profileParam, regionParam, endpointParam}
	if regional {
		common = append(common, regionsParam)
	}
	return checks.Spec{
		ID:          id,
		Description: description,
		Params:      append(common, params...),
		Keywords:    append([]string{"aws", "amazon", "account"}, keywords...),
		Categories:  []string{category},
	}
}

// tracking builds the spec of a change-tracking check: spec's parameters plus
// baseline=.
func tracking(id, description, category string, regional bool, keywords []string, params ...checks.ParamSpec) checks.Spec {
	s := spec(id, description, category, regional, keywords, append(params, checks.BaselineParam())...)
	s.Tracks = true
	return s
}

// connectFor connects with the item's profile and endpoint.
func (p *Provider) connectFor(ctx context.Context, params checks.Params) (*conn, error) {
	return p.connect(ctx, params.Get("profile"), params.Get("endpoint"))
}

// regions resolves the regions a check covers: regions=, then region=, then the
// profile's region.
func (c *conn) regions(ctx context.Context, params checks.Params) ([]string, error) {
	if rs := params.List("regions"); len(rs) > 0 {
		if !slices.Equal(rs, []string{"all"}) {
			return rs, nil
		}
		return checks.Memo(ctx, c.memoKey("", "regions"), func(ctx context.Context) ([]string, error) {
			out, err := ec2.NewFromConfig(c.cfg, func(o *ec2.Options) { o.Region = defaultRegion(c) }).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
			if err != nil {
				return nil, c.apiError("ec2:DescribeRegions", defaultRegion(c), err)
			}
			var names []string
			for _, r := range out.Regions {
				names = append(names, awssdk.ToString(r.RegionName))
			}
			sort.Strings(names)
			return names, nil
		})
	}
	r, err := c.region(params)
	if err != nil {
		return nil, err
	}
	return []string{r}, nil
}

// region is the single region of a call: region=, then the profile's.
func (c *conn) region(params checks.Params) (string, error) {
	if r := params.Get("region"); r != "" {
		return r, nil
	}
	if c.cfg.Region != "" {
		return c.cfg.Region, nil
	}
	return "", fmt.Errorf("no AWS region: pass region=, set aws_region: in the heartbeat's front matter, or set AWS_REGION")
}

// memoKey names one read for the round: the session, the region and what is read.
func (c *conn) memoKey(region, what string) string {
	return "aws/" + c.key.profile + "/" + c.key.endpoint + "/" + region + "/" + what
}

// eachRegion calls fn for every region, at most Concurrency at a time, and gathers
// the findings. Any region's error is the check's error: a check that could not read
// a region could not evaluate.
func (p *Provider) eachRegion(ctx context.Context, regions []string, fn func(ctx context.Context, region string) ([]checks.Finding, error)) ([]checks.Finding, error) {
	out, err := inRegions(ctx, p.opts.Concurrency, regions, fn)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Resource != out[j].Resource {
			return out[i].Resource < out[j].Resource
		}
		return out[i].Problem < out[j].Problem
	})
	return out, nil
}

// inRegions calls fn for every region, at most concurrency at a time, and gathers
// what they return in no particular order. Any region's error is the whole call's
// error: nothing is returned for the regions that were read.
func inRegions[T any](ctx context.Context, concurrency int, regions []string, fn func(ctx context.Context, region string) ([]T, error)) ([]T, error) {
	var (
		mu   sync.Mutex
		out  []T
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, concurrency)
	)
	for _, r := range regions {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				mu.Lock()
				errs = append(errs, ctx.Err())
				mu.Unlock()
				return
			}
			defer func() { <-sem }()
			vs, err := fn(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out = append(out, vs...)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// fanOut calls fn for every item, at most limit at a time, and returns the results
// in the order of items, or the first item's error.
func fanOut[T, R any](items []T, limit int, fn func(T) (R, error)) ([]R, error) {
	out := make([]R, len(items))
	errs := make([]error, len(items))
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = fn(item)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// check is one AWS check: a spec and a function that looks at the account, for
// findings (look) or, in a change-tracking check, for facts.
type check struct {
	spec  checks.Spec
	p     *Provider
	look  func(ctx context.Context, c *conn, params checks.Params) ([]checks.Finding, error)
	facts func(ctx context.Context, c *conn, params checks.Params) ([]checks.Fact, error)
}

var _ checks.Check = (*check)(nil)

func (k *check) Spec() checks.Spec { return k.spec }

func (k *check) Run(ctx context.Context, params checks.Params) (checks.Result, error) {
	c, err := k.p.connectFor(ctx, params)
	if err != nil {
		return checks.Result{}, err
	}
	ev := map[string]string{"profile": c.profile}
	if c.custom {
		ev["endpoint"] = awssdk.ToString(c.cfg.BaseEndpoint)
	}
	if k.facts != nil {
		facts, err := k.facts(ctx, c, params)
		if err != nil {
			return checks.Result{}, err
		}
		res, err := checks.Track(params, facts)
		if err != nil {
			return checks.Result{}, err
		}
		res.Evidence = ev
		return res, nil
	}
	fs, err := k.look(ctx, c, params)
	if err != nil {
		return checks.Result{}, err
	}
	return checks.Result{Findings: fs, Evidence: ev}, nil
}

// regional adapts a per-region look into a check's look.
func (p *Provider) regional(fn func(ctx context.Context, c *conn, region string, params checks.Params) ([]checks.Finding, error)) func(ctx context.Context, c *conn, params checks.Params) ([]checks.Finding, error) {
	return func(ctx context.Context, c *conn, params checks.Params) ([]checks.Finding, error) {
		regions, err := c.regions(ctx, params)
		if err != nil {
			return nil, err
		}
		return p.eachRegion(ctx, regions, func(ctx context.Context, region string) ([]checks.Finding, error) {
			return fn(ctx, c, region, params)
		})
	}
}

func splitComma(s string) []string {
	return checks.NewParams(map[string]string{"v": s}).List("v")
}

// res names a regional resource "type/region/id".
func res(typ, region, id string) string { return typ + "/" + region + "/" + id }

func money(v float64) *float64 { return &v }

// human writes a duration in whole days when it is one ("90d"), else Go's form.
func human(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
