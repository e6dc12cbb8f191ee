package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
)

// benchBytes is the dataset size (XBORDER_BENCH_BYTES overrides 1 GiB).
func benchBytes() int64 {
	if v, err := strconv.ParseInt(os.Getenv("XBORDER_BENCH_BYTES"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 1 << 30
}

// BenchmarkTransfer moves one dataset between two nodes on loopback
// (request, grant, transfer, SHA-256 check, write to disk) and, in the
// same run, the same bytes over a plain crypto/tls TCP connection, hashed
// and written to disk on receipt. Run with -benchtime=1x.
func BenchmarkTransfer(b *testing.B) {
	size := benchBytes()
	src := filepath.Join(b.TempDir(), "dataset.bin")
	writeRandom(b, src, size)
	ctx := context.Background()

	f := newTestFed(b, "bench", fiveCountries[:2], nil)
	fr, de := f.start(0), f.start(1)
	eventually(b, 30*time.Second, "mesh", fullMesh([]*Node{fr, de}))
	in, err := os.Open(src)
	must(b, err)
	e, err := fr.Publish(ctx, exchange.Publication{ID: "bench", Title: "Bench", Theme: "industry", Classification: "open"}, in)
	in.Close()
	must(b, err)
	alice := api.User{Subject: "alice", Role: api.RoleResearcher}
	eventually(b, 30*time.Second, "the registry has a leader", func() bool { st := de.Status(ctx); return st.Raft != nil && st.Raft.Leader != "" })
	_ = consensus.OpProjectPropose

	for b.Loop() {
		// The node: request, grant, transfer, verification, file on disk.
		t0 := time.Now()
		job, err := de.StartFetch(ctx, alice, "fr-grandest", "bench", "industrial-rd", "")
		must(b, err)
		eventually(b, 10*time.Minute, "the transfer ends", func() bool {
			st, _ := de.Transfer(ctx, job.ID)
			job = st
			return st.State != exchange.JobRunning
		})
		nodeTime := time.Since(t0)
		if job.State != exchange.JobDone || job.SHA256 != e.SHA256 {
			b.Fatalf("transfer %+v", job)
		}
		_ = os.Remove(job.Path)

		// The baseline: crypto/tls over TCP, hashed and written on receipt.
		tlsTime, sum := tlsCopy(b, src)
		if sum != e.SHA256 {
			b.Fatal("baseline digest mismatch")
		}
		mbps := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
		b.ReportMetric(mbps(nodeTime), "node_MB/s")
		b.ReportMetric(mbps(tlsTime), "tls_MB/s")
		b.ReportMetric(tlsTime.Seconds()/nodeTime.Seconds()*100, "node_%_of_tls")
	}
}

// tlsCopy serves src over crypto/tls on loopback and receives it, hashing
// and writing to disk as the node does.
func tlsCopy(b *testing.B, src string) (time.Duration, string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"bench"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(b, err)
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	must(b, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		in, err := os.Open(src)
		if err != nil {
			return
		}
		defer in.Close()
		_, _ = io.Copy(c, in)
	}()
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(der)
	pool.AddCert(leaf)
	t0 := time.Now()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "bench", MinVersion: tls.VersionTLS13})
	must(b, err)
	defer c.Close()
	out, err := os.Create(filepath.Join(b.TempDir(), "received.bin"))
	must(b, err)
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), c); err != nil && !errors.Is(err, io.EOF) {
		b.Fatal(err)
	}
	must(b, out.Sync())
	must(b, out.Close())
	return time.Since(t0), hex.EncodeToString(h.Sum(nil))
}

func writeRandom(b *testing.B, path string, size int64) {
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	buf := make([]byte, 1<<20)
	_, _ = rand.Read(buf)
	for written := int64(0); written < size; written += int64(len(buf)) {
		if _, err := out.Write(buf[:min(int64(len(buf)), size-written)]); err != nil {
			b.Fatal(err)
		}
	}
}
