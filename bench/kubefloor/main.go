// Command kubefloor is the physical floor of a Kubernetes scan: one paginated protobuf LIST
// per kind (pages of 500), each page discarded as soon as it arrives. The benchmark measures
// clankerd against it. It reads $KUBECONFIG and prints how many objects and API requests it
// took.
//
//	kubefloor [-kinds pods,deployments,...]
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"
)

// pageSize is the LIST page size clankerd uses.
const pageSize = 500

// defaultKinds are the kinds clankerd reads with every Kubernetes check enabled: the 15 of the
// 13 checks of the Kubernetes provider issue, then those the checks of issue 14 add.
const defaultKinds = "pods,deployments,statefulsets,daemonsets,nodes,persistentvolumeclaims,services," +
	"endpointslices,jobs,cronjobs,ingresses,clusterroles,clusterrolebindings,rolebindings,events," +
	"ingressclasses,horizontalpodautoscalers,poddisruptionbudgets,resourcequotas,persistentvolumes," +
	"configmaps,secrets,tlssecrets,serviceaccounts,validatingwebhookconfigurations,mutatingwebhookconfigurations"

// lister reads one page of a kind.
type lister func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error)

// clients are what the listers read with.
type clients struct {
	typed *kubernetes.Clientset
	meta  metadata.Interface
}

// listers maps each kind name of -kinds to how it is read: typed protobuf lists, events of type
// Warning only, configmaps and secrets as metadata only (the checks need their names), and the
// TLS secrets whole but selected by type.
func (c clients) listers() map[string]lister {
	k := c.typed
	metaOnly := func(resource string) lister {
		gvr := schema.GroupVersionResource{Version: "v1", Resource: resource}
		return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.meta.Resource(gvr).List(ctx, o)
		}
	}
	return map[string]lister{
		"pods": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.CoreV1().Pods("").List(ctx, o)
		},
		"deployments": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.AppsV1().Deployments("").List(ctx, o)
		},
		"statefulsets": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.AppsV1().StatefulSets("").List(ctx, o)
		},
		"daemonsets": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.AppsV1().DaemonSets("").List(ctx, o)
		},
		"nodes": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.CoreV1().Nodes().List(ctx, o)
		},
		"persistentvolumeclaims": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.CoreV1().PersistentVolumeClaims("").List(ctx, o)
		},
		"services": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.CoreV1().Services("").List(ctx, o)
		},
		"endpointslices": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.DiscoveryV1().EndpointSlices("").List(ctx, o)
		},
		"jobs": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.BatchV1().Jobs("").List(ctx, o)
		},
		"cronjobs": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.BatchV1().CronJobs("").List(ctx, o)
		},
		"ingresses": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.NetworkingV1().Ingresses("").List(ctx, o)
		},
		"clusterroles": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.RbacV1().ClusterRoles().List(ctx, o)
		},
		"clusterrolebindings": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.RbacV1().ClusterRoleBindings().List(ctx, o)
		},
		"rolebindings": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.RbacV1().RoleBindings("").List(ctx, o)
		},
		"events": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = "type=Warning"
			return k.CoreV1().Events("").List(ctx, o)
		},
		"ingressclasses": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.NetworkingV1().IngressClasses().List(ctx, o)
		},
		"horizontalpodautoscalers": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.AutoscalingV2().HorizontalPodAutoscalers("").List(ctx, o)
		},
		"poddisruptionbudgets": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.PolicyV1().PodDisruptionBudgets("").List(ctx, o)
		},
		"resourcequotas": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.CoreV1().ResourceQuotas("").List(ctx, o)
		},
		"persistentvolumes": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.CoreV1().PersistentVolumes().List(ctx, o)
		},
		"configmaps": metaOnly("configmaps"),
		"secrets":    metaOnly("secrets"),
		"tlssecrets": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = "type=kubernetes.io/tls"
			return k.CoreV1().Secrets("").List(ctx, o)
		},
		"serviceaccounts": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.CoreV1().ServiceAccounts("").List(ctx, o)
		},
		"validatingwebhookconfigurations": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, o)
		},
		"mutatingwebhookconfigurations": func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return k.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, o)
		},
	}
}

// countingTransport counts the HTTP requests sent to the apiserver.
type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

// RoundTrip counts the request and sends it on.
func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kubefloor:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("kubefloor", flag.ContinueOnError)
	kinds := fs.String("kinds", defaultKinds, "comma-separated kinds to list, one paginated LIST each")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		return fmt.Errorf("set KUBECONFIG to the cluster's kubeconfig: %w", err)
	}
	var requests atomic.Int64
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt, n: &requests} })
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit: the floor waits only for the apiserver
	var c clients
	if c.typed, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("building the Kubernetes client: %w", err)
	}
	if c.meta, err = metadata.NewForConfig(cfg); err != nil {
		return fmt.Errorf("building the metadata client: %w", err)
	}
	all := c.listers()
	objects := 0
	for _, kind := range strings.Split(*kinds, ",") {
		list, ok := all[kind]
		if !ok {
			return fmt.Errorf("unknown kind %q in -kinds: use some of %s", kind, defaultKinds)
		}
		n, err := listAll(ctx, list)
		if err != nil {
			return fmt.Errorf("listing %s: %w", kind, err)
		}
		objects += n
	}
	fmt.Printf("kubefloor: %d objects, %d API requests\n", objects, requests.Load())
	return nil
}

// listAll reads every page of a kind, keeping nothing but the count of its objects.
func listAll(ctx context.Context, list lister) (int, error) {
	opts := metav1.ListOptions{Limit: pageSize}
	n := 0
	for {
		page, err := list(ctx, opts)
		if err != nil {
			return n, err
		}
		n += meta.LenList(page)
		l, err := meta.ListAccessor(page)
		if err != nil {
			return n, err
		}
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			return n, nil
		}
	}
}
