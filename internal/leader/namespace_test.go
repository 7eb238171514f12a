package leader

import (
	"io/fs"
	"testing"
)

func TestNamespace(t *testing.T) {
	tests := []struct {
		name       string
		file       string // "" = no service account file
		env        string
		kubeconfig string
		want       string
	}{
		{"pod wins", "team\n", "envns", "ctxns", "team"},
		{"POD_NAMESPACE next", "", "envns", "ctxns", "envns"},
		{"empty file falls through", "  \n", "envns", "", "envns"},
		{"kubeconfig context", "", "", "ctxns", "ctxns"},
		{"default", "", "", "", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readFile := func(path string) ([]byte, error) {
				if path != serviceAccountNamespaceFile {
					t.Errorf("read %s, want %s", path, serviceAccountNamespaceFile)
				}
				if tt.file == "" {
					return nil, fs.ErrNotExist
				}
				return []byte(tt.file), nil
			}
			getenv := func(k string) string {
				if k == "POD_NAMESPACE" {
					return tt.env
				}
				return ""
			}
			if got := namespaceFrom(readFile, getenv, tt.kubeconfig); got != tt.want {
				t.Errorf("namespace = %q, want %q", got, tt.want)
			}
		})
	}
}
