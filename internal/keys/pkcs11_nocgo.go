//go:build !cgo

package keys

import (
	"context"
	"errors"
)

// OpenPKCS11 needs cgo (the PKCS#11 module is a C library); this build has
// none.
func OpenPKCS11(ctx context.Context, cfg PKCS11Config) (Backend, error) {
	return nil, errors.New("keys: this hoheit was built without cgo and cannot load a PKCS#11 module; use a cgo build or the file backend")
}
