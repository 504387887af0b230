package web

import (
	"os"
	"testing"

	"postern/internal/testkit/pgtest"
)

// The server starts only for the tests that ask for a database
// (pgtest.DatabaseURL): a follower replica's benchmark.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
