//go:build race

package e2e

// With `go test -race`, the server under test is built with the race detector
// too, so that a data race in a handler fails the journey that hit it.
func init() {
	extraBuildFlags = append(extraBuildFlags, "-race")
}
