// Command buildimage writes clankerd's container image (package image) as an OCI
// tarball that `docker load`, `podman load`, `crane push` and kind's `kind load
// image-archive` read, or pushes it to a registry with the credentials of
// ~/.docker/config.json. scripts/build-image runs it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/clankerd/clankerd/internal/image"
)

func main() {
	var s image.Spec
	var tag, out, push string
	flag.StringVar(&s.Binary, "binary", "", "the static linux clankerd binary")
	flag.StringVar(&s.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to include")
	flag.StringVar(&s.Version, "version", "dev", "the image's version label")
	flag.StringVar(&s.Revision, "revision", "", "the image's revision label (the git commit)")
	flag.StringVar(&s.Arch, "arch", "amd64", "the binary's GOARCH")
	flag.StringVar(&tag, "tag", "clankerd:dev", "the image reference written into the tarball")
	flag.StringVar(&out, "o", "", "write the image as a tarball to this file")
	flag.StringVar(&push, "push", "", "push the image to this reference (REGISTRY/REPO:TAG)")
	flag.Parse()
	if err := run(s, tag, out, push); err != nil {
		fmt.Fprintln(os.Stderr, "buildimage:", err)
		os.Exit(1)
	}
}

func run(s image.Spec, tag, out, push string) error {
	if s.Binary == "" || (out == "" && push == "") {
		return fmt.Errorf("usage: buildimage -binary FILE (-o IMAGE.tar | -push REF)")
	}
	img, err := image.Build(s)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if out != "" {
		ref, err := name.NewTag(tag)
		if err != nil {
			return fmt.Errorf("-tag %q: %w", tag, err)
		}
		if err := tarball.WriteToFile(out, ref, img); err != nil {
			return fmt.Errorf("writing %s: %w", out, err)
		}
		fmt.Printf("%s %s %s\n", out, ref, digest)
	}
	if push != "" {
		ref, err := name.ParseReference(push)
		if err != nil {
			return fmt.Errorf("-push %q: %w", push, err)
		}
		if err := remote.Write(ref, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("pushing %s: %w", ref, err)
		}
		fmt.Printf("%s@%s\n", ref.Context(), digest)
	}
	return nil
}
