// Command tlscopy is the baseline of the testnet's transfer benchmark: one
// file over one plain TLS 1.3 connection between two containers, written to
// disk and hashed with SHA-256 on the receiving side as an xborder transfer
// is. It is built static and copied into the testnet image next to xborder.
//
//	tlscopy serve -listen :7450 -file /data/blobs/sha256/HASH   # sends once, then exits
//	tlscopy recv -addr 10.207.74.11:7450 -out /data/tlscopy.bin  # prints {bytes, seconds, mb_per_s, sha256}
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tlscopy serve -listen ADDR -file FILE | tlscopy recv -addr ADDR -out FILE")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "recv":
		err = recv(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlscopy:", err)
		os.Exit(1)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", ":7450", "address to listen on")
	file := fs.String("file", "", "file to send to the first client")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up when no client comes")
	_ = fs.Parse(args)
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	l, err := tls.Listen("tcp", *listen, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	if err != nil {
		return err
	}
	defer l.Close()
	go func() { time.Sleep(*timeout); l.Close() }()
	conn, err := l.Accept()
	if err != nil {
		return err
	}
	defer conn.Close()
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(conn, f); err != nil {
		return err
	}
	return conn.(*tls.Conn).CloseWrite()
}

func recv(args []string) error {
	fs := flag.NewFlagSet("recv", flag.ExitOnError)
	addr := fs.String("addr", "", "host:port of the sender")
	out := fs.String("out", "", "file to write")
	keep := fs.Bool("keep", false, "keep the received file (by default it is removed once measured: the image has no rm)")
	_ = fs.Parse(args)
	var conn *tls.Conn
	var err error
	for range 100 { // the sender may still be starting
		conn, err = tls.Dial("tcp", *addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Handshake(); err != nil {
		return err
	}
	start := time.Now()
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), conn)
	if err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if !*keep {
		_ = os.Remove(*out)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"bytes": n, "seconds": secs, "mb_per_s": float64(n) / (1 << 20) / secs, "sha256": hex.EncodeToString(h.Sum(nil)),
	})
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tlscopy"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
