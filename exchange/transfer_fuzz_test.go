package exchange

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/xborder/xborder/internal/frame"
	"github.com/xborder/xborder/internal/nodejws"
)

// FuzzTransferFrame feeds the owner's decoder of transfer requests and its
// grant check: a transfer is served only for the grant the owner signed,
// to the peer it names, for the dataset it names.
func FuzzTransferFrame(f *testing.F) {
	ownerKey, ownerID := fuzzIdentity(f, 5)
	_, remote := fuzzIdentity(f, 6)
	src := &testSource{entries: map[string]Entry{}, blobs: map[string][]byte{}}
	e := src.add("fr-grandest", "air-quality", "open", []byte("a,b\n1,2\n"))
	s := &Service{self: Member{Name: "fr-grandest", PeerID: ownerID}, src: src}
	valid := grantClaims{Issuer: ownerID.String(), Audience: remote.String(), Subject: "fr-grandest/air-quality", ID: "seed-grant",
		IssuedAt: fuzzNow.Unix(), Expires: fuzzNow.Add(time.Hour).Unix(), SHA256: e.SHA256, Size: e.Size,
		Obligations: []string{}, Purpose: "research"}
	grant, err := nodejws.Sign(ownerKey, ownerID, grantTokenType, valid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fuzzFrame(f, transferFrame{Grant: grant, Dataset: "air-quality", Offset: 3}))
	f.Add(fuzzFrame(f, transferFrame{Grant: grant, Dataset: "other"}))
	f.Add(fuzzFrame(f, transferFrame{Grant: "x.y.z", Dataset: "air-quality", Offset: -1}))
	f.Add([]byte{0, 0, 0, 4, 'n', 'u', 'l', 'l'})
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr transferFrame
		if err := frame.Read(bytes.NewReader(data), 64<<10, &fr); err != nil {
			return
		}
		c, got, err := s.checkGrantPresented(fr.Grant, fr.Dataset, remote, fuzzNow)
		if err != nil {
			var r *RefusedError
			if !errors.As(err, &r) || r.Code == "" {
				t.Fatalf("a failure that is not a refusal: %v", err)
			}
			return
		}
		if !reflect.DeepEqual(c, valid) || fr.Dataset != "air-quality" || got.SHA256 != e.SHA256 {
			t.Fatalf("served %q with grant %+v", fr.Dataset, c)
		}
	})
}

// FuzzTransferHeader feeds the requester's decoder of the owner's header:
// it never panics and never accepts a frame over the cap.
func FuzzTransferHeader(f *testing.F) {
	f.Add(fuzzFrame(f, transferHeader{Size: 10, SHA256: "ab", Offset: 2}))
	f.Add(fuzzFrame(f, transferHeader{Code: RefusalBusy, Reason: "later"}))
	f.Add([]byte{0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 256
		var h transferHeader
		err := frame.Read(bytes.NewReader(data), limit, &h)
		if len(data) >= 4 && int(data[0])<<24|int(data[1])<<16|int(data[2])<<8|int(data[3]) > limit && !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("an oversized frame was read: %v", err)
		}
	})
}
