// Command kubeplant fills a test apiserver: `kubeplant demo` plants one of each
// problem clankerd's Kubernetes checks find; `kubeplant load PODS DEPLOYMENTS SERVICES`
// creates a benchmark load; `kubeplant fixture DIR` creates the objects of a YAML fixture
// and writes their statuses (see kubetest.LoadFixture). It uses $KUBECONFIG.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clankerd/clankerd/internal/testenv/kubetest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kubeplant:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		return fmt.Errorf("set KUBECONFIG to the test apiserver's kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 2000, 4000
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	switch {
	case len(args) == 1 && args[0] == "demo":
		return kubetest.PlantDemo(ctx, c)
	case len(args) == 4 && args[0] == "load":
		var n [3]int
		for i := range n {
			if n[i], err = strconv.Atoi(args[i+1]); err != nil {
				return fmt.Errorf("load: %q is not a number", args[i+1])
			}
		}
		return kubetest.Load(ctx, c, n[0], n[1], n[2])
	case len(args) == 2 && args[0] == "fixture":
		return kubetest.LoadFixture(ctx, cfg, args[1], time.Now())
	}
	return fmt.Errorf("usage: kubeplant demo | kubeplant load PODS DEPLOYMENTS SERVICES | kubeplant fixture DIR")
}
