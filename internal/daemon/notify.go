package daemon

import (
	"errors"
	"fmt"

	"github.com/clankerd/clankerd/heartbeat"
	"github.com/clankerd/clankerd/internal/control"
	"github.com/clankerd/clankerd/internal/notify"
)

// notifyConfig builds the notification targets from the config file and the good
// heartbeat files' front matter; d.mu is held. A target with problems is left out and
// its problems are returned as FILE:LINE messages; the others keep working.
func (d *daemon) notifyConfig() (notify.Config, []string) {
	env := notify.Env{Getenv: d.cfg.Getenv}
	var problems []string
	note := func(err error) {
		if err != nil {
			for _, m := range diagnostics(err) {
				problems = append(problems, m)
				d.log.Error("notification config has errors; the target is left out", "error", m)
			}
		}
	}
	cfg := notify.Config{Policy: notify.DefaultPolicy}
	if d.cfg.NotifyConfig != "" {
		var err error
		cfg, err = notify.LoadFile(d.cfg.NotifyConfig, env)
		var hbErrs heartbeat.Errors
		if err != nil && !errors.As(err, &hbErrs) {
			err = fmt.Errorf("%s: %w", d.cfg.NotifyConfig, err)
		}
		note(err)
	}
	var lists [][]notify.Destination
	for _, path := range d.files {
		f := d.good[path]
		if f == nil {
			continue
		}
		dests, err := notify.FromHeartbeat(f, env)
		note(err)
		lists = append(lists, dests)
	}
	var err error
	cfg.Destinations, err = notify.Merge(cfg.Destinations, lists...)
	note(err)
	return cfg, problems
}

// targetInfo describes the configured targets for `clankerd status`, secrets redacted.
func targetInfo(cfg notify.Config) []control.TargetInfo {
	out := make([]control.TargetInfo, len(cfg.Destinations))
	for i, dst := range cfg.Destinations {
		out[i] = control.TargetInfo{Name: dst.Name, Type: dst.Type, Where: dst.Where, Source: dst.Source, MinSeverity: string(dst.MinSeverity)}
	}
	return out
}
