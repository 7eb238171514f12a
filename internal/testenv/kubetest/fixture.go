package kubetest

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/clankerd/clankerd/internal/testenv/testnet"
)

// CertAnnotation on a Secret of type kubernetes.io/tls asks LoadFixture to fill its tls.crt and
// tls.key with a freshly made self-signed certificate: "notAfter=TIME dns=NAME,NAME" (TIME is
// RFC 3339, usually written as ${ago:...} or ${in:...}).
const CertAnnotation = "kubeplant.clankerd.dev/cert"

// LoadFixture creates the objects of every *.yaml file in dir (files by name, documents in
// order) and, for each object with a status, writes that status through the status subresource
// as its controller would (the test apiserver has none). Before decoding, ${ago:DURATION} and
// ${in:DURATION} (Go durations, plus d for days) become RFC 3339 times relative to now, so a
// fixture can say "three days ago". Every Namespace gets its default ServiceAccount, as the
// controller-manager would give it, and a Pod without a service account gets "default", as the
// ServiceAccount admission plugin (off on the test apiserver) would write.
func LoadFixture(ctx context.Context, cfg *rest.Config, dir string, now time.Time) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no *.yaml files in %s: give the fixture's directory", dir)
	}
	sort.Strings(files)
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{} // the fixture writes v1 Endpoints on purpose, as old controllers and peers read them
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building a dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building a discovery client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	for _, f := range files {
		objs, err := readFixtureFile(f, now)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if err := createWithStatus(ctx, dyn, mapper, o); err != nil {
				return fmt.Errorf("%s: %s %s/%s: %w", f, o.GetKind(), o.GetNamespace(), o.GetName(), err)
			}
			if o.GetKind() == "Namespace" {
				sa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
					"metadata": map[string]any{"name": "default", "namespace": o.GetName()}}}
				if err := createWithStatus(ctx, dyn, mapper, sa); err != nil {
					return fmt.Errorf("%s: default ServiceAccount of namespace %s: %w", f, o.GetName(), err)
				}
			}
		}
	}
	return nil
}

// readFixtureFile decodes the YAML documents of one fixture file, with times substituted and
// certificates made.
func readFixtureFile(path string, now time.Time) ([]*unstructured.Unstructured, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	text, err := substituteTimes(string(raw), now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(text), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: decoding YAML: %w", path, err)
		}
		if len(m) == 0 {
			continue
		}
		o := &unstructured.Unstructured{Object: m}
		if o.GetKind() == "Pod" {
			if sa, _, _ := unstructured.NestedString(m, "spec", "serviceAccountName"); sa == "" {
				if err := unstructured.SetNestedField(m, "default", "spec", "serviceAccountName"); err != nil {
					return nil, fmt.Errorf("%s: pod %s/%s: %w", path, o.GetNamespace(), o.GetName(), err)
				}
			}
		}
		if err := fillCertificate(o, now); err != nil {
			return nil, fmt.Errorf("%s: %s %s/%s: %w", path, o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		out = append(out, o)
	}
}

var relativeTime = regexp.MustCompile(`\$\{(ago|in):([0-9a-z.]+)\}`)

// substituteTimes replaces ${ago:D} and ${in:D} with now-D and now+D in RFC 3339.
func substituteTimes(text string, now time.Time) (string, error) {
	var bad error
	out := relativeTime.ReplaceAllStringFunc(text, func(s string) string {
		m := relativeTime.FindStringSubmatch(s)
		d, err := parseDuration(m[2])
		if err != nil {
			bad = errors.Join(bad, fmt.Errorf("%s: %w", s, err))
			return s
		}
		if m[1] == "ago" {
			d = -d
		}
		return now.Add(d).UTC().Format(time.RFC3339)
	})
	return out, bad
}

// parseDuration is time.ParseDuration with a d (24h) suffix as well.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("write days as a whole number followed by d, like 3d: %w", err)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// fillCertificate makes the certificate a CertAnnotation asks for.
func fillCertificate(o *unstructured.Unstructured, now time.Time) error {
	spec, ok := o.GetAnnotations()[CertAnnotation]
	if !ok {
		return nil
	}
	var notAfter time.Time
	var dns []string
	for _, field := range strings.Fields(spec) {
		k, v, _ := strings.Cut(field, "=")
		switch k {
		case "notAfter":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return fmt.Errorf("%s: notAfter: %w", CertAnnotation, err)
			}
			notAfter = t
		case "dns":
			dns = strings.Split(v, ",")
		default:
			return fmt.Errorf("%s: unknown field %q: use notAfter= and dns=", CertAnnotation, k)
		}
	}
	if notAfter.IsZero() || len(dns) == 0 {
		return fmt.Errorf("%s: give both notAfter=TIME and dns=NAME", CertAnnotation)
	}
	crt, key, err := selfSigned(dns, now, notAfter)
	if err != nil {
		return err
	}
	return unstructured.SetNestedStringMap(o.Object, map[string]string{
		corev1.TLSCertKey:       base64.StdEncoding.EncodeToString(crt),
		corev1.TLSPrivateKeyKey: base64.StdEncoding.EncodeToString(key),
	}, "data")
}

// selfSigned returns a PEM certificate for the DNS names, valid until notAfter, and its key.
func selfSigned(dns []string, now, notAfter time.Time) (crt, key []byte, err error) {
	notBefore := now.Add(-365 * 24 * time.Hour)
	if !notBefore.Before(notAfter) {
		notBefore = notAfter.Add(-24 * time.Hour)
	}
	return testnet.SelfSigned(&x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: dns[0]},
		DNSNames:     dns,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// createWithStatus creates the object, then writes its status (when it has one) on the created
// object's resource version.
func createWithStatus(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, o *unstructured.Unstructured) error {
	gvk := o.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("the apiserver does not serve %s: %w", gvk, err)
	}
	var r dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		r = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
	}
	status, hasStatus := o.Object["status"]
	created, err := r.Create(ctx, o, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating: %w", err)
	}
	if !hasStatus {
		return nil
	}
	created.Object["status"] = status
	if _, err := r.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing its status: %w", err)
	}
	return nil
}
