package sandbox

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// PageSize is the size of a WebAssembly linear memory page.
const PageSize = 64 << 10

// maxPages is the most pages a 32-bit linear memory can have (4 GiB).
const maxPages = 1 << 16

// Config bounds what a module may use. The zero value of a field takes its
// default (DefaultConfig).
type Config struct {
	// MemoryLimitBytes caps a run's linear memory; it is rounded down to
	// whole 64 KiB pages and must be at least one page.
	MemoryLimitBytes int64
	// WallTime caps a run's instantiation and execution together.
	WallTime time.Duration
	// OutputLimit caps standard output: writing past it fails the run.
	OutputLimit int
	// MaxOutputLimit bounds Input.OutputLimit, the per-run override a
	// caller gives a module whose output grows with its input (a predictor
	// writes one line per row).
	MaxOutputLimit int
	// StderrLimit caps what is kept of standard error; the rest is
	// dropped, and the run goes on.
	StderrLimit int
	// MaxModuleBytes caps the size of a module's binary.
	MaxModuleBytes int
	// CacheEntries bounds the compiled modules kept in memory.
	CacheEntries int
	// CompileWorkers is how many goroutines compile a module's functions
	// (default GOMAXPROCS): compiling is a burst paid once per module.
	CompileWorkers int
	// CacheDir, if set, keeps compiled code on disk (wazero's file cache),
	// so a restarted node does not compile a module again. The directory
	// must be the node's own: its contents are trusted as machine code.
	CacheDir string
}

// DefaultConfig is the configuration New fills unset fields from.
func DefaultConfig() Config {
	return Config{
		MemoryLimitBytes: 256 << 20,
		WallTime:         30 * time.Second,
		OutputLimit:      1 << 20,
		MaxOutputLimit:   64 << 20,
		StderrLimit:      64 << 10,
		MaxModuleBytes:   64 << 20,
		CacheEntries:     16,
		CompileWorkers:   runtime.GOMAXPROCS(0),
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MemoryLimitBytes == 0 {
		c.MemoryLimitBytes = d.MemoryLimitBytes
	}
	if c.WallTime == 0 {
		c.WallTime = d.WallTime
	}
	if c.OutputLimit == 0 {
		c.OutputLimit = d.OutputLimit
	}
	if c.MaxOutputLimit == 0 {
		c.MaxOutputLimit = d.MaxOutputLimit
	}
	if c.StderrLimit == 0 {
		c.StderrLimit = d.StderrLimit
	}
	if c.MaxModuleBytes == 0 {
		c.MaxModuleBytes = d.MaxModuleBytes
	}
	if c.CacheEntries == 0 {
		c.CacheEntries = d.CacheEntries
	}
	if c.CompileWorkers == 0 {
		c.CompileWorkers = d.CompileWorkers
	}
	return c
}

// Validate reports the first field out of range.
func (c Config) Validate() error {
	switch {
	case c.MemoryLimitBytes < PageSize:
		return fmt.Errorf("sandbox: memory limit %d bytes is less than one 64 KiB page", c.MemoryLimitBytes)
	case c.MemoryLimitBytes > maxPages*PageSize:
		return fmt.Errorf("sandbox: memory limit %d bytes is over the 4 GiB a 32-bit module can address", c.MemoryLimitBytes)
	case c.WallTime < 0:
		return errors.New("sandbox: negative wall time")
	case c.OutputLimit < 0, c.StderrLimit < 0, c.MaxOutputLimit < 0:
		return errors.New("sandbox: negative output limit")
	case c.MaxModuleBytes < 0:
		return errors.New("sandbox: negative module size limit")
	case c.CacheEntries < 0:
		return errors.New("sandbox: negative cache size")
	case c.CompileWorkers < 0:
		return errors.New("sandbox: negative number of compile workers")
	}
	return nil
}

// memoryLimitPages is the memory limit in whole pages.
func (c Config) memoryLimitPages() uint64 { return uint64(c.MemoryLimitBytes) / PageSize }
