package httpx

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// CertFiles serves a TLS certificate and key from files, re-read when either file
// changes (its modification time or size), so a renewed certificate (cert-manager, a
// mounted Secret) is used without a restart. A pair that does not load (one file
// written, the other not yet) keeps the last good certificate until it does.
type CertFiles struct {
	certFile, keyFile string

	mu    sync.Mutex
	cert  *tls.Certificate
	stamp [2]fileStamp
}

// fileStamp is what tells that a file changed.
type fileStamp struct {
	mod  time.Time
	size int64
}

// LoadCertFiles loads the certificate and key (PEM) and returns the CertFiles that
// keeps them current.
func LoadCertFiles(certFile, keyFile string) (*CertFiles, error) {
	c := &CertFiles{certFile: certFile, keyFile: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// stamps reads the files' modification times and sizes.
func (c *CertFiles) stamps() ([2]fileStamp, error) {
	var s [2]fileStamp
	for i, f := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return s, fmt.Errorf("TLS certificate: %w", err)
		}
		s[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	return s, nil
}

// reload loads the pair when the files changed since the last load.
func (c *CertFiles) reload() error {
	s, err := c.stamps()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert != nil && s == c.stamp {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("loading the TLS certificate %s and key %s: %w (both PEM, the key matching the certificate)", c.certFile, c.keyFile, err)
	}
	c.cert, c.stamp = &cert, s
	return nil
}

// GetCertificate is for tls.Config: the current certificate, re-read first when its
// files changed.
func (c *CertFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	_ = c.reload() // a pair mid-replacement keeps the last good certificate
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert, nil
}

// TLSConfig is a server configuration serving these files' certificate, TLS 1.2 or
// later.
func (c *CertFiles) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: c.GetCertificate, MinVersion: tls.VersionTLS12}
}
