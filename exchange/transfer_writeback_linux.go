//go:build linux && (amd64 || arm64 || riscv64 || loong64 || s390x)

package exchange

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing n bytes of f from off
// to the disk, without waiting for them (sync_file_range with
// SYNC_FILE_RANGE_WRITE). It does not make them durable: the fsync at the
// end of the download still does, but finds little left to write. Errors
// are ignored; the fsync reports the disk's.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		// On these architectures the arguments are fd, offset, nbytes,
		// flags, each in one register.
		_, _, _ = syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, fd, uintptr(off), uintptr(n), syncFileRangeWrite, 0, 0)
	})
}

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE from <linux/fs.h>.
const syncFileRangeWrite = 0x2
