package signins

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPutGetDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg", "xborder")
	s := Open(dir)
	if _, ok, err := s.Get("http://127.0.0.1:1"); ok || err != nil {
		t.Fatalf("empty store: %v %v", ok, err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	in := SignIn{Token: "tok-a", Expires: exp, Provider: "uni", Issuer: "https://idp.example", Subject: "uni:1", Role: "researcher",
		RefreshToken: "refresh-a", ClientID: "xborder-cli", Scopes: []string{"openid", "offline_access"}, IDPCAFile: "/etc/idp-ca.pem"}
	if replaced, err := s.Put("http://127.0.0.1:1", in); err != nil || replaced {
		t.Fatalf("put: %v %v", replaced, err)
	}
	if _, err := s.Put("https://node.example:7411", SignIn{Token: "tok-b", Expires: exp}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get("http://127.0.0.1:1")
	if err != nil || !ok || got.Token != "tok-a" || !got.Expires.Equal(exp) || got.Role != "researcher" || got.RefreshToken != "refresh-a" ||
		got.ClientID != "xborder-cli" || len(got.Scopes) != 2 || got.Scopes[1] != "offline_access" || got.IDPCAFile != "/etc/idp-ca.pem" {
		t.Fatalf("get: %+v %v %v", got, ok, err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, s.Path(): 0o600} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != want {
			t.Fatalf("%s: mode %v, want %v (%v)", p, st.Mode().Perm(), want, err)
		}
	}
	if found, err := s.Delete("http://127.0.0.1:1"); !found || err != nil {
		t.Fatalf("delete: %v %v", found, err)
	}
	if found, err := s.Delete("http://127.0.0.1:1"); found || err != nil {
		t.Fatalf("delete again: %v %v", found, err)
	}
	if got, ok, _ := s.Get("https://node.example:7411"); !ok || got.Token != "tok-b" {
		t.Fatal("the other node's sign-in went with it")
	}
	// Nothing but tokens.json is left behind in the directory.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("directory holds %v", ents)
	}
}

func TestCorruptAndExposedFiles(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir)
	for _, bad := range []string{"{", `{"version": 2, "nodes": {}}`, `{"version": 1, "nodes": {"x": {"token": ""}}}`, `[]`} {
		if err := os.WriteFile(s.Path(), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		var ce *CorruptError
		if _, _, err := s.Get("x"); !errors.As(err, &ce) {
			t.Fatalf("%q: want a CorruptError, got %v", bad, err)
		}
		if _, err := s.Delete("x"); !errors.As(err, &ce) {
			t.Fatalf("%q: delete: want a CorruptError, got %v", bad, err)
		}
	}
	replaced, err := s.Put("x", SignIn{Token: "t", Expires: time.Now()})
	if err != nil || !replaced {
		t.Fatalf("put over a corrupt file: %v %v", replaced, err)
	}
	if got, ok, err := s.Get("x"); err != nil || !ok || got.Token != "t" {
		t.Fatalf("after rewrite: %+v %v %v", got, ok, err)
	}
	if err := os.Chmod(s.Path(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get("x"); err == nil {
		t.Fatal("a token file others may read was used")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version":1,"nodes":{"http://127.0.0.1:7411":{"token":"a","expires":"2026-12-07T10:00:00Z"}}}`))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fl, err := parse(raw)
		if err != nil {
			return
		}
		if fl.Nodes == nil || fl.Version != formatVersion {
			t.Fatalf("accepted %q as %+v", raw, fl)
		}
		for addr, in := range fl.Nodes {
			if addr == "" || in.Token == "" || in.Expires.IsZero() {
				t.Fatalf("accepted an incomplete entry: %q", raw)
			}
		}
	})
}
