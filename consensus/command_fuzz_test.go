package consensus

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// fuzzMember is a deterministic member key and its peer ID.
func fuzzMember(tb testing.TB, seed byte) (ed25519.PrivateKey, peer.ID) {
	tb.Helper()
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	pub, err := crypto.UnmarshalEd25519PublicKey(k.Public().(ed25519.PublicKey))
	if err != nil {
		tb.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return k, id
}

// fuzzCommands are real signed commands of every kind a member sends: one
// per operation, with the arguments its client would send.
func fuzzCommands(tb testing.TB) [][]byte {
	tb.Helper()
	k, id := fuzzMember(tb, 1)
	_, other := fuzzMember(tb, 2)
	ts := time.Unix(1_800_000_000, 0).UnixMilli()
	var out [][]byte
	for _, c := range []struct {
		op   string
		args any
	}{
		{OpProjectPropose, ProjectProposal{ID: "fr-de-oncology", Title: "Oncology imaging", Themes: []string{"health"}, Partners: []string{"fr-grandest", "de-bw"}, EthicsRef: "CPP-1"}},
		{OpProjectJoin, ProjectRef{ID: "fr-de-oncology"}},
		{OpProjectAttach, DatasetAttachment{ID: "fr-de-oncology", Dataset: "fr-grandest/ct-scans"}},
		{OpProjectClose, ProjectRef{ID: "fr-de-oncology"}},
		{OpMemberPropose, MemberChange{Candidate: Member{Name: "nl-limburg", Country: "NL", Org: "Limburg", PeerID: other.String()}, Action: "add"}},
		{OpMemberVote, Vote{Candidate: "nl-limburg", Vote: "yes"}},
		{OpAnchorPut, AnchorArgs{Seq: 7, Head: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}},
		{OpPolicyPut, PolicyArgs{Hash: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}},
		{OpAgreementRevoke, AgreementRevocation{ID: "seg-2026", Reason: "withdrawn"}},
		{OpModulePropose, ModuleProposal{Project: "fr-de-oncology", SHA256: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
			Name: "cohort-describe", Kind: ModuleAnalysis, Source: "https://git.example.org/cohort-describe@4191fff",
			Schema: json.RawMessage(`{"type":"object"}`)}},
		{OpModuleApprove, ModuleRef{Project: "fr-de-oncology", SHA256: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}},
		{OpModuleWithdraw, ModuleRef{Project: "fr-de-oncology", SHA256: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}},
		{OpEvaluationCommit, EvaluationCommit{Model: "fr-grandest/sepsis-risk", Analysis: "20261126T090000Z-a1b2c3d4e5f6",
			Contributions: fuzzContributions(tb)}},
	} {
		args, err := json.Marshal(c.args)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, signWith(k, edDSAHeader, Command{Op: c.op, Args: args, By: id.String(), Nonce: fmt.Sprintf("%032x", len(out)), TS: ts}))
	}
	// A protected header other than SignCommand's: EdDSA with a kid.
	kid := b64.EncodeToString([]byte(`{"alg":"EdDSA","kid":"` + id.String() + `"}`))
	out = append(out, signWith(k, kid, Command{Op: OpProjectJoin, Args: json.RawMessage(`{"id":"p1"}`), By: id.String(), Nonce: "00ff", TS: ts}))
	return out
}

// signWith signs a command as SignCommand does, with the nonce given, so
// that every fuzzing process holds the same seeds.
func signWith(k ed25519.PrivateKey, header string, c Command) []byte {
	payload, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	in := header + "." + b64.EncodeToString(payload)
	return []byte(in + "." + b64.EncodeToString(ed25519.Sign(k, []byte(in))))
}

// FuzzCommand feeds the decoder of signed registry commands, the bytes
// every replica reads from the raft log and a leader reads from a
// forwarding stream, and the signature check after it. Nothing may crash
// a replica; a decoded command re-encodes to the same command; and a
// command that verifies is byte for byte one its signer signed: no change
// to a signed command (its header, its payload's encoding, the signature's
// encoding) is accepted as the signer's.
func FuzzCommand(f *testing.F) {
	signed := fuzzCommands(f)
	for _, s := range signed {
		f.Add(s)
		f.Add(s[:len(s)-1])
	}
	f.Add([]byte("eyJhbGciOiJub25lIn0.e30."))
	f.Add([]byte("..."))
	f.Add([]byte(edDSAHeader + ".bnVsbA." + string(bytes.Repeat([]byte{'A'}, 86))))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := parseCommand(data)
		if err != nil {
			return
		}
		if len(sc.sig) != ed25519.SignatureSize {
			t.Fatalf("a %d-byte signature was accepted", len(sc.sig))
		}
		if !bytes.HasPrefix(data, sc.input) || len(data) <= len(sc.input) || data[len(sc.input)] != '.' {
			t.Fatal("the signed input is not the command's header.payload")
		}
		// The decoded command re-encodes to itself.
		header, _, _ := bytes.Cut(data, []byte{'.'})
		payload, err := json.Marshal(sc.Command)
		if err != nil {
			t.Fatalf("a decoded command does not encode: %v", err)
		}
		again, err := parseCommand([]byte(string(header) + "." + b64.EncodeToString(payload) + "." + b64.EncodeToString(sc.sig)))
		if err != nil {
			t.Fatalf("a decoded command does not decode again: %v", err)
		}
		if !sameCommand(again.Command, sc.Command) {
			t.Fatalf("decoded %+v, re-encoded and decoded %+v", sc.Command, again.Command)
		}
		if sc.verify() != nil {
			return
		}
		for _, s := range signed {
			if bytes.Equal(s, data) {
				return
			}
		}
		t.Fatalf("a command its signer never signed verifies: %q", data)
	})
}

// sameCommand compares commands with their arguments as JSON values.
func sameCommand(a, b Command) bool {
	value := func(r json.RawMessage) (any, bool) {
		if len(r) == 0 {
			return nil, true
		}
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		var v any
		return v, dec.Decode(&v) == nil
	}
	va, okA := value(a.Args)
	vb, okB := value(b.Args)
	return a.Op == b.Op && a.By == b.By && a.Nonce == b.Nonce && a.TS == b.TS && okA && okB && reflect.DeepEqual(va, vb)
}

// The fuzz seeds are commands as SignCommand writes them.
func TestFuzzSeedsAreSignedCommands(t *testing.T) {
	k, id := fuzzMember(t, 1)
	real, err := SignCommand(k, id, OpProjectJoin, ProjectRef{ID: "p1"}, 42)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := parseCommand(real)
	if err != nil {
		t.Fatal(err)
	}
	if got := signWith(k, edDSAHeader, sc.Command); !bytes.Equal(got, real) {
		t.Fatalf("signWith wrote %s, SignCommand %s", got, real)
	}
	for _, s := range fuzzCommands(t) {
		sc, err := parseCommand(s)
		if err != nil || sc.verify() != nil {
			t.Fatalf("seed %s: %v", s, err)
		}
	}
}
