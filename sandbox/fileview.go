package sandbox

import (
	"fmt"
	"io"
	"io/fs"
	"time"
)

// DataDir is where Input.Data is mounted in the module's file system.
const DataDir = "/data"

// FileView is a file system holding one read-only file, name, whose
// content is size bytes read from r: the view of a dataset a module is
// given (for example the rows a request's filter kept, as CSV). A module
// sees it at DataDir/name.
func FileView(name string, r io.ReaderAt, size int64) (fs.FS, error) {
	if !fs.ValidPath(name) || name == "." || containsSlash(name) {
		return nil, fmt.Errorf("sandbox: file view name %q is not a plain file name", name)
	}
	if size < 0 {
		return nil, fmt.Errorf("sandbox: file view %q has a negative size", name)
	}
	return &fileView{name: name, r: r, size: size}, nil
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

type fileView struct {
	name string
	r    io.ReaderAt
	size int64
}

func (v *fileView) Open(name string) (fs.File, error) {
	switch name {
	case ".":
		return &viewDir{v: v}, nil
	case v.name:
		return &viewFile{v: v, SectionReader: io.NewSectionReader(v.r, 0, v.size)}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// viewFile has no Write method: wazero would use one if the file had it.
type viewFile struct {
	v *fileView
	*io.SectionReader
}

func (f *viewFile) Stat() (fs.FileInfo, error) { return fileInfo{v: f.v}, nil }
func (f *viewFile) Close() error               { return nil }

type viewDir struct {
	v    *fileView
	done bool
}

func (d *viewDir) Stat() (fs.FileInfo, error) { return fileInfo{v: d.v, dir: true}, nil }
func (d *viewDir) Close() error               { return nil }
func (d *viewDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: ".", Err: fs.ErrInvalid}
}

func (d *viewDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.done {
		if n > 0 {
			return nil, io.EOF
		}
		return nil, nil
	}
	d.done = true
	return []fs.DirEntry{fs.FileInfoToDirEntry(fileInfo{v: d.v})}, nil
}

type fileInfo struct {
	v   *fileView
	dir bool
}

func (i fileInfo) Name() string {
	if i.dir {
		return "."
	}
	return i.v.name
}

func (i fileInfo) Size() int64 {
	if i.dir {
		return 0
	}
	return i.v.size
}

func (i fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return i.dir }
func (i fileInfo) Sys() any           { return nil }
