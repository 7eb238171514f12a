package kubetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// MetricsAPI is a local server speaking metrics.k8s.io/v1beta1, the API metrics-server
// serves and `kubectl top` reads, joined to the test apiserver by API aggregation: an
// APIService v1beta1.metrics.k8s.io whose Service (ExternalName localhost) points at
// it. Like metrics-server, it trusts a request only when it comes with the
// apiserver's front-proxy client certificate and names the user in X-Remote-User.
// Clients reach it through the apiserver, never directly.
type MetricsAPI struct {
	srv *httptest.Server

	mu   sync.Mutex
	pods []metricsv1beta1.PodMetrics
}

const (
	metricsAPIService = "v1beta1.metrics.k8s.io"
	metricsNamespace  = "kube-system"
	metricsService    = "test-metrics"
)

// ServeMetrics registers a MetricsAPI with the apiserver and waits until the
// apiserver serves metrics.k8s.io through it; the test's cleanup unregisters it and
// waits until the API is gone again. One test at a time may serve it.
func (e *Env) ServeMetrics(t testing.TB) *MetricsAPI {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(e.Dir, "front-proxy-ca.crt"))
	if err != nil {
		t.Fatalf("the test apiserver has no front-proxy CA (scripts/kube-testenv too old?): %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("front-proxy-ca.crt holds no certificate")
	}
	m := &MetricsAPI{}
	m.srv = httptest.NewUnstartedServer(http.HandlerFunc(m.serve))
	m.srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	m.srv.StartTLS()
	t.Cleanup(m.srv.Close)

	ctx := context.Background()
	if err := e.registerMetrics(ctx, m.port()); err != nil {
		t.Fatalf("registering metrics.k8s.io with the apiserver: %v", err)
	}
	t.Cleanup(func() {
		if err := e.unregisterMetrics(ctx); err != nil {
			t.Errorf("unregistering metrics.k8s.io: %v", err)
		}
	})
	if err := e.waitMetrics(ctx, true); err != nil {
		t.Fatal(err)
	}
	return m
}

// SetPod sets the usage the API reports for a pod with these labels (a label selector
// in a list is matched against them, as metrics-server matches the pods' labels).
func (m *MetricsAPI) SetPod(ns, name string, podLabels map[string]string, containers map[string]corev1.ResourceList) {
	pm := metricsv1beta1.PodMetrics{
		TypeMeta:   metav1.TypeMeta{Kind: "PodMetrics", APIVersion: metricsv1beta1.SchemeGroupVersion.String()},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: podLabels, CreationTimestamp: metav1.Now()},
		Timestamp:  metav1.Now(), Window: metav1.Duration{Duration: 30 * time.Second},
	}
	for c, usage := range containers {
		pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: c, Usage: usage})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pods = append(m.pods, pm)
}

func (m *MetricsAPI) port() int {
	_, port, _ := net.SplitHostPort(m.srv.Listener.Addr().String())
	n, _ := strconv.Atoi(port)
	return n
}

// serve answers discovery, and lists and gets of PodMetrics.
func (m *MetricsAPI) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Remote-User") == "" {
		http.Error(w, "no X-Remote-User from the front proxy", http.StatusUnauthorized)
		return
	}
	gv := "/apis/" + metricsv1beta1.SchemeGroupVersion.String()
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == gv:
		writeJSON(w, metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: metricsv1beta1.SchemeGroupVersion.String(),
			APIResources: []metav1.APIResource{
				{Name: "pods", Namespaced: true, Kind: "PodMetrics", Verbs: metav1.Verbs{"get", "list"}},
				{Name: "nodes", Kind: "NodeMetrics", Verbs: metav1.Verbs{"get", "list"}},
			},
		})
	case strings.HasPrefix(path, gv+"/namespaces/"):
		// namespaces/NS/pods[/NAME]
		parts := strings.Split(strings.TrimPrefix(path, gv+"/namespaces/"), "/")
		if len(parts) < 2 || parts[1] != "pods" {
			http.NotFound(w, r)
			return
		}
		sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		list := m.list(parts[0], sel)
		if len(parts) == 3 {
			for _, p := range list.Items {
				if p.Name == parts[2] {
					writeJSON(w, p)
					return
				}
			}
			http.NotFound(w, r)
			return
		}
		writeJSON(w, list)
	default:
		http.NotFound(w, r)
	}
}

func (m *MetricsAPI) list(ns string, sel labels.Selector) metricsv1beta1.PodMetricsList {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := metricsv1beta1.PodMetricsList{TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: metricsv1beta1.SchemeGroupVersion.String()}, Items: []metricsv1beta1.PodMetrics{}}
	for _, p := range m.pods {
		if p.Namespace == ns && sel.Matches(labels.Set(p.Labels)) {
			list.Items = append(list.Items, p)
		}
	}
	return list
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// registerMetrics creates the ExternalName Service and the APIService that send
// metrics.k8s.io to localhost:port.
func (e *Env) registerMetrics(ctx context.Context, port int) error {
	svcs := e.Client.CoreV1().Services(metricsNamespace)
	_ = svcs.Delete(ctx, metricsService, metav1.DeleteOptions{})
	if _, err := svcs.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: metricsService, Namespace: metricsNamespace},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": metricsAPIService},
		"spec": map[string]any{
			"group": metricsv1beta1.SchemeGroupVersion.Group, "version": metricsv1beta1.SchemeGroupVersion.Version,
			"service":               map[string]any{"namespace": metricsNamespace, "name": metricsService, "port": port},
			"insecureSkipTLSVerify": true, // the test server's certificate is httptest's
			"groupPriorityMinimum":  100, "versionPriority": 100,
		},
	})
	return e.Client.CoreV1().RESTClient().Post().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices").
		SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
}

func (e *Env) unregisterMetrics(ctx context.Context) error {
	err := e.Client.CoreV1().RESTClient().Delete().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices/" + metricsAPIService).Do(ctx).Error()
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err := e.Client.CoreV1().Services(metricsNamespace).Delete(ctx, metricsService, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return e.waitMetrics(ctx, false)
}

// waitMetrics waits until lists of PodMetrics through the apiserver succeed (served)
// or answer 404 (not served) three times in a row, so that the aggregator's handlers
// have settled before a test relies on either.
func (e *Env) waitMetrics(ctx context.Context, served bool) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for settled := 0; settled < 3; {
		if time.Now().After(deadline) {
			if served {
				return fmt.Errorf("the apiserver did not serve metrics.k8s.io within 30s: %v", last)
			}
			return errors.New("the apiserver still serves metrics.k8s.io 30s after its APIService was deleted")
		}
		last = e.Client.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods").Do(ctx).Error()
		settled++
		if served != (last == nil) || !served && !apierrors.IsNotFound(last) {
			settled = 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}
