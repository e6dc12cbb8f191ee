package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/dsp"
	"github.com/xborder/xborder/node/api"
)

// maxDSPWait is the longest wait the node accepts (wait_s).
const maxDSPWait = 120 * time.Second

func newDSPCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dsp",
		Short: "Consume datasets of Eclipse Dataspace Protocol providers",
		Long: `dsp drives this node as a consumer of a dataspace (Eclipse Dataspace
Protocol 2025-1): browse a provider's catalogue, negotiate an offer for a
purpose (this node's policy decides first, data.xborder.dataspace.decision,
then the provider's), and fetch the dataset of an agreement, verified by
its SHA-256. PROVIDER is a participant ID listed in the node's
dataspace.participants. The node must be configured as a participant
(config: dataspace); otherwise every command fails naming that.`,
		Example: `  xborder dsp catalogue did:web:data.region-bw.example
  xborder dsp negotiate did:web:data.region-bw.example air-quality-2025 --purpose research
  xborder dsp fetch urn:uuid:4f0c... --out air.csv
  xborder dsp identity`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newDSPCatalogueCmd(g), newDSPDatasetCmd(g), newDSPNegotiateCmd(g), newDSPNegotiationsCmd(g),
		newDSPFetchCmd(g), newDSPTransfersCmd(g), newDSPIdentityCmd(g))
	return cmd
}

func newDSPCatalogueCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalogue PROVIDER [--json]",
		Short: "A dataspace provider's catalogue: its datasets and their offers",
		Long: `catalogue asks PROVIDER for the datasets it shows this node, each with
its offers (ODRL): the purpose an offer is for and how long an agreement
under it lasts. An offer "on request" names the purposes one may ask for;
the provider's policy decides when one negotiates it. --json prints the
provider's DSP Catalog as received.`,
		Example: `  xborder dsp catalogue did:web:data.region-bw.example
  xborder dsp catalogue urn:xborder:de-bw --json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var cat dsp.Catalog
			if err := c.dspCall(cmd.Context(), http.MethodPost, "/v1/dsp/catalogue", api.DataspaceCatalogRequest{Provider: args[0]}, &cat); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, cat)
			}
			rows := [][]string{}
			for _, d := range allDatasets(cat) {
				if len(d.HasPolicy) == 0 {
					rows = append(rows, []string{d.ID, d.Title, "-", "-", "-"})
				}
				for i, o := range d.HasPolicy {
					id, title := d.ID, d.Title
					if i > 0 {
						id, title = "", ""
					}
					purpose, validity := offerTerms(o)
					rows = append(rows, []string{id, title, purpose, validity, o.ID})
				}
			}
			return printTable(g.out, []string{"DATASET", "TITLE", "PURPOSE", "VALIDITY", "OFFER"}, rows)
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print the DSP Catalog as JSON")
	return cmd
}

// allDatasets lists a catalogue's datasets, those of its sub-catalogues
// included.
func allDatasets(c dsp.Catalog) []dsp.Dataset {
	out := append([]dsp.Dataset{}, c.Dataset...)
	for _, sub := range c.Catalog {
		out = append(out, allDatasets(sub)...)
	}
	return out
}

func newDSPDatasetCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dataset PROVIDER ID [--json]",
		Short: "One dataset of a dataspace provider, with its offers and their duties",
		Example: `  xborder dsp dataset did:web:data.region-bw.example air-quality-2025
  xborder dsp dataset urn:xborder:de-bw air --json`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var d dsp.Dataset
			path := "/v1/dsp/catalogue/" + url.PathEscape(args[0]) + "/datasets/" + url.PathEscape(args[1])
			if err := c.dspCall(cmd.Context(), http.MethodGet, path, nil, &d); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, d)
			}
			fields := [][2]string{{"dataset", d.ID}, {"title", d.Title}}
			if d.Description != "" {
				fields = append(fields, [2]string{"description", d.Description})
			}
			if len(d.Keyword) > 0 {
				fields = append(fields, [2]string{"keywords", strings.Join(d.Keyword, ", ")})
			}
			if d.License != nil {
				fields = append(fields, [2]string{"license", d.License.ID})
			}
			for _, dist := range d.Distribution {
				v := dist.Format
				if dist.MediaType != "" {
					v += ", " + dist.MediaType
				}
				if dist.ByteSize > 0 {
					v += fmt.Sprintf(", %d bytes", dist.ByteSize)
				}
				fields = append(fields, [2]string{"distribution", v})
			}
			if err := printFields(g.out, fields); err != nil {
				return err
			}
			if len(d.HasPolicy) == 0 {
				fmt.Fprintln(g.out, "no offers: the provider offers this dataset to no one this node can negotiate for")
			}
			for _, o := range d.HasPolicy {
				purpose, validity := offerTerms(o)
				fmt.Fprintf(g.out, "offer %s\n  purpose: %s\n  validity: %s\n", o.ID, purpose, validity)
				for _, ob := range o.Obligation {
					fmt.Fprintf(g.out, "  duty: %s\n", orText(ob.Description, ob.Action))
				}
				for _, p := range o.Prohibition {
					fmt.Fprintf(g.out, "  prohibited: %s\n", orText(p.Description, p.Action))
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print the DSP Dataset as JSON")
	return cmd
}

func newDSPNegotiateCmd(g *globals) *cobra.Command {
	var purpose, offer string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "negotiate PROVIDER DATASET --purpose P [--offer ID] [--wait 30s] [--json]",
		Short: "Negotiate an offer of a dataspace provider's dataset",
		Long: `negotiate asks PROVIDER, for the researcher named by your token, for
DATASET under the offer for --purpose (or the offer --offer names). This
node's policy decides first (data.xborder.dataspace.decision), then the
provider's. The node waits up to --wait (at most 2m) for the negotiation to
end and prints the agreement's ID, which 'xborder dsp fetch' takes, or the
reasons of the refusal. Exit code 3 when a policy refused (this node's or
the provider's), with its reasons; a negotiation still under way when the
wait is over is printed with its state and goes on in the node (see
'xborder dsp negotiations').`,
		Example: `  xborder dsp negotiate did:web:data.region-bw.example air-quality-2025 --purpose research
  xborder dsp negotiate urn:xborder:de-bw air --purpose statistics --offer urn:xborder:offer:air:statistics --wait 1m --json`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "purpose"); err != nil {
				return err
			}
			waitS, err := waitSeconds(wait)
			if err != nil {
				return err
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			c.http.Timeout = wait + time.Minute
			var n api.DataspaceNegotiation
			req := api.DataspaceNegotiateRequest{Provider: args[0], Dataset: args[1], Offer: offer, Purpose: purpose, WaitS: &waitS}
			if err := c.dspCall(cmd.Context(), http.MethodPost, "/v1/dsp/negotiations", req, &n); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, n)
			}
			if n.State != string(dsp.NegFinalized) {
				fmt.Fprintf(g.out, "negotiation %s is %s after %s; it goes on in the node: xborder dsp negotiations\n", n.PID, n.State, wait)
				return nil
			}
			fmt.Fprintf(g.out, "agreed: %s with %s for %s (purpose %s)\n", n.Agreement, n.Participant, n.Dataset, n.Purpose)
			if !n.ValidUntil.IsZero() {
				fmt.Fprintf(g.out, "valid until %s\n", n.ValidUntil.UTC().Format(time.RFC3339))
			}
			fmt.Fprintf(g.out, "fetch it: xborder dsp fetch %s --out FILE\n", n.Agreement)
			return nil
		},
	}
	cmd.Flags().StringVar(&purpose, "purpose", "", "purpose from the vocabulary (research, public-health, industrial-rd, statistics, education)")
	cmd.Flags().StringVar(&offer, "offer", "", "the offer's ID (default: the dataset's offer for --purpose)")
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long the node waits for the negotiation to end (0 to 2m)")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

// waitSeconds turns --wait into wait_s, refusing what the node would.
func waitSeconds(d time.Duration) (int, error) {
	if d < 0 || d > maxDSPWait {
		return 0, usageErr(fmt.Errorf("--wait %s: must be between 0 and %s", d, maxDSPWait))
	}
	return int(math.Ceil(d.Seconds())), nil
}

func newDSPNegotiationsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "negotiations [--json]",
		Short: "Dataspace negotiations this node holds",
		Long: `negotiations lists the contract negotiations this node holds: a
researcher sees those she started; operators, auditors and legal see all,
those in which this node is the provider included (ROLE provider).`,
		Example: "  xborder dsp negotiations\n  xborder dsp negotiations --json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var ns []api.DataspaceNegotiation
			if err := c.dspCall(cmd.Context(), http.MethodGet, "/v1/dsp/negotiations", nil, &ns); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, ns)
			}
			rows := [][]string{}
			for _, n := range ns {
				state := n.State
				if n.Code != "" {
					state += " (" + n.Code + ")"
				}
				rows = append(rows, []string{n.PID, string(n.Role), state, n.Participant, n.Dataset, dash(n.Purpose), dash(n.Agreement),
					n.Updated.Local().Format("2006-01-02 15:04")})
			}
			return printTable(g.out, []string{"PID", "ROLE", "STATE", "PARTICIPANT", "DATASET", "PURPOSE", "AGREEMENT", "UPDATED"}, rows)
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newDSPFetchCmd(g *globals) *cobra.Command {
	var out string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "fetch AGREEMENT --out FILE [--wait 30s] [--json]",
		Short: "Transfer the dataset of a dataspace agreement, verified",
		Long: `fetch has the node start a transfer (HTTP-pull) under AGREEMENT, the
agreement of a negotiation you finalised, wait up to --wait for the
provider to start it, pull the content and verify its SHA-256 against the
provider's statement; then it downloads the verified file from the node,
checks the SHA-256 again, and only then writes FILE (a temporary file
beside it, renamed). Exit code 3 when a policy refused, 4 when the content
does not match its digest (nothing is written).`,
		Example: `  xborder dsp fetch urn:uuid:4f0c5a1e-7d8b-4c1e-9f0a-2b3c4d5e6f70 --out air.csv
  xborder dsp fetch urn:uuid:4f0c5a1e-7d8b-4c1e-9f0a-2b3c4d5e6f70 --out air.csv --json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "out"); err != nil {
				return err
			}
			waitS, err := waitSeconds(wait)
			if err != nil {
				return err
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			// The node pulls the whole content before it answers: the
			// command's context bounds it, not a timeout.
			c.http.Timeout = 0
			var t api.DataspaceTransfer
			if err := c.dspCall(cmd.Context(), http.MethodPost, "/v1/dsp/transfers", api.DataspaceTransferRequest{Agreement: args[0], WaitS: &waitS}, &t); err != nil {
				return err
			}
			if t.State != string(dsp.TPCompleted) {
				return fmt.Errorf("transfer %s is %s after %s: the provider has not started it; see xborder dsp transfers", t.PID, t.State, wait)
			}
			if err := c.downloadVerified(cmd.Context(), "/v1/dsp/transfers/"+url.PathEscape(t.PID)+"/content", t.SHA256, out); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, struct {
					api.DataspaceTransfer
					Out string `json:"out"`
				}{t, out})
			}
			fmt.Fprintf(g.out, "fetched %s from %s into %s (%d bytes, sha256 %s verified)\n", t.Dataset, t.Participant, out, t.Size, t.SHA256)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write")
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long the node waits for the provider to start the transfer (0 to 2m)")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newDSPTransfersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "transfers [--json]",
		Short:   "Dataspace transfers this node holds",
		Long:    `transfers lists the transfer processes this node holds, with the same visibility as 'xborder dsp negotiations'.`,
		Example: "  xborder dsp transfers\n  xborder dsp transfers --json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var ts []api.DataspaceTransfer
			if err := c.dspCall(cmd.Context(), http.MethodGet, "/v1/dsp/transfers", nil, &ts); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, ts)
			}
			rows := [][]string{}
			for _, t := range ts {
				state := t.State
				if t.Code != "" {
					state += " (" + t.Code + ")"
				}
				size := "-"
				if t.Size > 0 {
					size = strconv.FormatInt(t.Size, 10)
				}
				rows = append(rows, []string{t.PID, string(t.Role), state, t.Participant, t.Dataset, size, dash(t.SHA256),
					t.Updated.Local().Format("2006-01-02 15:04")})
			}
			return printTable(g.out, []string{"PID", "ROLE", "STATE", "PARTICIPANT", "DATASET", "BYTES", "SHA256", "UPDATED"}, rows)
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newDSPIdentityCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "identity [--json]",
		Short: "This node's dataspace participant ID and public key (operators)",
		Long: `identity prints this node's participant ID and the public JWK of the key
that signs its dataspace tokens: what a partner puts in its configuration
(dataspace.participants: id, public_key) to accept this node's requests.`,
		Example: "  xborder dsp identity\n  xborder dsp identity --json > fr-grandest.participant.json",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var id api.DataspaceIdentity
			if err := c.dspCall(cmd.Context(), http.MethodGet, "/v1/dsp/identity", nil, &id); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, id)
			}
			var jwk bytes.Buffer
			if err := json.Compact(&jwk, id.JWK); err != nil {
				return fmt.Errorf("the node's public JWK is not JSON: %w", err)
			}
			fmt.Fprintf(g.out, "participant id: %s\npublic key (JWK): %s\n", id.ParticipantID, jwk.String())
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

// dspCall calls a /v1/dsp endpoint. A refusal of the dataspace (a body
// with dsp_code) is printed with its reasons, saying who refused: exit 3
// when a policy did, 4 when content did not match its digest; any other
// error answer is the API's, as for every command.
func (c *client) dspCall(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	hc := c.http
	if method == http.MethodPost {
		// A negotiation waits up to --wait at the node and a fetch pulls the
		// whole file inside the call: the client's usual 30 s bound would
		// cut both short. Interrupting the command still cancels it.
		unbounded := *c.http
		unbounded.Timeout = 0
		hc = &unbounded
	}
	resp, err := hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return fmt.Errorf("cannot reach the node at %s: is `xborder run` running? (%v)", c.base, op.Err)
		}
		return fmt.Errorf("cannot reach the node at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		answer, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorAnswer))
		if err != nil {
			return fmt.Errorf("read answer from %s: %w", c.base, err)
		}
		var e api.DataspaceError
		if json.Unmarshal(answer, &e) == nil && e.DSPCode != "" {
			return dspRefusal(resp.StatusCode, e)
		}
		resp.Body = io.NopCloser(bytes.NewReader(answer))
		return c.answerError(resp)
	}
	dec := json.NewDecoder(resp.Body)
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode answer from %s%s: %w", c.base, path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("decode answer from %s%s: more than one JSON document", c.base, path)
	}
	return nil
}

// dspRefusal renders a dataspace refusal: who refused, its code, each
// reason on its own line.
func dspRefusal(status int, e api.DataspaceError) error {
	who := "the dataspace refused"
	switch {
	case status == http.StatusForbidden:
		who = "denied by this node's policy"
	case status == http.StatusBadGateway && e.Negotiation != nil:
		who = "the provider " + e.Negotiation.Participant + " ended negotiation " + e.Negotiation.PID
	case status == http.StatusBadGateway && e.Transfer != nil:
		who = "the provider " + e.Transfer.Participant + " ended transfer " + e.Transfer.PID
	case status == http.StatusBadGateway:
		who = "the provider refused"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s):", who, e.DSPCode)
	for _, r := range e.Reasons {
		b.WriteString("\n  - " + r)
	}
	if len(e.Reasons) == 0 {
		b.WriteString(" " + e.Error)
	}
	err := errors.New(b.String())
	switch {
	case e.Denied:
		return &exitErr{code: exitDenied, err: err}
	case e.DSPCode == "integrity":
		return &exitErr{code: exitIntegrity, err: err}
	}
	return err
}

// downloadVerified copies a verified file from the node, checks its
// SHA-256 on the way, and only then gives it its name.
func (c *client) downloadVerified(ctx context.Context, path, want, out string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the node at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c.answerError(resp)
	}
	if h := resp.Header.Get("X-Xborder-Sha256"); h != "" && h != want {
		return &exitErr{code: exitIntegrity, err: fmt.Errorf("the node serves content with sha256 %s, not the transfer's %s; nothing written", h, want)}
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), resp.Body); err != nil {
		tmp.Close()
		return fmt.Errorf("download from the node: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return &exitErr{code: exitIntegrity, err: fmt.Errorf("%s: sha256 %s does not match the transfer's verified %s; nothing written", out, got, want)}
	}
	return os.Rename(tmp.Name(), out)
}

var isoDays = regexp.MustCompile(`^P(\d+)D$`)

// offerTerms summarises an offer: the purposes it admits and how long an
// agreement under it lasts.
func offerTerms(o dsp.Offer) (purpose, validity string) {
	purpose, validity = "any", "unbounded"
	var walk func(cs []dsp.Constraint)
	walk = func(cs []dsp.Constraint) {
		for _, c := range cs {
			left := strings.TrimPrefix(strings.TrimPrefix(c.LeftOperand, "odrl:"), "http://www.w3.org/ns/odrl/2/")
			switch left {
			case dsp.LeftPurpose:
				switch v := c.RightOperand.(type) {
				case string:
					purpose = v
				case []any:
					var ps []string
					for _, x := range v {
						ps = append(ps, fmt.Sprint(x))
					}
					purpose = "on request: " + strings.Join(ps, ", ")
				}
			case dsp.LeftElapsedTime:
				s := fmt.Sprint(c.RightOperand)
				if m := isoDays.FindStringSubmatch(s); m != nil {
					s = m[1] + " days"
				}
				validity = s
			}
			walk(c.And)
		}
	}
	for _, r := range o.Permission {
		walk(r.Constraint)
	}
	return purpose, validity
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
