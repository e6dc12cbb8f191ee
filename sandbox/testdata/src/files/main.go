// Command files tries every way out of its read-only view and prints, for
// each, "ok" or the error: the test expects only errors.
package main

import (
	"fmt"
	"os"
)

func main() {
	try("create in /data", func() error { return close(os.Create("/data/new.csv")) })
	try("write /data/input.csv", func() error { return close(os.OpenFile("/data/input.csv", os.O_WRONLY, 0)) })
	try("append /data/input.csv", func() error { return close(os.OpenFile("/data/input.csv", os.O_APPEND|os.O_WRONLY, 0)) })
	try("remove /data/input.csv", func() error { return os.Remove("/data/input.csv") })
	try("mkdir /data/x", func() error { return os.Mkdir("/data/x", 0o755) })
	try("open /etc/passwd", func() error { return close(os.Open("/etc/passwd")) })
	try("open /data/../etc/passwd", func() error { return close(os.Open("/data/../etc/passwd")) })
	try("create /tmp/x", func() error { return close(os.Create("/tmp/x")) })
	try("read dir /", func() error { _, err := os.ReadDir("/"); return err })
	try("open /input.csv", func() error { return close(os.Open("/input.csv")) })
}

func try(what string, f func() error) {
	if err := f(); err != nil {
		fmt.Printf("%s: %v\n", what, err)
		return
	}
	fmt.Printf("%s: ok\n", what)
}

func close(f *os.File, err error) error {
	if err != nil {
		return err
	}
	return f.Close()
}
