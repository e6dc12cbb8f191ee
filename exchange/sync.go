package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/internal/frame"
)

// serveDelta answers a member's request for the entries changed since a
// version, each filtered by this node's catalogue policy for that member.
// An entry the member may not see travels as a bare tombstone, so that a
// copy it saw before is dropped. Every reset of the stream is logged with
// its reason: a partner whose sync stops must be explainable from the
// owner's log.
func (c *Catalogue) serveDelta(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(c.cfg.StreamTimeout))
	requester, ok := c.reg.MemberByPeer(s.Conn().RemotePeer())
	if !ok {
		c.log.Warn("catalogue request from a non-member refused", "peer", s.Conn().RemotePeer())
		s.Reset()
		return
	}
	for {
		var req deltaRequest
		if err := frame.Read(s, maxAnnouncement, &req); err != nil {
			if !errors.Is(err, io.EOF) {
				c.log.Warn("bad catalogue request; stream reset", "peer", requester.Name, "err", err)
				s.Reset()
			}
			return
		}
		page, err := c.delta(c.ctx, requester, req.Since)
		if err != nil {
			c.log.Error("catalogue delta not built; stream reset", "peer", requester.Name, "since", req.Since, "err", err)
			s.Reset()
			return
		}
		if err := frame.Write(s, maxDeltaFrame, page); err != nil {
			c.log.Warn("catalogue delta not sent; stream reset", "peer", requester.Name, "since", req.Since,
				"entries", len(page.Entries), "err", err)
			s.Reset()
			return
		}
		if !page.More {
			return
		}
	}
}

// delta builds one page of own entries changed after since: at most
// PageSize entries whose encodings add up to at most PageBytes (one entry
// at least, which MaxEntryBytes keeps under the frame cap), so that no
// page exceeds the reader's frame cap whatever the entries. An own entry
// over the entry limits (stored before they existed) is served as a
// tombstone, with a logged reason, rather than stop the partner's sync.
func (c *Catalogue) delta(ctx context.Context, requester Member, since uint64) (deltaPage, error) {
	page := deltaPage{Owner: c.self.Name, Entries: []Entry{}}
	var changed []Entry
	err := c.db.View(func(tx *bolt.Tx) error {
		page.Version = currentVersion(tx)
		cur := tx.Bucket(bByVersion).Cursor()
		entries := tx.Bucket(bEntries)
		for k, id := cur.Seek(versionKey(since + 1)); k != nil; k, id = cur.Next() {
			if len(changed) == c.cfg.PageSize {
				page.More = true
				break
			}
			if e, ok := getJSON[Entry](entries, id); ok {
				changed = append(changed, e)
			}
		}
		return nil
	})
	if err != nil {
		return page, err
	}
	size := 0
	for _, e := range changed {
		out, n := c.served(ctx, requester, e)
		n++ // and its comma
		if len(page.Entries) > 0 && size+n > c.cfg.PageBytes {
			page.More = true
			break
		}
		page.Entries = append(page.Entries, out)
		size += n
		page.Next = e.Version
	}
	if !page.More {
		page.Next = page.Version
	}
	return page, nil
}

// served is what the requester gets of an own entry, and its encoded
// size: the entry, or a tombstone when it is withdrawn, over the entry
// limits or not visible to the requester.
func (c *Catalogue) served(ctx context.Context, requester Member, e Entry) (Entry, int) {
	tomb := Entry{ID: e.ID, Owner: e.Owner, Version: e.Version, Withdrawn: true}
	if e.Withdrawn {
		return tomb, encodedSize(tomb)
	}
	probs, size := entryLimits(e)
	if len(probs) > 0 {
		c.log.Warn("catalogue entry over the entry limits served as withdrawn; republish it within them",
			"entry", e.Ref(), "peer", requester.Name, "problems", strings.Join(probs, "; "))
		return tomb, encodedSize(tomb)
	}
	visible, err := c.authz.CatalogueVisible(ctx, visibleInput(requester, e))
	if err != nil {
		c.log.Error("catalogue policy failed; entry withheld", "entry", e.Ref(), "err", err)
	}
	if err == nil && visible {
		return e, size
	}
	return tomb, encodedSize(tomb)
}

// Pull fetches a member's changes since the version this node holds.
func (c *Catalogue) Pull(ctx context.Context, owner Member) error {
	c.mu.RLock()
	since := c.peers[owner.Name].Version
	c.mu.RUnlock()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StreamTimeout)
	defer cancel()
	s, err := c.host.NewStream(network.WithForceDirectDial(ctx, "catalogue"), owner.PeerID, CatalogueProtocol)
	if err != nil {
		c.notePeer(owner.Name, 0, err)
		return fmt.Errorf("reach %s: %w", owner.Name, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	for {
		if err := frame.Write(s, maxAnnouncement, deltaRequest{Since: since}); err != nil {
			s.Reset()
			return err
		}
		var page deltaPage
		if err := frame.Read(s, maxDeltaFrame, &page); err != nil {
			s.Reset()
			c.notePeer(owner.Name, 0, err)
			return fmt.Errorf("catalogue of %s: %w", owner.Name, err)
		}
		if err := c.apply(owner, page); err != nil {
			return err
		}
		if !page.More {
			return nil
		}
		if page.Next <= since {
			s.Reset()
			return fmt.Errorf("catalogue of %s: a page that does not advance (%d after %d)", owner.Name, page.Next, since)
		}
		since = page.Next
	}
}

// apply stores a page of a member's entries. Every entry is stored under
// the member it came from, whatever owner it claims. An entry over the
// entry limits is refused on its own, with a logged reason, and any copy
// held before is dropped: the rest of the page, and the sync, go on.
func (c *Catalogue) apply(owner Member, page deltaPage) error {
	now := time.Now().UTC()
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.db.Update(func(tx *bolt.Tx) error {
		remote := tx.Bucket(bRemote)
		for _, e := range page.Entries {
			e.Owner = owner.Name
			key := []byte(e.Ref())
			if !e.Withdrawn {
				if probs := entryLimitProblems(e); len(probs) > 0 {
					c.log.Warn("catalogue entry from a partner refused: over the entry limits",
						"owner", owner.Name, "id", truncated(e.ID, 140), "problems", strings.Join(probs, "; "))
					e.Withdrawn = true
				}
			}
			if e.Withdrawn {
				if err := remote.Delete(key); err != nil {
					return err
				}
				c.dropRemote(e.Ref())
				continue
			}
			if e.Country == "" {
				e.Country = owner.Country
			}
			re := RemoteEntry{Entry: e, FetchedAt: now}
			if err := putJSON(remote, key, re); err != nil {
				return err
			}
			c.setRemote(re)
		}
		version := page.Next
		if !page.More {
			version = page.Version
		}
		ps := PeerState{Owner: owner.Name, Version: version, SyncedAt: now}
		c.peers[owner.Name] = ps
		return putJSON(tx.Bucket(bPeers), []byte(owner.Name), ps)
	})
	return err
}

func (c *Catalogue) notePeer(owner string, _ uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.peers[owner]
	ps.Owner, ps.LastError = owner, err.Error()
	c.peers[owner] = ps
}

// announce tells the members the current version.
func (c *Catalogue) announce(ctx context.Context) {
	v := c.Version()
	raw, _ := json.Marshal(announcement{Node: c.self.Name, Version: v, Digest: catalogueDigest(c.self.Name, v)})
	if err := c.topic.Publish(ctx, raw); err != nil && c.ctx.Err() == nil {
		c.log.Debug("catalogue announcement not sent", "err", err)
	}
}

// reannounceBackoff bounds how far re-announcements of an unchanged version
// slow down: at most this many times AnnounceEvery apart (40 s by default).
const reannounceBackoff = 8

// announceLoop re-announces the current version so that a member that
// missed an announcement catches up. While the version stays the same the
// re-announcements slow down, from AnnounceEvery to reannounceBackoff times
// it, and they are jittered: every member re-announcing at a fixed rate
// costs every member one signed gossip message per member and interval
// (with 50 members re-announcing every 200 ms, 12 000 signature checks a
// second in one process), whether or not anything changed. An empty
// catalogue is not re-announced: there is nothing to catch up on. A change
// announces at once (commitOwn) and restarts at the fast rate.
func (c *Catalogue) announceLoop() {
	wait := c.cfg.AnnounceEvery
	t := time.NewTimer(jittered(wait))
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.changed:
			wait = c.cfg.AnnounceEvery
		case <-t.C:
			if c.Version() > 0 {
				c.announce(c.ctx)
				wait = min(2*wait, reannounceBackoff*c.cfg.AnnounceEvery)
			}
		}
		t.Reset(jittered(wait))
	}
}

// jittered returns d spread uniformly over ±25%, so that members started
// together do not announce or retry in lockstep.
func jittered(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d*3/4 + rand.N(d/2+1)
}

// listen pulls from a member when it announces a version newer than the
// one held.
func (c *Catalogue) listen() {
	for {
		msg, err := c.sub.Next(c.ctx)
		if err != nil {
			return
		}
		if msg.ReceivedFrom == c.host.ID() || len(msg.Data) > maxAnnouncement {
			continue
		}
		var a announcement
		if err := frame.Decode(msg.Data, &a); err != nil {
			c.log.Debug("bad catalogue announcement", "from", msg.ReceivedFrom, "err", err)
			continue
		}
		from, err := peer.IDFromBytes(msg.From)
		if err != nil {
			continue
		}
		owner, ok := c.reg.MemberByPeer(from)
		if !ok || owner.Name != a.Node {
			continue
		}
		c.mu.RLock()
		known := c.peers[owner.Name].Version
		c.mu.RUnlock()
		if a.Version > known {
			c.PullAsync(owner)
		}
	}
}

// pullRetries and pullRetryFirst pace the retries of a failed pull: a
// member that cannot reach the owner at once (every member dials an owner
// it is not connected to when the owner announces) tries again after
// about 250 ms, 500 ms and 1 s instead of waiting for the next
// re-announcement.
const (
	pullRetries    = 3
	pullRetryFirst = 250 * time.Millisecond
)

// PullAsync pulls from a member in the background; announcements that
// arrive while a pull runs lead to one more pull, not one each. A pull
// that fails is retried a few times with jittered backoff.
func (c *Catalogue) PullAsync(owner Member) {
	c.mu.Lock()
	if c.ctx.Err() != nil { // closing: no new work
		c.mu.Unlock()
		return
	}
	if c.syncing[owner.Name] {
		c.again[owner.Name] = true
		c.mu.Unlock()
		return
	}
	c.syncing[owner.Name] = true
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		failed, backoff := 0, pullRetryFirst
		for {
			err := c.Pull(c.ctx, owner)
			if err != nil && c.ctx.Err() == nil {
				c.log.Debug("catalogue pull failed", "owner", owner.Name, "attempt", failed+1, "err", err)
			}
			retry := err != nil && failed < pullRetries
			if retry {
				failed++
				t := time.NewTimer(jittered(backoff))
				select {
				case <-c.ctx.Done():
					t.Stop()
				case <-t.C:
				}
				backoff *= 2
			} else {
				failed, backoff = 0, pullRetryFirst
			}
			c.mu.Lock()
			if (!retry && !c.again[owner.Name]) || c.ctx.Err() != nil {
				delete(c.syncing, owner.Name)
				delete(c.again, owner.Name)
				c.mu.Unlock()
				return
			}
			delete(c.again, owner.Name)
			c.mu.Unlock()
		}
	}()
}

// truncated shortens a string from a partner before it is logged.
func truncated(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
