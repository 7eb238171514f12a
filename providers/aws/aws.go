// Package aws is clankerd's AWS provider: read-only checks of an account's security
// (open security groups, public buckets and databases, root and IAM key hygiene),
// waste (unattached volumes, idle Elastic IPs, long-stopped instances, untagged spend)
// and cost (Cost Explorer increases, anomalies, forecast), and write tasks that only
// ever run as approved plans. It finds credentials and regions the way the AWS CLI
// does.
package aws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/clankerd/clankerd/checks"
)

// Options configure the provider.
type Options struct {
	// MaxAttempts bounds the SDK's attempts per call (adaptive retry for
	// throttling); 0 means 5. Tests against moto use 1: it answers calls it does not
	// implement with HTTP 500, which the SDK would otherwise retry.
	MaxAttempts int
	// Concurrency bounds how many regions are read at once; 0 means 4.
	Concurrency int
	// HTTPClient sends the requests; nil means the SDK's default client (which
	// honours AWS_CA_BUNDLE and proxies).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock for ages and cost windows (default time.Now).
	Now func() time.Time
}

// Provider holds AWS sessions, the checks and the tasks.
type Provider struct {
	opts  Options
	log   *slog.Logger
	calls atomic.Int64

	mu    sync.Mutex
	conns map[connKey]*conn
	// noCreds remembers, for a minute, that a profile has no credentials, so a round
	// of checks does not probe for an instance role once per check.
	noCreds map[connKey]time.Time
}

// New returns a provider.
func New(opts Options) *Provider {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{opts: opts, log: log, conns: map[connKey]*conn{}, noCreds: map[connKey]time.Time{}}
}

// Register adds the AWS checks and tasks to r.
func (p *Provider) Register(r *checks.Registry) error {
	return r.AddAll(p.checkList(), p.taskList())
}

// Calls is how many HTTP requests the provider has sent to AWS (retries included).
func (p *Provider) Calls() int64 { return p.calls.Load() }

// Close logs the number of calls made; the provider holds no long-lived resources.
func (p *Provider) Close() error {
	if n := p.calls.Load(); n > 0 {
		p.log.Debug("AWS API requests", "requests", n)
	}
	return nil
}

func (p *Provider) now() time.Time {
	if p.opts.Now != nil {
		return p.opts.Now()
	}
	return time.Now()
}

// connKey identifies a session: a profile and an endpoint override ("" = as
// configured).
type connKey struct{ profile, endpoint string }

// conn is one loaded AWS configuration: credentials, default region, endpoint.
type conn struct {
	key     connKey
	cfg     awssdk.Config
	profile string // as resolved, for messages
	// custom is set when requests go to an endpoint override (moto, localstack): S3
	// then uses path-style addressing and s3control is sent to that host.
	custom bool

	// account is the account id, once STS has answered; a failed lookup is not
	// remembered, so a long-running daemon recovers from a passing outage.
	idMu    sync.Mutex
	account string
}

var errNoCredentials = checks.Skip("no AWS credentials: no AWS_ACCESS_KEY_ID or AWS_PROFILE in the environment, no ~/.aws/credentials or ~/.aws/config, and no instance role")

// connect loads the configuration for a profile the way the AWS CLI does: the
// environment, the shared config and credentials files, SSO, and instance roles.
// Without any credentials it returns a checks.Skip error.
func (p *Provider) connect(ctx context.Context, profile, endpoint string) (*conn, error) {
	key := connKey{profile, endpoint}
	p.mu.Lock()
	c, ok := p.conns[key]
	at, none := p.noCreds[key]
	p.mu.Unlock()
	if ok {
		return c, nil
	}
	if none && time.Since(at) < time.Minute {
		return nil, errNoCredentials
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() awssdk.Retryer {
			return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) { so.MaxAttempts = p.opts.MaxAttempts })
			})
		}),
		config.WithAPIOptions([]func(*middleware.Stack) error{p.countAttempts}),
		config.WithAppID("clankerd"),
		config.WithLogger(sdkLogger{p.log}),
	}
	if p.opts.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(p.opts.HTTPClient))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(endpoint))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		var missing config.SharedConfigProfileNotExistError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("AWS profile %q is not in the shared config or credentials files; run `aws configure list-profiles` to see the profiles, or drop profile=: %w", profile, err)
		}
		return nil, fmt.Errorf("loading AWS configuration (profile %q): %w", displayProfile(profile), err)
	}
	if cfg.Credentials == nil || !credentialsConfigured(profile) {
		if _, err := retrieve(ctx, cfg); err != nil {
			p.mu.Lock()
			p.noCreds[key] = time.Now()
			p.mu.Unlock()
			return nil, errNoCredentials
		}
	}
	c = &conn{key: key, cfg: cfg, profile: displayProfile(profile), custom: cfg.BaseEndpoint != nil}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.conns[key]; ok {
		return old, nil
	}
	p.conns[key] = c
	return c, nil
}

func displayProfile(profile string) string {
	if profile != "" {
		return profile
	}
	if env := os.Getenv("AWS_PROFILE"); env != "" {
		return env
	}
	return "default"
}

// credentialsConfigured reports whether anything names credentials: the
// environment, a profile, or a shared config or credentials file. When nothing does,
// a failure to retrieve credentials means there are none (not that they are broken).
func credentialsConfigured(profile string) bool {
	if profile != "" {
		return true
	}
	for _, env := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		if os.Getenv(env) != "" {
			return true
		}
	}
	files := []string{os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), os.Getenv("AWS_CONFIG_FILE")}
	if home, err := os.UserHomeDir(); err == nil {
		files = append(files, filepath.Join(home, ".aws", "credentials"), filepath.Join(home, ".aws", "config"))
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
}

func retrieve(ctx context.Context, cfg awssdk.Config) (awssdk.Credentials, error) {
	if cfg.Credentials == nil {
		return awssdk.Credentials{}, errors.New("no credentials provider")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return cfg.Credentials.Retrieve(ctx)
}

// accountID is the account the credentials belong to (STS GetCallerIdentity), kept
// once known; a failed lookup is retried on the next call.
func (c *conn) accountID(ctx context.Context) (string, error) {
	c.idMu.Lock()
	defer c.idMu.Unlock()
	if c.account != "" {
		return c.account, nil
	}
	out, err := sts.NewFromConfig(c.cfg, func(o *sts.Options) { o.Region = defaultRegion(c) }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", c.apiError("sts:GetCallerIdentity", "", err)
	}
	c.account = awssdk.ToString(out.Account)
	return c.account, nil
}

func defaultRegion(c *conn) string {
	if c.cfg.Region != "" {
		return c.cfg.Region
	}
	return "us-east-1"
}

// countAttempts counts every attempt of every call (the deserialize step runs once
// per attempt, inside the retry loop).
func (p *Provider) countAttempts(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("clankerdCount",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			p.calls.Add(1)
			return next.HandleDeserialize(ctx, in)
		}), middleware.After)
}

// describe names a call for messages: "ec2:DescribeSecurityGroups in us-east-1".
func describe(action, region string) string {
	if region == "" {
		return action
	}
	return action + " in " + region
}

// sdkLogger hands the SDK's own log lines (such as "falling back to IMDSv1" while it
// looks for an instance role) to the provider's logger at debug level, instead of
// the SDK's default of printing them to stderr.
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Logf(classification logging.Classification, format string, v ...any) {
	l.log.Debug("aws sdk: "+fmt.Sprintf(format, v...), "class", string(classification))
}
