package consensus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/nodejws"
)

// Registry operations on a project's analysis modules and on the signed
// evaluations of models.
const (
	// OpModulePropose lists a WebAssembly module, by its SHA-256, for a
	// project; only the project's lead proposes.
	OpModulePropose = "module.propose"
	// OpModuleApprove records that the owner of a dataset attached to the
	// project lets the module run on its data.
	OpModuleApprove = "module.approve"
	// OpModuleWithdraw withdraws the module (the lead) or one approval
	// (the approver that gave it).
	OpModuleWithdraw = "module.withdraw"
	// OpEvaluationCommit stores the evaluation of a model: the
	// contributions its owners signed in one analysis.
	OpEvaluationCommit = "evaluation.commit"
)

// Kinds of modules.
const (
	// ModuleAnalysis computes a result whose shape Schema declares.
	ModuleAnalysis = "analysis"
	// ModulePredictor is a model's predictor, run to evaluate the model.
	ModulePredictor = "predictor"
)

// Bounds of a module's record: what every replica keeps, for as long as
// the registry lives.
const (
	MaxModuleName        = 128      // characters
	MaxModuleSource      = 1024     // bytes
	MaxModuleDescription = 4096     // bytes
	MaxModuleSchema      = 16 << 10 // bytes
)

// Bounds of an evaluation.
const (
	// MaxEvaluationContributions is the most owners one evaluation names.
	MaxEvaluationContributions = 32
	// maxEvaluationRef bounds the model reference and the analysis ID.
	maxEvaluationRef = 256
)

// EvaluationKind is the "kind" every contribution of an evaluation claims.
const EvaluationKind = "evaluate"

// ModuleProposal is the argument of module.propose.
type ModuleProposal struct {
	Project     string `json:"project"`
	SHA256      string `json:"sha256"` // lower-case hex SHA-256 of the .wasm module
	Name        string `json:"name"`
	Kind        string `json:"kind"`   // analysis or predictor
	Source      string `json:"source"` // where the reviewed source is, e.g. URL@commit
	Description string `json:"description,omitempty"`
	// Schema is the output schema an analysis module declares (opaque to
	// the registry, at most MaxModuleSchema bytes); a predictor has none.
	Schema json.RawMessage `json:"schema,omitempty"`
}

// ModuleRef is the argument of module.approve and module.withdraw.
type ModuleRef struct {
	Project string `json:"project"`
	SHA256  string `json:"sha256"`
}

// Module is a module of a project as every member holds it.
type Module struct {
	Project     string          `json:"project"`
	SHA256      string          `json:"sha256"`
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Source      string          `json:"source"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	ProposedBy  string          `json:"proposed_by"`
	Proposed    int64           `json:"proposed"` // ts of the proposal, Unix ms
	// Approvals are the dataset owners that let the module run on their
	// data, sorted; ApprovedAt the ts of each one's approval.
	Approvals  []string         `json:"approvals"`
	ApprovedAt map[string]int64 `json:"approved_at,omitempty"`
	// Withdrawn is the ts at which the lead withdrew the module (0 while
	// it is not): nobody may run it any more, whoever approved it.
	Withdrawn int64 `json:"withdrawn,omitempty"`
}

// ApprovedBy reports whether owner lets the module run on its data: it
// approved it, has not withdrawn its approval, and the lead has not
// withdrawn the module.
func (m Module) ApprovedBy(owner string) bool {
	return m.Withdrawn == 0 && slices.Contains(m.Approvals, owner)
}

// EvaluationCommit is the argument of evaluation.commit.
type EvaluationCommit struct {
	Model    string `json:"model"`    // owner/id of the model entry
	Analysis string `json:"analysis"` // the analysis ID
	// Contributions are compact JWS of type
	// nodejws.TypeAnalysisContribution, one per owner, each signed by the
	// member its "owner" claim names.
	Contributions []string `json:"contributions"`
}

// Evaluation is a committed evaluation of a model: Owners[i] signed
// Contributions[i], sorted by owner.
type Evaluation struct {
	Model         string   `json:"model"`
	Analysis      string   `json:"analysis"`
	CommittedBy   string   `json:"committed_by"`
	Committed     int64    `json:"committed"` // ts of the commit, Unix ms
	Owners        []string `json:"owners"`
	Contributions []string `json:"contributions"`
}

var (
	bModules     = []byte("modules")     // project\x00sha256 -> Module
	bEvaluations = []byte("evaluations") // model\x00analysis -> Evaluation
)

func moduleKey(project, sha string) string        { return project + "\x00" + sha }
func evaluationKey(model, analysis string) string { return model + "\x00" + analysis }

// runModuleOp applies the module and evaluation operations; handled is
// false for any other operation.
func runModuleOp(tx *bolt.Tx, c Command, by Member, members *memberIndex) (handled bool, err error) {
	switch c.Op {
	case OpModulePropose:
		var a ModuleProposal
		if err := decodeArgs(c, &a); err != nil {
			return true, err
		}
		return true, proposeModule(tx, c, by, a)
	case OpModuleApprove:
		var a ModuleRef
		if err := decodeArgs(c, &a); err != nil {
			return true, err
		}
		return true, approveModule(tx, c, by, a)
	case OpModuleWithdraw:
		var a ModuleRef
		if err := decodeArgs(c, &a); err != nil {
			return true, err
		}
		return true, withdrawModule(tx, c, by, a)
	case OpEvaluationCommit:
		var a EvaluationCommit
		if err := decodeArgs(c, &a); err != nil {
			return true, err
		}
		return true, commitEvaluation(tx, c, by, a, members)
	}
	return false, nil
}

// plainText reports whether s is valid UTF-8 without control characters:
// a field every member's console shows as is.
func plainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// isNull reports whether a raw JSON value is absent or null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func proposeModule(tx *bolt.Tx, c Command, by Member, a ModuleProposal) error {
	p, err := get[Project](tx, bProjects, a.Project)
	if err != nil {
		return reject(c.Op, "no project %q", a.Project)
	}
	if p.Status != "active" {
		return reject(c.Op, "project %q is closed", a.Project)
	}
	if p.Lead != by.Name {
		return reject(c.Op, "only the lead of %q, %s, proposes its modules", a.Project, p.Lead)
	}
	if !isHexSHA256(a.SHA256) {
		return reject(c.Op, "the module's sha256 must be a lower-case hex SHA-256 (64 characters 0-9a-f)")
	}
	name := strings.TrimSpace(a.Name)
	switch {
	case name == "":
		return reject(c.Op, "the module name is empty")
	case !plainText(a.Name) || utf8.RuneCountInString(a.Name) > MaxModuleName:
		return reject(c.Op, "the module name must be at most %d characters of plain text", MaxModuleName)
	}
	if strings.TrimSpace(a.Source) == "" {
		return reject(c.Op, "the module's source is empty: say where the reviewed source is (e.g. URL@commit)")
	}
	if !plainText(a.Source) || len(a.Source) > MaxModuleSource {
		return reject(c.Op, "the module's source must be at most %d bytes of plain text", MaxModuleSource)
	}
	if !utf8.ValidString(a.Description) || len(a.Description) > MaxModuleDescription {
		return reject(c.Op, "the module's description must be at most %d bytes of UTF-8 text", MaxModuleDescription)
	}
	schema := a.Schema
	switch a.Kind {
	case ModuleAnalysis:
		if isNull(schema) {
			return reject(c.Op, "an analysis module declares its output schema")
		}
		if len(schema) > MaxModuleSchema {
			return reject(c.Op, "the output schema is %d bytes, over %d", len(schema), MaxModuleSchema)
		}
	case ModulePredictor:
		if !isNull(schema) {
			return reject(c.Op, "a predictor module declares no output schema")
		}
		schema = nil
	default:
		return reject(c.Op, "module kind %q is not %s or %s", a.Kind, ModuleAnalysis, ModulePredictor)
	}
	key := moduleKey(a.Project, a.SHA256)
	if old, err := get[Module](tx, bModules, key); err == nil {
		// A record is never replaced: who approved a module, and that it
		// was withdrawn, stay on record; a withdrawn module stays so.
		if old.Withdrawn != 0 {
			return rejectCode(c.Op, codeExists, "module %.12s… of %q was withdrawn; a withdrawn module is not proposed again", a.SHA256, a.Project)
		}
		return rejectCode(c.Op, codeExists, "module %.12s… is already proposed for %q (as %q)", a.SHA256, a.Project, old.Name)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	return put(tx, bModules, key, Module{Project: a.Project, SHA256: a.SHA256, Name: name, Kind: a.Kind,
		Source: strings.TrimSpace(a.Source), Description: a.Description, Schema: schema, ProposedBy: by.Name,
		Proposed: c.TS, Approvals: []string{}})
}

// moduleOf finds a module and its project, or rejects the command.
func moduleOf(tx *bolt.Tx, c Command, a ModuleRef) (Project, Module, error) {
	p, err := get[Project](tx, bProjects, a.Project)
	if err != nil {
		return p, Module{}, reject(c.Op, "no project %q", a.Project)
	}
	m, err := get[Module](tx, bModules, moduleKey(a.Project, a.SHA256))
	if errors.Is(err, ErrNotFound) {
		return p, m, reject(c.Op, "project %q has no module %q", a.Project, a.SHA256)
	} else if err != nil {
		return p, m, err
	}
	if m.Withdrawn != 0 {
		return p, m, reject(c.Op, "module %s (%.12s…) of %q was withdrawn by the lead", m.Name, m.SHA256, a.Project)
	}
	return p, m, nil
}

// ownsAttached reports whether member owns a dataset attached to the
// project; a pending attachment does not count.
func ownsAttached(p Project, member string) bool {
	return slices.ContainsFunc(p.Datasets, func(d string) bool { return datasetOwner(d) == member })
}

func approveModule(tx *bolt.Tx, c Command, by Member, a ModuleRef) error {
	p, m, err := moduleOf(tx, c, a)
	if err != nil {
		return err
	}
	if p.Status != "active" {
		return reject(c.Op, "project %q is closed", a.Project)
	}
	if !ownsAttached(p, by.Name) {
		return reject(c.Op, "%s owns no dataset attached to %q; only the owners of its attached datasets approve its modules", by.Name, a.Project)
	}
	if slices.Contains(m.Approvals, by.Name) {
		return reject(c.Op, "%s has already approved module %s (%.12s…) of %q", by.Name, m.Name, m.SHA256, a.Project)
	}
	m.Approvals = sortedSet(append(m.Approvals, by.Name))
	if m.ApprovedAt == nil {
		m.ApprovedAt = map[string]int64{}
	}
	m.ApprovedAt[by.Name] = c.TS
	return put(tx, bModules, moduleKey(m.Project, m.SHA256), m)
}

// withdrawModule: the lead withdraws the module itself (even from a
// closed project: stopping a module is never refused for that); an
// approver withdraws its own approval. A lead that also approved
// withdraws the module.
func withdrawModule(tx *bolt.Tx, c Command, by Member, a ModuleRef) error {
	p, m, err := moduleOf(tx, c, a)
	if err != nil {
		return err
	}
	switch {
	case p.Lead == by.Name:
		m.Withdrawn = c.TS
	case slices.Contains(m.Approvals, by.Name):
		m.Approvals = slices.DeleteFunc(m.Approvals, func(n string) bool { return n == by.Name })
		delete(m.ApprovedAt, by.Name)
		if len(m.ApprovedAt) == 0 {
			m.ApprovedAt = nil
		}
	default:
		return reject(c.Op, "%s may not withdraw module %s (%.12s…) of %q: the lead, %s, withdraws the module, and an approver only its own approval",
			by.Name, m.Name, m.SHA256, a.Project, p.Lead)
	}
	return put(tx, bModules, moduleKey(m.Project, m.SHA256), m)
}

// contributionClaims are the claims of a contribution the registry reads;
// the others are the analysis service's.
type contributionClaims struct {
	Owner    string `json:"owner"`
	Analysis string `json:"analysis"`
	Kind     string `json:"kind"`
	Model    string `json:"model"`
}

// claimedOwner reads the "owner" claim of a compact JWS before it is
// verified: it only chooses whose key to verify it with.
func claimedOwner(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("not a compact JWS (header.payload.signature)")
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("payload: %v", err)
	}
	var c struct {
		Owner string `json:"owner"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", fmt.Errorf("claims: %v", err)
	}
	if c.Owner == "" {
		return "", errors.New("it names no owner")
	}
	return c.Owner, nil
}

// openContribution verifies one contribution against the key of the
// member it names as owner and returns its claims. Everything it reads is
// in the command and the member table of the same transaction, so every
// replica decides alike.
func openContribution(token string, members *memberIndex) (contributionClaims, error) {
	var cl contributionClaims
	owner, err := claimedOwner(token)
	if err != nil {
		return cl, err
	}
	m, ok := members.named(owner)
	if !ok {
		return cl, fmt.Errorf("its owner %q is not a member of the federation", owner)
	}
	pid, err := peer.Decode(m.PeerID)
	if err != nil {
		return cl, fmt.Errorf("member %s has no valid peer ID", owner)
	}
	var raw json.RawMessage
	if err := nodejws.Open(token, pid, nodejws.TypeAnalysisContribution, &raw); err != nil {
		return cl, fmt.Errorf("signed by its owner %s? %v", owner, err)
	}
	if err := json.Unmarshal(raw, &cl); err != nil {
		return cl, fmt.Errorf("claims: %v", err)
	}
	return cl, nil
}

// validRef reports whether a model reference or an analysis ID can be a
// key: plain text, bounded, no NUL (the key separator).
func validRef(s string) bool {
	return s != "" && len(s) <= maxEvaluationRef && plainText(s)
}

func commitEvaluation(tx *bolt.Tx, c Command, by Member, a EvaluationCommit, members *memberIndex) error {
	owner, id, ok := strings.Cut(a.Model, "/")
	if !ok || owner == "" || id == "" || !validRef(a.Model) {
		return reject(c.Op, "model %q is not owner/id", a.Model)
	}
	if _, ok := members.named(owner); !ok {
		return reject(c.Op, "the owner of model %s, %q, is not a member of the federation", a.Model, owner)
	}
	if !validRef(a.Analysis) {
		return reject(c.Op, "the analysis ID must be 1 to %d bytes of plain text", maxEvaluationRef)
	}
	if n := len(a.Contributions); n == 0 || n > MaxEvaluationContributions {
		return reject(c.Op, "an evaluation has 1 to %d contributions, not %d", MaxEvaluationContributions, n)
	}
	byOwner := map[string]string{}
	for i, tok := range a.Contributions {
		cl, err := openContribution(tok, members)
		if err != nil {
			return reject(c.Op, "contribution %d does not verify: %v", i+1, err)
		}
		switch {
		case cl.Kind != EvaluationKind:
			return reject(c.Op, "contribution %d (of %s) is of kind %q, not %q", i+1, cl.Owner, cl.Kind, EvaluationKind)
		case cl.Analysis != a.Analysis:
			return reject(c.Op, "contribution %d (of %s) is of analysis %q, not %q", i+1, cl.Owner, cl.Analysis, a.Analysis)
		case cl.Model != a.Model:
			return reject(c.Op, "contribution %d (of %s) evaluates model %q, not %q", i+1, cl.Owner, cl.Model, a.Model)
		}
		if _, dup := byOwner[cl.Owner]; dup {
			return reject(c.Op, "%s has more than one contribution; an evaluation has one per owner", cl.Owner)
		}
		byOwner[cl.Owner] = tok
	}
	key := evaluationKey(a.Model, a.Analysis)
	if old, err := get[Evaluation](tx, bEvaluations, key); err == nil {
		return rejectCode(c.Op, codeExists, "the evaluation of %s by analysis %s was already committed by %s", a.Model, a.Analysis, old.CommittedBy)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	ev := Evaluation{Model: a.Model, Analysis: a.Analysis, CommittedBy: by.Name, Committed: c.TS}
	for owner := range byOwner {
		ev.Owners = append(ev.Owners, owner)
	}
	slices.Sort(ev.Owners)
	for _, o := range ev.Owners {
		ev.Contributions = append(ev.Contributions, byOwner[o])
	}
	return put(tx, bEvaluations, key, ev)
}

// prefixed lists the records of a bucket whose key starts with prefix, in
// key order.
func prefixed[T any](tx *bolt.Tx, bucket []byte, prefix string) ([]T, error) {
	var out []T
	cur := tx.Bucket(bucket).Cursor()
	for k, v := cur.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = cur.Next() {
		var r T
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Modules lists the modules of a project ("" for every project), by
// project and SHA-256, withdrawn ones included.
func (r *Registry) Modules(project string) ([]Module, error) {
	prefix := ""
	if project != "" {
		prefix = project + "\x00"
	}
	var out []Module
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		out, err = prefixed[Module](tx, bModules, prefix)
		return err
	})
	return out, err
}

// Module returns one module of a project, or an error wrapping
// ErrNotFound.
func (r *Registry) Module(project, sha256 string) (Module, error) {
	var m Module
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		m, err = get[Module](tx, bModules, moduleKey(project, sha256))
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return m, fmt.Errorf("module %q of project %q: %w", sha256, project, ErrNotFound)
	}
	return m, err
}

// Evaluations lists the committed evaluations of a model ("" for every
// model), by model and analysis.
func (r *Registry) Evaluations(model string) ([]Evaluation, error) {
	prefix := ""
	if model != "" {
		prefix = model + "\x00"
	}
	var out []Evaluation
	err := r.fsm.view(func(tx *bolt.Tx) (err error) {
		out, err = prefixed[Evaluation](tx, bEvaluations, prefix)
		return err
	})
	return out, err
}
