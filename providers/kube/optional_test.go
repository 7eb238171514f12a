package kube

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clankerd/clankerd/internal/testenv/testnet"
)

// dynamicClient is an admin client for objects of kinds the typed client lacks.
func dynamicClient(t *testing.T) dynamic.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var crdsResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installCRDs creates the CustomResourceDefinitions in a testdata file (once per test
// binary: they stay for the other tests) and waits until discovery serves them.
func installCRDs(t *testing.T, file string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	d := dynamicClient(t)
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if _, err := d.Resource(crdsResource).Create(t.Context(), &obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating CRD %s: %v", obj.GetName(), err)
		}
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "plural")
		waitServed(t, group+"/v1", plural)
	}
}

func waitServed(t *testing.T, groupVersion, resource string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := env.Client.Discovery().ServerResourcesForGroupVersion(groupVersion)
		if err == nil && slices.ContainsFunc(l.APIResources, func(r metav1.APIResource) bool { return r.Name == resource }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s not served after 30s: %v", groupVersion, resource, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createCustom creates an object of a custom resource, retrying while a just-made
// CRD is not yet ready to store it.
func createCustom(t *testing.T, gvr schema.GroupVersionResource, ns string, obj map[string]any) {
	t.Helper()
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion(gvr.Group + "/" + gvr.Version)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := dynamicClient(t).Resource(gvr).Namespace(ns).Create(t.Context(), u, metav1.CreateOptions{})
		if err == nil {
			return
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			t.Fatalf("creating %s %s/%s: %v", gvr.Resource, ns, u.GetName(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// certPEM makes a self-signed certificate for names valid until notAfter, and its
// key, both PEM-encoded.
func certPEM(t *testing.T, notAfter time.Time, names ...string) (crt, key []byte) {
	t.Helper()
	crt, key, err := testnet.SelfSigned(&x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             notAfter.Add(-365 * 24 * time.Hour),
		NotAfter:              notAfter,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return crt, key
}

func TestAbsentAPIIsNotServed(t *testing.T) {
	p := cluster(t, Options{})
	c, err := p.connect("")
	if err != nil {
		t.Fatal(err)
	}
	ok, err := served(t.Context(), c, "absent.clankerd.test/v1", "widgets")
	if ok || err != nil {
		t.Errorf("an API the cluster does not serve: served %v, error %v; want false, nil", ok, err)
	}
	ok, err = served(t.Context(), c, "networking.k8s.io/v1", "ingressclasses")
	if !ok || err != nil {
		t.Errorf("ingressclasses: served %v, error %v; want true, nil", ok, err)
	}
}
