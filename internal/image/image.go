// Package image builds clankerd's container image without a Docker daemon
// (github.com/google/go-containerregistry): the static binary on an empty base, the
// CA certificates it needs to reach HTTPS APIs, and a non-root user.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed layout.
const (
	// BinaryPath is where the binary is, and the entrypoint.
	BinaryPath = "/clankerd"
	// CACertsPath is the CA bundle, where Go's crypto/x509 looks on Linux.
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// User is the numeric user and group the container runs as: not root, and not a
	// name, so that runAsNonRoot can check it without an /etc/passwd.
	User = "65532:65532"
	// StateDir is the state directory (the control socket; the bbolt file when no
	// --store is given), owned by User.
	StateDir = "/var/lib/clankerd"
)

// Spec is what goes into an image.
type Spec struct {
	// Binary is the clankerd binary: statically linked (CGO_ENABLED=0) for linux.
	Binary string
	// CACerts is the CA bundle to include (a Debian build machine's
	// /etc/ssl/certs/ca-certificates.crt).
	CACerts string
	// Version and Revision label the image (org.opencontainers.image.version,
	// .revision).
	Version, Revision string
	// Arch is the binary's GOARCH ("amd64", "arm64").
	Arch string
	// Created is the image's creation time; zero is the Unix epoch, so the same
	// inputs give the same digest.
	Created time.Time
}

// Build assembles the image: one layer holding the binary, the CA bundle and the
// state directory, on an empty base.
func Build(s Spec) (v1.Image, error) {
	bin, err := os.ReadFile(s.Binary)
	if err != nil {
		return nil, fmt.Errorf("reading the binary: %w (build it with CGO_ENABLED=0 go build ./cmd/clankerd)", err)
	}
	if !bytes.HasPrefix(bin, []byte("\x7fELF")) {
		return nil, fmt.Errorf("%s is not a Linux (ELF) binary: build it with GOOS=linux", s.Binary)
	}
	ca, err := os.ReadFile(s.CACerts)
	if err != nil {
		return nil, fmt.Errorf("reading the CA bundle: %w (on Debian: apt-get install ca-certificates)", err)
	}
	layer, err := filesLayer(s.Created, []file{
		{name: "etc/", dir: true, mode: 0o755},
		{name: "etc/ssl/", dir: true, mode: 0o755},
		{name: "etc/ssl/certs/", dir: true, mode: 0o755},
		{name: CACertsPath[1:], data: ca, mode: 0o644},
		{name: "tmp/", dir: true, mode: 0o1777},
		{name: "var/", dir: true, mode: 0o755},
		{name: "var/lib/", dir: true, mode: 0o755},
		{name: StateDir[1:] + "/", dir: true, mode: 0o700, uid: 65532, gid: 65532},
		{name: BinaryPath[1:], data: bin, mode: 0o755},
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, fmt.Errorf("adding the layer: %w", err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	arch := s.Arch
	if arch == "" {
		arch = "amd64"
	}
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: s.Created.UTC()}
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.Cmd = []string{"run"}
	cf.Config.User = User
	cf.Config.WorkingDir = StateDir
	cf.Config.Env = []string{"SSL_CERT_FILE=" + CACertsPath, "HOME=" + StateDir}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "clankerd",
		"org.opencontainers.image.description": "local-first infrastructure monitor and change gate",
		"org.opencontainers.image.version":     s.Version,
		"org.opencontainers.image.revision":    s.Revision,
		"org.opencontainers.image.source":      "https://github.com/clankerd/clankerd",
	}
	cf.Config.ExposedPorts = map[string]struct{}{"8443/tcp": {}, "9464/tcp": {}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("writing the image config: %w", err)
	}
	return img, nil
}

// file is one entry of the layer.
type file struct {
	name     string
	data     []byte
	dir      bool
	mode     int64
	uid, gid int
}

func filesLayer(mtime time.Time, files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: mtime.UTC(), Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing %s into the layer: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("writing %s into the layer: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
}
