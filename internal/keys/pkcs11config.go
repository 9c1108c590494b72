package keys

import (
	"fmt"
	"log/slog"
)

// DefaultPKCS11KeyLabel is the master key's CKA_LABEL when the config names
// none.
const DefaultPKCS11KeyLabel = "hoheit-master"

// PKCS11Config selects the token and key of the pkcs11 backend. The PIN may
// come from an environment variable or a file in the server's config; it is
// never logged: String, GoString and LogValue redact it.
type PKCS11Config struct {
	// Module is the path of the PKCS#11 library, e.g.
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string
	// TokenLabel selects the token by its label.
	TokenLabel string
	// PIN is the token's user PIN.
	PIN string
	// KeyLabel is the master key's CKA_LABEL (default "hoheit-master"); the
	// signing keys are labelled "<KeyLabel>/signer/<name>".
	KeyLabel string
}

func (c PKCS11Config) redacted() string {
	pin := ""
	if c.PIN != "" {
		pin = "[redacted]"
	}
	return fmt.Sprintf("{Module:%q TokenLabel:%q PIN:%q KeyLabel:%q}", c.Module, c.TokenLabel, pin, c.KeyLabel)
}

// String describes the config without the PIN.
func (c PKCS11Config) String() string { return c.redacted() }

// GoString describes the config without the PIN (for %#v).
func (c PKCS11Config) GoString() string { return "keys.PKCS11Config" + c.redacted() }

// LogValue describes the config to log/slog without the PIN.
func (c PKCS11Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("module", c.Module),
		slog.String("token_label", c.TokenLabel),
		slog.Bool("pin_set", c.PIN != ""),
		slog.String("key_label", c.keyLabel()),
	)
}

func (c PKCS11Config) keyLabel() string {
	if c.KeyLabel == "" {
		return DefaultPKCS11KeyLabel
	}
	return c.KeyLabel
}
