package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/clankerd/clankerd/internal/leader"
	"github.com/clankerd/clankerd/internal/store"
)

// leaderFlags are `run`'s leader-election flags: with several replicas on one shared
// store, only the elected one schedules checks and delivers notifications.
type leaderFlags struct {
	elect bool
	name  string
	via   string
}

// The ways to elect a leader (--leader-elect-via).
const (
	electAuto     = "auto"
	electLease    = "lease"
	electPostgres = "postgres"
)

func (l *leaderFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&l.elect, "leader-elect", false, "take part in a leader election with the other replicas on the same --store: only the leader schedules checks and delivers notifications; every replica serves the API")
	f.StringVar(&l.name, "leader-elect-name", leader.DefaultName, "name of the Lease (or of the PostgreSQL advisory lock) the replicas share")
	f.StringVar(&l.via, "leader-elect-via", electAuto, "lease (a Kubernetes Lease in the daemon's namespace), postgres (an advisory lock on the --store database), or auto: lease in a pod, postgres with a postgres:// store elsewhere, else lease through the kubeconfig")
}

// elector builds the elector the flags ask for; nil without --leader-elect. storeURL is
// the --store location (a postgres:// URL for the advisory lock).
func (l *leaderFlags) elector(storeURL string) (leader.Elector, error) {
	if !l.elect {
		return nil, nil
	}
	if l.name == "" {
		return nil, fmt.Errorf("--leader-elect-name must not be empty")
	}
	via := l.via
	postgres := store.IsPostgres(storeURL)
	if via == electAuto {
		switch {
		case os.Getenv("KUBERNETES_SERVICE_HOST") != "":
			via = electLease
		case postgres:
			via = electPostgres
		default:
			via = electLease
		}
	}
	switch via {
	case electLease:
		return kubeLeaseElector(l.name)
	case electPostgres:
		if !postgres {
			return nil, fmt.Errorf("--leader-elect-via postgres needs a PostgreSQL store: pass --store postgres://… (replicas elect through an advisory lock on that database)")
		}
		return &leader.PGAdvisory{DSN: storeURL, Name: l.name, Identity: leader.DefaultIdentity()}, nil
	}
	return nil, fmt.Errorf("--leader-elect-via %q: use lease, postgres or auto", l.via)
}
