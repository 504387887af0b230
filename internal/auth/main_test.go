package auth_test

import (
	"os"
	"testing"

	"postern/internal/testkit/pgtest"
)

// The limiter's tests also run on PostgreSQL, on a server pgtest starts
// for this test binary and removes when it ends.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
