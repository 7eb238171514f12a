package control

import (
	"context"
	"net/http"

	"github.com/clankerd/clankerd/internal/store"
)

// mutesRequest asks for the active mutes, or all of them.
type mutesRequest struct {
	All bool `json:"all,omitempty"`
}

// Mute records a mute; its owner is audited as its creator.
func (l *Local) Mute(ctx context.Context, m store.Mute) (out store.Mute, err error) {
	err = l.DB.Update(ctx, func(tx *store.Tx) error {
		out, err = tx.AddMute(m)
		return err
	})
	return out, err
}

// Mutes lists the active mutes, or with all every mute ever made, oldest first.
func (l *Local) Mutes(ctx context.Context, all bool) (out []store.Mute, err error) {
	err = l.DB.View(ctx, func(tx *store.Tx) error {
		out, err = tx.Mutes(all)
		return err
	})
	return out, err
}

// Unmute lifts an active mute now.
func (l *Local) Unmute(ctx context.Context, id, actor string) (out store.Mute, err error) {
	err = l.DB.Update(ctx, func(tx *store.Tx) error {
		out, err = tx.Unmute(id, actor)
		return err
	})
	return out, err
}

// Mute records a mute in the daemon.
func (c *Client) Mute(ctx context.Context, m store.Mute) (store.Mute, error) {
	return call[store.Mute, store.Mute](ctx, c, "mute", m)
}

// Mutes lists mutes.
func (c *Client) Mutes(ctx context.Context, all bool) ([]store.Mute, error) {
	return call[mutesRequest, []store.Mute](ctx, c, "mutes", mutesRequest{All: all})
}

// Unmute lifts a mute.
func (c *Client) Unmute(ctx context.Context, id, actor string) (store.Mute, error) {
	return call[idRequest, store.Mute](ctx, c, "unmute", idRequest{ID: id, Actor: actor})
}

// handleMutes registers the mute operations.
func handleMutes(mux *http.ServeMux, s *Server) {
	l := s.Local
	handle(mux, s, "mute", l.Mute)
	handle(mux, s, "mutes", func(ctx context.Context, r mutesRequest) ([]store.Mute, error) { return l.Mutes(ctx, r.All) })
	handle(mux, s, "unmute", func(ctx context.Context, r idRequest) (store.Mute, error) { return l.Unmute(ctx, r.ID, r.Actor) })
}
