package image_test

import (
	"archive/tar"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/clankerd/clankerd/internal/image"
)

// TestBuildImageScript builds the image the way a person does, with
// scripts/build-image, and checks what a cluster will run: the config (entrypoint,
// non-root user, labels, ports), the files (a static binary, the CA bundle, a state
// directory the user owns, nothing else), and that the binary in it runs.
func TestBuildImageScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds clankerd")
	}
	if _, err := os.Stat(image.CACertsPath); err != nil {
		t.Skipf("no CA bundle on this machine (%v): apt-get install ca-certificates", err)
	}
	out := filepath.Join(t.TempDir(), "clankerd-image.tar")
	cmd := exec.Command("../../scripts/build-image", "-o", out, "-tag", "clankerd:test")
	// The lean build: the image's layout does not depend on the providers linked, and
	// the full binary built with CGO_ENABLED=0 -trimpath shares no build cache with the
	// test build.
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "BUILD_TAGS=clankerd_noaws,clankerd_nokube")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build-image: %v\n%s", err, b)
	}
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatalf("the tarball does not load as an image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{"/clankerd"}) || !slices.Equal(c.Cmd, []string{"run"}) {
		t.Errorf("entrypoint %q cmd %q, want [/clankerd] [run]", c.Entrypoint, c.Cmd)
	}
	if c.User != "65532:65532" {
		t.Errorf("user %q, want the numeric non-root 65532:65532", c.User)
	}
	if cf.OS != "linux" || cf.Architecture == "" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	for _, l := range []string{"org.opencontainers.image.title", "org.opencontainers.image.version", "org.opencontainers.image.source"} {
		if c.Labels[l] == "" {
			t.Errorf("label %s missing: %v", l, c.Labels)
		}
	}
	if _, ok := c.ExposedPorts["8443/tcp"]; !ok {
		t.Errorf("ports %v lack the API's 8443/tcp", c.ExposedPorts)
	}
	if !slices.Contains(c.Env, "SSL_CERT_FILE="+image.CACertsPath) {
		t.Errorf("env %q", c.Env)
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d (%v), want one on an empty base", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	bin := filepath.Join(t.TempDir(), "clankerd")
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files["/"+strings.TrimSuffix(h.Name, "/")] = h
		if "/"+h.Name == image.BinaryPath {
			f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"/clankerd", "/etc", "/etc/ssl", "/etc/ssl/certs", "/etc/ssl/certs/ca-certificates.crt", "/tmp", "/var", "/var/lib", "/var/lib/clankerd"}
	if !slices.Equal(names, want) {
		t.Errorf("files %q, want %q", names, want)
	}
	if h := files[image.BinaryPath]; h == nil || h.Mode&0o111 == 0 || h.Uid != 0 {
		t.Errorf("binary header %+v: want executable and owned by root (not writable by the user)", h)
	}
	if h := files[image.StateDir]; h == nil || h.Uid != 65532 || h.Mode&0o777 != 0o700 {
		t.Errorf("state directory header %+v: want 0700 owned by 65532", h)
	}
	if h := files[image.CACertsPath]; h == nil || h.Size == 0 {
		t.Errorf("CA bundle header %+v", h)
	}

	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("the binary is not ELF: %v", err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary needs a dynamic loader, which an empty base does not have: build with CGO_ENABLED=0")
		}
	}
	ef.Close()
	if v, err := exec.Command(bin, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(v), "clankerd ") {
		t.Errorf("the image's binary does not run: %v\n%s", err, v)
	}
}
