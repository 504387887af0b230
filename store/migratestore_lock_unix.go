//go:build unix

package store

import (
	"os"
	"syscall"
)

// shmDeadManByte is the byte of a WAL database's -shm file on which every
// connection to the database, in any process, holds a shared lock while it
// is open (SQLite's unix VFS: UNIX_SHM_DMS, (22+8)*4+8).
const shmDeadManByte = 128

// heldByOtherProcess reports whether another process has the WAL database
// at path open, and its pid when the kernel says (0 when not): it asks
// whether an exclusive lock on the -shm file's dead-man byte would be
// granted, without taking it. Locks of this process are not seen, and the
// file it opens to ask is closed again, which drops this process's own
// POSIX locks on it: call it before opening the database.
func heldByOtherProcess(path string) (int, bool) {
	f, err := os.Open(path + "-shm")
	if err != nil {
		return 0, false // no -shm file: nobody has the database open in WAL mode
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: shmDeadManByte, Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return 0, false
	}
	if lk.Type == syscall.F_UNLCK {
		return 0, false
	}
	return max(int(lk.Pid), 0), true
}
