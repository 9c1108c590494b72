package cli

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoheit/hoheit/internal/attest"
	"github.com/hoheit/hoheit/internal/refvalues"
)

func newRefvaluesCmd(d *Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "refvalues",
		Short: "Draft, sign, verify and dry-run the owner's reference values for attested nodes",
		Long: `Reference values say, per node class, which measurements a node must show
(TPM PCRs, SEV-SNP launch measurement and minimum TCB, TDX MRTD and RTMRs)
before the server gives it an identity or keys. They are YAML files, one per
class (CLASS.yaml), signed by the data owner with a key only the owner holds;
the server loads a directory of them, refuses unsigned or wrongly signed
files, and reloads them when they change. Format: docs/refvalues.md.

The workflow:
  1. hoheit refvalues keygen --out owner          once; keep owner.key offline
  2. hoheit refvalues measure claims.json --class web -o web.yaml
                                                  from a known-good node's claims
  3. review web.yaml: remove what should not be pinned, mark warn-only fields
  4. hoheit refvalues check web.yaml --claims claims.json   dry-run
  5. hoheit refvalues sign web.yaml --key owner.key         writes web.yaml.sig
  6. copy both files into the server's reference-values directory; the
     server trusts owner.pub`,
	}
	cmd.AddCommand(newRefvaluesKeygenCmd(d), newRefvaluesSignCmd(d), newRefvaluesVerifyCmd(d),
		newRefvaluesMeasureCmd(d), newRefvaluesCheckCmd(d))
	return cmd
}

func newRefvaluesKeygenCmd(d *Deps) *cobra.Command {
	var alg, out string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen --out NAME",
		Short: "Make the owner's signing key pair: NAME.key (private, 0600) and NAME.pub",
		Long: `Keygen makes an Ed25519 (default) or ECDSA P-256 key pair for signing
reference values. NAME.key is PKCS#8 PEM, readable only by you: keep it off the
server, ideally offline. NAME.pub is PKIX PEM: give it to the server. Any
existing PKCS#8 or SEC 1 key of these types works as well (openssl genpkey).`,
		Example: `  hoheit refvalues keygen --out owner
  hoheit refvalues keygen --alg ecdsa-p256 --out /secure/owner-2027`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError("--out NAME is required (writes NAME.key and NAME.pub)")
			}
			if alg != refvalues.AlgEd25519 && alg != refvalues.AlgECDSAP256 {
				return usageError("--alg must be %s or %s", refvalues.AlgEd25519, refvalues.AlgECDSAP256)
			}
			priv, pub, err := refvalues.GenerateKey(alg)
			if err != nil {
				return err
			}
			if err := writeNewFile(out+".key", priv, 0o600, force); err != nil {
				return err
			}
			if err := writeNewFile(out+".pub", pub, 0o644, force); err != nil {
				return err
			}
			keys, err := refvalues.ParsePublicKeys(pub)
			if err != nil {
				return err
			}
			id, err := refvalues.KeyID(keys[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(d.Stdout, "wrote %s.key (private, keep it safe) and %s.pub\nkey id %s\n", out, out, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&alg, "alg", refvalues.AlgEd25519, "key algorithm: ed25519 or ecdsa-p256")
	cmd.Flags().StringVar(&out, "out", "", "write `NAME`.key and NAME.pub")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}

func newRefvaluesSignCmd(d *Deps) *cobra.Command {
	var keyFile, sigFile string
	cmd := &cobra.Command{
		Use:   "sign FILE --key KEY",
		Short: "Sign a reference-values file: writes FILE.sig",
		Long: `Sign checks that FILE is valid reference values, then writes its detached
signature to FILE.sig. Sign only what you reviewed: the server accepts every
node the file describes.`,
		Example: `  hoheit refvalues sign web.yaml --key owner.key`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return usageError("--key KEY is required (the owner's private key, from 'hoheit refvalues keygen')")
			}
			file := args[0]
			data, set, err := readRefSet(file)
			if err != nil {
				return err
			}
			keyPEM, err := os.ReadFile(keyFile)
			if err != nil {
				return usageError("reading the key: %v", err)
			}
			key, err := refvalues.ParsePrivateKey(keyPEM)
			if err != nil {
				return usageError("%s: %v", keyFile, err)
			}
			sig, err := refvalues.Sign(data, key)
			if err != nil {
				return err
			}
			if sigFile == "" {
				sigFile = file + refvalues.SignatureSuffix
			}
			if err := os.WriteFile(sigFile, sig, 0o644); err != nil {
				return fmt.Errorf("writing the signature: %w", err)
			}
			id, _ := refvalues.KeyID(key.Public())
			fmt.Fprintf(d.Stdout, "signed %s (class %s, revision %d) with key %s: %s\n", file, set.Class, set.Revision, id, sigFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "the owner's private key `FILE` (PEM)")
	cmd.Flags().StringVar(&sigFile, "sig", "", "write the signature to `FILE` (default FILE.sig)")
	return cmd
}

func newRefvaluesVerifyCmd(d *Deps) *cobra.Command {
	var keyFiles []string
	var sigFile string
	cmd := &cobra.Command{
		Use:   "verify FILE --key PUB",
		Short: "Verify a reference-values file and its signature as the server would",
		Long: `Verify checks FILE.sig against the trusted public keys and that FILE is
valid reference values whose class matches its name (CLASS.yaml). Exit 0 when
the server would load it, 1 when it would refuse it, with the reason.`,
		Example: `  hoheit refvalues verify web.yaml --key owner.pub
  hoheit refvalues verify web.yaml --key owner.pub --key owner-2027.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			trusted, err := readOwnerPublicKeys(keyFiles)
			if err != nil {
				return err
			}
			file := args[0]
			data, err := os.ReadFile(file)
			if err != nil {
				return usageError("%v", err)
			}
			if sigFile == "" {
				sigFile = file + refvalues.SignatureSuffix
			}
			sig, err := os.ReadFile(sigFile)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return usageError("%v", err)
			}
			id, err := refvalues.VerifySigner(data, sig, trusted)
			if err != nil {
				return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s: %w", file, err)}
			}
			set, err := refvalues.Parse(data)
			if err != nil {
				return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s: signed, but not valid reference values: %w", file, err)}
			}
			if want := strings.TrimSuffix(filepath.Base(file), ".yaml"); want != set.Class {
				return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s: declares class %q; the server loads it only as %s.yaml", file, set.Class, set.Class)}
			}
			fmt.Fprintf(d.Stdout, "ok: %s (class %s, revision %d) signed by %s\n", file, set.Class, set.Revision, id)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&keyFiles, "key", nil, "trusted public key `FILE` (PEM; repeatable)")
	cmd.Flags().StringVar(&sigFile, "sig", "", "the signature `FILE` (default FILE.sig)")
	return cmd
}

func newRefvaluesMeasureCmd(d *Deps) *cobra.Command {
	var class, output string
	var force bool
	cmd := &cobra.Command{
		Use:   "measure CLAIMS.json --class NAME",
		Short: "Draft reference values from a known-good node's claims",
		Long: `Measure turns the verified claims of a node you trust (what the server
stores for a node: 'hoheit node show ID --claims') into a draft
reference-values file for its class: every measured field pinned and
enforced, debugging allowed only if the node runs with it. Review the draft
before you sign it. CLAIMS.json may be - for stdin.`,
		Example: `  hoheit refvalues measure claims.json --class web -o web.yaml
  hoheit node show n-123 --claims | hoheit refvalues measure - --class web`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if class == "" {
				return usageError("--class NAME is required")
			}
			c, err := readClaimsJSON(d, args[0])
			if err != nil {
				return err
			}
			draft, err := refvalues.Measure(class, c)
			if err != nil {
				return usageError("%v", err)
			}
			if output == "" || output == "-" {
				_, err := d.Stdout.Write(draft)
				return err
			}
			if err := writeNewFile(output, draft, 0o644, force); err != nil {
				return err
			}
			fmt.Fprintf(d.Stderr, "wrote %s; review it, then: hoheit refvalues sign %s --key owner.key\n", output, output)
			return nil
		},
	}
	cmd.Flags().StringVar(&class, "class", "", "the node class the values are for (the file is CLASS.yaml)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the draft to `FILE` instead of stdout")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing output file")
	return cmd
}

func newRefvaluesCheckCmd(d *Deps) *cobra.Command {
	var claimsFile string
	var keyFiles []string
	cmd := &cobra.Command{
		Use:   "check FILE --claims CLAIMS.json",
		Short: "Dry-run: would these reference values accept this node?",
		Long: `Check compares a node's claims with FILE as the server would and prints the
warnings of warn-only fields and the refusal, if any, with its reason. With
--key it also verifies FILE.sig first. Exit 0 accepted, 1 refused.`,
		Example: `  hoheit refvalues check web.yaml --claims claims.json
  hoheit node show n-123 --claims | hoheit refvalues check web.yaml --claims - --key owner.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if claimsFile == "" {
				return usageError("--claims CLAIMS.json is required")
			}
			file := args[0]
			data, set, err := readRefSet(file)
			if err != nil {
				return err
			}
			if len(keyFiles) > 0 {
				trusted, err := readOwnerPublicKeys(keyFiles)
				if err != nil {
					return err
				}
				sig, err := os.ReadFile(file + refvalues.SignatureSuffix)
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					return usageError("%v", err)
				}
				if err := refvalues.Verify(data, sig, trusted); err != nil {
					return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%s: %w", file, err)}
				}
			}
			c, err := readClaimsJSON(d, claimsFile)
			if err != nil {
				return err
			}
			warnings, err := set.Check(c)
			for _, w := range warnings {
				fmt.Fprintf(d.Stdout, "warning: %s\n", w)
			}
			if err != nil {
				fmt.Fprintf(d.Stdout, "refused: %v\n", err)
				return &ExitError{Code: ExitFindings}
			}
			fmt.Fprintf(d.Stdout, "accepted: class %s\n", set.Class)
			return nil
		},
	}
	cmd.Flags().StringVar(&claimsFile, "claims", "", "the node's claims `FILE` (JSON; - for stdin)")
	cmd.Flags().StringArrayVar(&keyFiles, "key", nil, "also verify FILE.sig against this public key `FILE` (repeatable)")
	return cmd
}

// readRefSet reads and parses a reference-values file; an invalid one is a
// usage error that names the file and line.
func readRefSet(file string) ([]byte, *refvalues.Set, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, usageError("%v", err)
	}
	set, err := refvalues.Parse(data)
	if err != nil {
		return nil, nil, usageError("%s: %v", file, err)
	}
	return data, set, nil
}

func readOwnerPublicKeys(files []string) ([]crypto.PublicKey, error) {
	if len(files) == 0 {
		return nil, usageError("--key PUB is required (the owner's public key)")
	}
	var out []crypto.PublicKey
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, usageError("%v", err)
		}
		keys, err := refvalues.ParsePublicKeys(data)
		if err != nil {
			return nil, usageError("%s: %v", f, err)
		}
		out = append(out, keys...)
	}
	return out, nil
}

// readClaimsJSON reads attest.Claims JSON from a file or "-" (stdin).
func readClaimsJSON(d *Deps, path string) (*attest.Claims, error) {
	var r io.Reader
	if path == "-" {
		r = d.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageError("%v", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, refvalues.MaxFileSize+1))
	if err != nil {
		return nil, usageError("reading claims: %v", err)
	}
	if len(data) > refvalues.MaxFileSize {
		return nil, usageError("%s: claims larger than %d bytes", path, refvalues.MaxFileSize)
	}
	var c attest.Claims
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, usageError("%s: not attestation claims JSON: %v", path, err)
	}
	if c.Variant == "" {
		return nil, usageError("%s: not attestation claims JSON (no variant); use what 'hoheit node show ID --claims' prints", path)
	}
	return &c, nil
}

// writeNewFile writes a file, refusing to overwrite one unless force.
func writeNewFile(path string, data []byte, mode os.FileMode, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, mode)
	if errors.Is(err, os.ErrExist) {
		return usageError("%s exists; use --force to overwrite it", path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if force {
		// O_TRUNC keeps an existing file's mode; a key must not stay readable.
		if err := f.Chmod(mode); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
