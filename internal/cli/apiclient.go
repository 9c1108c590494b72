package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/api"
)

// apiFlags are the flags of every command that calls the control plane.
type apiFlags struct {
	server    string
	caFile    string
	tokenFile string
}

func (f *apiFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.server, "server", os.Getenv("HOHEIT_SERVER"), "control plane URL, https://HOST:PORT (env HOHEIT_SERVER)")
	c.Flags().StringVar(&f.caFile, "ca", os.Getenv("HOHEIT_CA"), "the control plane's CA certificate, PEM (env HOHEIT_CA; the server writes it to DATA_DIR/ca.pem)")
	c.Flags().StringVar(&f.tokenFile, "token-file", os.Getenv("HOHEIT_TOKEN_FILE"), "file holding an API token (env HOHEIT_TOKEN_FILE; or set HOHEIT_TOKEN)")
}

// apiClient calls the control plane with an API token.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func (f *apiFlags) client(needToken bool) (*apiClient, error) {
	if f.server == "" {
		return nil, usageError("--server is required (or set HOHEIT_SERVER)")
	}
	u, err := url.Parse(f.server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, usageError("--server %q: want https://HOST:PORT", f.server)
	}
	if f.caFile == "" {
		return nil, usageError("--ca is required: the control plane's CA certificate (DATA_DIR/ca.pem on the server)")
	}
	pem, err := os.ReadFile(f.caFile)
	if err != nil {
		return nil, usageError("--ca: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usageError("--ca %s holds no PEM certificate", f.caFile)
	}
	tok := os.Getenv("HOHEIT_TOKEN")
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, usageError("--token-file: %v", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	if needToken && tok == "" {
		return nil, usageError("an API token is required: --token-file FILE or HOHEIT_TOKEN (the server writes the first admin token to DATA_DIR/admin.token)")
	}
	return &apiClient{
		base:  strings.TrimRight(f.server, "/"),
		token: tok,
		http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool},
		}},
	}, nil
}

// do calls method path with in as JSON (nil: no body) and decodes into out
// (nil: ignore; an io.Writer: copy the body).
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling the control plane: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e api.Error
		if json.Unmarshal(data, &e) == nil && e.Error.Reason != "" {
			if e.Error.Detail != "" {
				return fmt.Errorf("%s: %s", e.Error.Reason, e.Error.Detail)
			}
			return errors.New(e.Error.Reason)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	switch o := out.(type) {
	case nil:
		return nil
	case io.Writer:
		_, err = io.Copy(o, resp.Body)
		return err
	default:
		return json.NewDecoder(resp.Body).Decode(out)
	}
}
