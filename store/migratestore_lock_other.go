//go:build !unix

package store

// heldByOtherProcess cannot tell on this platform: the documentation says
// to stop Postern before migrate-store.
func heldByOtherProcess(string) (int, bool) { return 0, false }
