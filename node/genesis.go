package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// GenesisFile is the name of the genesis copy kept inside the data dir.
const GenesisFile = "federation.json"

// Genesis defines a federation: its name and its founding members. Every
// member holds the same file; the SHA-256 of its canonical form is the
// federation ID, and a node whose genesis differs is refused by the others.
type Genesis struct {
	Federation string `json:"federation"`
	Members    []Card `json:"members"`
}

var memberName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidationError lists every problem found in a document, each as
// "field: what is wrong", so an operator can fix them all in one pass.
type ValidationError struct {
	What     string
	Problems []string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.What, strings.Join(e.Problems, "; "))
}

// problems collects field-level messages for a ValidationError.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err(what string) error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{What: what, Problems: p}
}

// Validate checks the genesis and returns a *ValidationError naming every
// bad field.
func (g *Genesis) Validate() error {
	var p problems
	if strings.TrimSpace(g.Federation) == "" {
		p.addf("federation: the federation name is empty")
	}
	if len(g.Members) == 0 {
		p.addf("members: the member list is empty; a federation needs at least one founding member")
	}
	names := map[string]int{}
	ids := map[string]int{}
	for i, m := range g.Members {
		field := fmt.Sprintf("members[%d]", i)
		validateCard(&p, field, m)
		if j, dup := names[m.Name]; dup && m.Name != "" {
			p.addf("%s.name: %q is already used by members[%d]", field, m.Name, j)
		} else {
			names[m.Name] = i
		}
		if j, dup := ids[m.PeerID]; dup && m.PeerID != "" {
			p.addf("%s.peer_id: %s is already used by members[%d] (%s)", field, m.PeerID, j, g.Members[j].Name)
		} else {
			ids[m.PeerID] = i
		}
	}
	return p.err("genesis")
}

// ValidateCard checks one identity card.
func ValidateCard(c Card) error {
	var p problems
	validateCard(&p, "card", c)
	return p.err("identity card")
}

func validateCard(p *problems, field string, m Card) {
	if !memberName.MatchString(m.Name) {
		p.addf("%s.name: %q must be lower-case letters, digits and dashes (e.g. fr-grandest)", field, m.Name)
	}
	if !IsCountryCode(m.Country) {
		p.addf("%s.country: %q is not an ISO 3166-1 alpha-2 country code (e.g. FR, DE, CH)", field, m.Country)
	}
	if strings.TrimSpace(m.Org) == "" {
		p.addf("%s.org: the organisation is empty", field)
	}
	pid, err := peer.Decode(m.PeerID)
	if err != nil {
		p.addf("%s.peer_id: %q is not a peer ID: %v", field, m.PeerID, err)
	} else if pub, err := pid.ExtractPublicKey(); err != nil || pub.Type() != crypto.Ed25519 {
		p.addf("%s.peer_id: %s is not an Ed25519 peer ID", field, m.PeerID)
	}
	for j, a := range m.Addrs {
		addr, err := ma.NewMultiaddr(a)
		if err != nil {
			p.addf("%s.addrs[%d]: %q is not a multiaddr: %v", field, j, a, err)
			continue
		}
		if _, last := ma.SplitLast(addr); last != nil && last.Protocol().Code == ma.P_P2P && last.Value() != m.PeerID {
			p.addf("%s.addrs[%d]: %q names another peer", field, j, a)
		}
	}
}

// Canonical returns the genesis in its canonical form: members sorted by
// name, addresses sorted, compact JSON. Formatting, member order and address
// order of the file on disk do not change the federation ID.
func (g *Genesis) Canonical() []byte {
	c := Genesis{Federation: g.Federation, Members: make([]Card, len(g.Members))}
	for i, m := range g.Members {
		m.Addrs = slices.Clone(m.Addrs)
		if m.Addrs == nil {
			m.Addrs = []string{}
		}
		slices.Sort(m.Addrs)
		c.Members[i] = m
	}
	slices.SortFunc(c.Members, func(a, b Card) int { return strings.Compare(a.Name, b.Name) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		panic(fmt.Sprintf("encode genesis: %v", err)) // only strings and slices: cannot fail
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// ID is the federation ID: the hex SHA-256 of the canonical genesis.
func (g *Genesis) ID() string {
	sum := sha256.Sum256(g.Canonical())
	return hex.EncodeToString(sum[:])
}

// Member returns the member with the given peer ID.
func (g *Genesis) Member(id peer.ID) (Card, bool) {
	s := id.String()
	for _, m := range g.Members {
		if m.PeerID == s {
			return m, true
		}
	}
	return Card{}, false
}

// ParseGenesis decodes and validates a genesis document. Unknown fields are
// refused so that a typo does not silently produce another federation ID.
func ParseGenesis(data []byte) (*Genesis, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var g Genesis
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("decode genesis: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode genesis: trailing data after the JSON document")
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &g, nil
}

// LoadGenesis reads and validates a genesis file.
func LoadGenesis(path string) (*Genesis, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read genesis: %w", err)
	}
	g, err := ParseGenesis(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// Marshal returns the genesis as indented JSON for the file on disk.
func (g *Genesis) Marshal() []byte {
	var buf bytes.Buffer
	if err := json.Indent(&buf, g.Canonical(), "", "  "); err != nil {
		panic(fmt.Sprintf("indent genesis: %v", err))
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// isoCountries holds the officially assigned ISO 3166-1 alpha-2 codes.
const isoCountries = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT " +
	"MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG " +
	"UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"

// IsCountryCode reports whether cc is an assigned ISO 3166-1 alpha-2 code
// (upper case).
func IsCountryCode(cc string) bool {
	return len(cc) == 2 && strings.Contains(" "+isoCountries+" ", " "+cc+" ")
}
