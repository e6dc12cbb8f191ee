package consensus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/boltfile"
)

// MaxVoters bounds the raft voters; later members replicate as non-voters,
// so writes stay fast as the federation grows while every member reads
// locally.
const MaxVoters = 7

// replayWindow is how long a command's nonce is remembered. A command
// dated further back than the newest applied one minus the window is
// refused, so a replay cannot outlive its nonce.
const replayWindow int64 = 60 * 60 * 1000 // one hour, in ms

// Themes are the three priorities of the Grand Est AI plan.
var Themes = []string{"health", "industry", "bioeconomy"}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// RejectedError is a command the FSM refused; every member refuses it the
// same way, with the same reason.
type RejectedError struct {
	Op     string
	Reason string
	// Code names the refusals callers branch on ("" for the others):
	// errors.Is matches ErrReplayed and ErrExists by it.
	Code string
}

func (e *RejectedError) Error() string { return fmt.Sprintf("%s rejected: %s", e.Op, e.Reason) }

// Is matches the sentinels of the refusals callers branch on.
func (e *RejectedError) Is(target error) bool {
	return (target == ErrReplayed && e.Code == codeReplayed) || (target == ErrExists && e.Code == codeExists)
}

// Refusals callers branch on, matched with errors.Is on a *RejectedError.
var (
	// ErrReplayed: the command was already applied (its nonce is used).
	ErrReplayed = errors.New("the command was already applied")
	// ErrExists: what the command creates already exists.
	ErrExists = errors.New("it already exists")
)

const (
	codeReplayed = "replayed"
	codeExists   = "exists"
)

func reject(op, format string, args ...any) error {
	return &RejectedError{Op: op, Reason: fmt.Sprintf(format, args...)}
}

// rejectCode is reject for a refusal callers branch on.
func rejectCode(op, code, format string, args ...any) error {
	return &RejectedError{Op: op, Reason: fmt.Sprintf(format, args...), Code: code}
}

// entry is one raft log entry: commands coalesced by the leader.
type entry struct {
	Cmds []string `json:"cmds"`
}

// MembershipChange is reported after a vote adds, removes or re-keys a
// member.
type MembershipChange struct {
	Member Member
	Added  bool
	// FormerPeerID is set by a re-key: the key Member.PeerID replaced,
	// refused from the vote's entry on (Added is false).
	FormerPeerID string
}

// fsm applies the log to the registry state in registry.db.
type fsm struct {
	path string
	mu   sync.RWMutex // guards db across Restore
	db   *bolt.DB
	// resumeAt is the index this replica had applied when it last
	// stopped (read once at open).
	resumeAt uint64

	// onChange is called after a commit that changed membership.
	onChange func(MembershipChange)

	// members is the member index as of the last applied entry, kept
	// for the next one; nil after a membership op or a restore. Only
	// raft's FSM goroutine (Apply, Restore) touches it.
	members *memberIndex

	// applied wakes WaitApplied after each apply and restore.
	applied appliedSignal
}

// stateFormat is registry.db's layout version (see boltfile.Format). A
// raft snapshot is this file whole, so it carries the version too: a
// replica restores a snapshot from an older leader by migrating it, and
// refuses one from a newer leader (Restore) rather than read a layout it
// does not know.
var stateFormat = boltfile.Format{Name: "registry state", Version: 1}

// fsmOptions: the state is not synced on every apply. The raft log is
// the durable record; on start raft restores its latest snapshot and
// replays the log after it, so state lost in a crash is rebuilt, and a
// bbolt commit is atomic either way.
var fsmOptions = &bolt.Options{Timeout: 5e9, NoSync: true, NoFreelistSync: true}

func openFSM(path string, genesis []Member) (*fsm, error) {
	db, err := boltfile.OpenFormat(path, fsmOptions, boltfile.ResyncFromPartners, stateFormat)
	if err != nil {
		return nil, err
	}
	f := &fsm{path: path, db: db}
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := initBuckets(tx); err != nil {
			return err
		}
		// What this replica had applied when it stopped: raft restores its
		// latest snapshot over it at start, so reads go back until the log
		// is applied up to here again.
		f.resumeAt = u64(tx.Bucket(bMeta).Get(keyApplied))
		return seedGenesis(tx, genesis)
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise registry: %w", err)
	}
	return f, nil
}

// seedGenesis makes the founding members the registry's first members, on
// an empty registry only. Every member holds the same genesis, so every
// replica starts from the same state.
func seedGenesis(tx *bolt.Tx, genesis []Member) error {
	if tx.Bucket(bMembers).Stats().KeyN > 0 || u64(tx.Bucket(bMeta).Get(keyApplied)) > 0 {
		return nil
	}
	sorted := slices.Clone(genesis)
	slices.SortFunc(sorted, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	for i, m := range sorted {
		m.Founding, m.Voter, m.Joined = true, i < MaxVoters, 0
		if err := put(tx, bMembers, m.Name, m); err != nil {
			return err
		}
	}
	return nil
}

func (f *fsm) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.db.Close()
}

// view runs a read transaction on the current state.
func (f *fsm) view(fn func(tx *bolt.Tx) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.db.View(fn)
}

// Apply implements raft.FSM. It returns one error (nil when applied) per
// coalesced command.
//
// The commands of an entry are decoded and their signatures checked
// first, in parallel: that depends on the command bytes alone, not on the
// state. They are then applied in log order in one bbolt transaction.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	var e entry
	if err := json.Unmarshal(l.Data, &e); err != nil {
		// Only a leader writes entries; a malformed one is refused whole,
		// the same way everywhere.
		return []error{reject("entry", "malformed log entry: %v", err)}
	}
	results := make([]error, len(e.Cmds))
	if f.appliedIndex() >= l.Index {
		// Already applied before a restart: the state has it.
		return results
	}
	cmds := checkCommands(e.Cmds)
	var changes []MembershipChange
	var members memberIndex
	f.mu.RLock()
	err := f.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if u64(meta.Get(keyApplied)) >= l.Index {
			return nil
		}
		members = memberIndex{tx: tx}
		if f.members != nil {
			members.byPeer, members.byName = f.members.byPeer, f.members.byName
		}
		for i := range cmds {
			ch, err := applyCommand(tx, &cmds[i], &members, l.Index)
			results[i] = err
			changes = append(changes, ch...)
		}
		return meta.Put(keyApplied, putU64(l.Index))
	})
	f.mu.RUnlock()
	if err != nil {
		// A storage failure must not let replicas diverge silently.
		panic(fmt.Sprintf("registry: apply index %d: %v", l.Index, err))
	}
	f.applied.notify()
	// The index is a function of the members bucket, which only member
	// ops change (and they invalidate it).
	f.members = nil
	if members.byPeer != nil {
		members.tx = nil
		f.members = &members
	}
	if f.onChange != nil {
		for _, ch := range changes {
			f.onChange(ch)
		}
	}
	return results
}

// appliedIndex is the last log index applied to the state.
func (f *fsm) appliedIndex() uint64 {
	var idx uint64
	_ = f.view(func(tx *bolt.Tx) error {
		idx = u64(tx.Bucket(bMeta).Get(keyApplied))
		return nil
	})
	return idx
}

// checkedCommand is a command decoded and its signature checked, before
// it meets the state.
type checkedCommand struct {
	signedCommand
	parseErr error // not a signed command
	sigErr   error // the signature does not verify against the key of By
}

// checkCommands decodes the commands of one entry and verifies their
// signatures, spread over the available cores.
func checkCommands(cmds []string) []checkedCommand {
	out := make([]checkedCommand, len(cmds))
	check := func(i int) {
		c := &out[i]
		if c.signedCommand, c.parseErr = parseCommand([]byte(cmds[i])); c.parseErr == nil {
			c.sigErr = c.verify()
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(cmds))
	if workers <= 1 {
		for i := range cmds {
			check(i)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(cmds); i = int(next.Add(1)) - 1 {
				check(i)
			}
		})
	}
	wg.Wait()
	return out
}

// memberIndex finds members by peer ID and by name within one
// transaction; it is rebuilt after an operation that may change
// membership.
type memberIndex struct {
	tx     *bolt.Tx
	byPeer map[string]Member
	byName map[string]Member
}

func (mi *memberIndex) load() {
	if mi.byPeer != nil {
		return
	}
	mi.byPeer, mi.byName = map[string]Member{}, map[string]Member{}
	_ = mi.tx.Bucket(bMembers).ForEach(func(k, raw []byte) error {
		var m Member
		if json.Unmarshal(raw, &m) == nil {
			mi.byPeer[m.PeerID] = m // the last in key order wins, as memberByPeer
			mi.byName[string(k)] = m
		}
		return nil
	})
}

// get finds a member by peer ID.
func (mi *memberIndex) get(pid string) (Member, bool) {
	mi.load()
	m, ok := mi.byPeer[pid]
	return m, ok
}

// named finds a member by name.
func (mi *memberIndex) named(name string) (Member, bool) {
	mi.load()
	m, ok := mi.byName[name]
	return m, ok
}

func (mi *memberIndex) invalidate() { mi.byPeer, mi.byName = nil, nil }

// applyCommand applies one checked command of the entry at index inside
// the transaction. A refused command changes nothing. A command is
// accepted only from a member's current key: a key a re-key replaced is
// refused like a stranger's.
func applyCommand(tx *bolt.Tx, cc *checkedCommand, members *memberIndex, index uint64) ([]MembershipChange, error) {
	if cc.parseErr != nil {
		return nil, reject("command", "%v", cc.parseErr)
	}
	c := cc.Command
	by, ok := members.get(c.By)
	if !ok {
		if former, ok := formerKey(tx, c.By); ok {
			return nil, reject(c.Op, "%s is no longer a member's key: a re-key vote replaced it (index %d)", c.By, former.UntilIndex)
		}
		return nil, reject(c.Op, "%s is not a member of the federation", c.By)
	}
	if cc.sigErr != nil {
		return nil, reject(c.Op, "%v", cc.sigErr)
	}
	// Replays: a nonce is accepted once, and only within the window.
	meta := tx.Bucket(bMeta)
	maxTS := int64(u64(meta.Get(keyMaxTS)))
	if c.TS < maxTS-replayWindow {
		return nil, reject(c.Op, "the command is dated %d, more than an hour before the newest applied command (%d); submit it again", c.TS, maxTS)
	}
	if tx.Bucket(bNonces).Get([]byte(c.Nonce)) != nil || c.Nonce == "" {
		return nil, rejectCode(c.Op, codeReplayed, "replayed command (nonce %q was already used)", c.Nonce)
	}
	// Each op validates everything before it writes, so a refusal leaves
	// no partial change.
	changes, err := runOp(tx, c, by, members, index)
	if c.Op == OpMemberPropose || c.Op == OpMemberVote {
		members.invalidate()
	}
	if err != nil {
		return nil, err
	}
	if err := tx.Bucket(bNonces).Put([]byte(c.Nonce), putU64(uint64(c.TS))); err != nil {
		return nil, err
	}
	if err := tx.Bucket(bNonceTS).Put(append(putU64(uint64(c.TS)), c.Nonce...), nil); err != nil {
		return nil, err
	}
	if c.TS > maxTS {
		maxTS = c.TS
		if err := meta.Put(keyMaxTS, putU64(uint64(maxTS))); err != nil {
			return nil, err
		}
	}
	return changes, pruneNonces(tx, maxTS-replayWindow)
}

// pruneNonces forgets nonces older than the replay window, in ts order.
func pruneNonces(tx *bolt.Tx, before int64) error {
	if before <= 0 {
		return nil
	}
	byTS, nonces := tx.Bucket(bNonceTS), tx.Bucket(bNonces)
	cur := byTS.Cursor()
	var stale [][]byte
	for k, _ := cur.First(); k != nil && int64(u64(k[:8])) < before; k, _ = cur.Next() {
		stale = append(stale, bytes.Clone(k))
	}
	for _, k := range stale {
		if err := nonces.Delete(k[8:]); err != nil {
			return err
		}
		if err := byTS.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func decodeArgs(c Command, v any) error {
	dec := json.NewDecoder(bytes.NewReader(c.Args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return reject(c.Op, "malformed arguments: %v", err)
	}
	return nil
}

// Snapshot implements raft.FSM: a read transaction is a consistent view
// of the state while Apply goes on.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	tx, err := f.db.Begin(false)
	f.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return &snapshot{tx: tx}, nil
}

type snapshot struct{ tx *bolt.Tx }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.tx.WriteTo(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write registry snapshot: %w", err)
	}
	return sink.Close()
}

func (s *snapshot) Release() { _ = s.tx.Rollback() }

// Restore implements raft.FSM: the snapshot replaces registry.db whole.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tmp := f.path + ".restore"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return fmt.Errorf("read registry snapshot: %w", err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	// Check (and migrate) the snapshot's layout before it replaces
	// anything: one from a leader running a newer release is refused with
	// a *boltfile.FormatError, and this replica keeps its state.
	sdb, err := boltfile.OpenFormat(tmp, fsmOptions, boltfile.ResyncFromPartners, stateFormat)
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("registry snapshot: %w", err)
	}
	if err := sdb.Close(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members = nil
	if err := f.db.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return err
	}
	db, err := boltfile.OpenFormat(f.path, fsmOptions, boltfile.ResyncFromPartners, stateFormat)
	if err != nil {
		return fmt.Errorf("reopen restored registry: %w", err)
	}
	f.db = db
	err = db.Update(initBuckets)
	f.applied.notify()
	return err
}

// validCandidate checks a candidate's identity card.
func validCandidate(op string, m Member) error {
	if !namePattern.MatchString(m.Name) {
		return reject(op, "candidate name %q must be lower-case letters, digits and dashes", m.Name)
	}
	if len(m.Country) != 2 || strings.ToUpper(m.Country) != m.Country {
		return reject(op, "candidate country %q is not an ISO 3166-1 alpha-2 code", m.Country)
	}
	if strings.TrimSpace(m.Org) == "" {
		return reject(op, "candidate organisation is empty")
	}
	return validPeerID(op, m.PeerID)
}

// validPeerID checks that a candidate's peer ID embeds an Ed25519 key, the
// key its commands are verified with.
func validPeerID(op, id string) error {
	pid, err := peer.Decode(id)
	if err != nil {
		return reject(op, "candidate peer ID %q is not a peer ID", id)
	}
	if pub, err := pid.ExtractPublicKey(); err != nil || pub.Type() != crypto.Ed25519 {
		return reject(op, "candidate peer ID %s is not an Ed25519 key", id)
	}
	return nil
}
