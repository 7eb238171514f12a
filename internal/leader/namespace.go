package leader

import (
	"os"
	"strings"
)

// serviceAccountNamespaceFile holds the namespace of the pod a process runs in.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Namespace is the namespace the daemon's Lease lives in: the pod's, else
// $POD_NAMESPACE, else kubeconfigNamespace (the namespace of the kubeconfig's
// current context, "" when it names none), else "default".
func Namespace(kubeconfigNamespace string) string {
	return namespaceFrom(os.ReadFile, os.Getenv, kubeconfigNamespace)
}

// namespaceFrom is Namespace with the file system and environment passed in.
func namespaceFrom(readFile func(string) ([]byte, error), getenv func(string) string, kubeconfigNamespace string) string {
	if b, err := readFile(serviceAccountNamespaceFile); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	if ns := strings.TrimSpace(getenv("POD_NAMESPACE")); ns != "" {
		return ns
	}
	if ns := strings.TrimSpace(kubeconfigNamespace); ns != "" {
		return ns
	}
	return "default"
}
