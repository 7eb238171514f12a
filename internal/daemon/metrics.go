package daemon

import (
	"fmt"
	"net"

	"github.com/clankerd/clankerd/internal/httpx"
	"github.com/clankerd/clankerd/internal/metrics"
	"github.com/clankerd/clankerd/internal/store"
)

// listenMetrics creates the metrics and opens their listener when cfg asks for them;
// it returns nils otherwise. Loopback only, unless MetricsAllowRemote.
func listenMetrics(cfg Config, db *store.DB) (*metrics.Metrics, net.Listener, error) {
	if cfg.MetricsListen == "" {
		return nil, nil, nil
	}
	if err := httpx.CheckListen(cfg.MetricsListen, cfg.MetricsAllowRemote, "--metrics-listen", "--metrics-allow-remote"); err != nil {
		return nil, nil, err
	}
	m, err := metrics.New(db, cfg.Logger)
	if err != nil {
		return nil, nil, err
	}
	if cfg.ModelStatus != nil {
		err := m.ModelCalls(func() (int, int) {
			if st := cfg.ModelStatus(); st != nil {
				return st.Calls, st.Skipped
			}
			return 0, 0
		})
		if err != nil {
			return nil, nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.MetricsListen)
	if err != nil {
		return nil, nil, fmt.Errorf("listening for metrics on %s: %w (is the port in use?)", cfg.MetricsListen, err)
	}
	return m, ln, nil
}
