package store_test

import (
	"testing"

	"postern/store"
	"postern/store/storetest"
)

var _ storetest.Store = (*store.Store)(nil)

// The SQLite store passes the conformance suite that every engine must,
// each case on a new file in its own temporary directory.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTemp(t, store.Options{}) })
}
