package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/node/console/sessionstore"
)

// auditSessionRevoke is the record of an operator revoking a console
// session; sign-in and sign-out are recorded by the console itself
// (console.AuditSignIn, console.AuditSignOut).
const auditSessionRevoke = "console.session.revoke"

// sessionsConfig is the console session store's configuration.
func (c *Config) sessionsConfig(dataDir string) sessionstore.Config {
	s := sessionstore.DefaultConfig(dataDir)
	if c.Console.SessionLifetime > 0 {
		s.Lifetime = c.Console.SessionLifetime.Std()
	}
	if c.Console.SessionIdleTimeout > 0 {
		s.IdleTimeout = c.Console.SessionIdleTimeout.Std()
	}
	return s
}

// openSessions opens DATA/sessions.db, the console's sessions.
func (n *Node) openSessions() (err error) {
	n.sessions, err = sessionstore.Open(n.cfg.sessionsConfig(n.dataDir), sessionstore.Deps{Now: n.now,
		Log: n.log.With("component", "console-sessions")})
	if err != nil {
		return fmt.Errorf("console sessions: %w", err)
	}
	return nil
}

// consoleSessions serves /v1/sessions from the node's session store.
type consoleSessions struct{ n *Node }

func (c consoleSessions) ConsoleSessions(context.Context) ([]api.ConsoleSession, error) {
	list, err := c.n.sessions.List()
	if err != nil {
		return nil, err
	}
	out := make([]api.ConsoleSession, 0, len(list))
	for _, s := range list {
		out = append(out, apiSession(s))
	}
	return out, nil
}

// RevokeConsoleSession records the revocation, then deletes the session:
// a revocation the trail cannot record is refused.
func (c consoleSessions) RevokeConsoleSession(ctx context.Context, id string) (api.ConsoleSession, error) {
	s, err := c.n.sessions.Get(id)
	if errors.Is(err, sessionstore.ErrNotFound) {
		return api.ConsoleSession{}, api.ErrNoSession
	}
	if err != nil {
		return api.ConsoleSession{}, err
	}
	by := ""
	if u, ok := api.UserFrom(ctx); ok {
		by = u.Subject
	}
	if err := c.n.record(auditSessionRevoke, s.Subject, map[string]any{"session": id, "role": s.Role, "by": by}); err != nil {
		return api.ConsoleSession{}, err
	}
	if err := c.n.sessions.Delete(id); errors.Is(err, sessionstore.ErrNotFound) {
		return api.ConsoleSession{}, api.ErrNoSession // ended meanwhile
	} else if err != nil {
		return api.ConsoleSession{}, err
	}
	return apiSession(s), nil
}

func apiSession(s sessionstore.Session) api.ConsoleSession {
	out := api.ConsoleSession{ID: s.ID, Subject: s.Subject, Role: s.Role, Org: s.Org, Method: s.Method,
		Issuer: s.Issuer, Created: s.Created, LastSeen: s.LastSeen, Expires: s.Expires, IdleExpires: s.IdleExpires}
	if s.Identity != nil {
		out.Email = s.Identity.Email
	}
	return out
}
