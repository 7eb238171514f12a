package control

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
)

func TestMutesOverTheSocket(t *testing.T) {
	c, _, _ := serve(t)
	ctx := t.Context()
	seq, err := OpBeginRun.Do(ctx, c, store.Receipt{Item: "i1", Check: "tcp.connect", Pos: "HB.md:2", Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	f := checks.Finding{Resource: "tcp://a:1", Problem: "unreachable", Severity: checks.High, Summary: "refused"}
	if _, err := OpEndRun.Do(ctx, c, RunEnd{Seq: seq, End: store.RunEnd{Status: checks.Fail, Findings: []checks.Finding{f}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := OpMute.Do(ctx, c, store.Mute{Check: "tcp.connect", Owner: "ann", ExpiresAt: time.Now().Add(time.Hour)}); !errors.Is(err, store.ErrInvalidMute) {
		t.Errorf("a mute without reason over the socket: %v, want ErrInvalidMute", err)
	}
	m, err := OpMute.Do(ctx, c, store.Mute{Check: "tcp.connect", Resource: "tcp://*", Owner: "ann", Reason: "known", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := OpFindings.Do(ctx, c, store.FindingFilter{})
	if err != nil || len(fs) != 1 || fs[0].MutedBy != m.ID {
		t.Errorf("findings = %+v, %v; want one muted by %s", fs, err, m.ID)
	}
	if ms, err := OpMutes.Do(ctx, c, MutesRequest{All: false}); err != nil || len(ms) != 1 || ms[0].ID != m.ID {
		t.Errorf("Mutes = %+v, %v", ms, err)
	}
	if _, err := OpUnmute.Do(ctx, c, Decision{ID: m.ID, Actor: "bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := OpUnmute.Do(ctx, c, Decision{ID: m.ID, Actor: "bob"}); !errors.Is(err, store.ErrMuteEnded) {
		t.Errorf("second unmute: %v", err)
	}
	if ms, err := OpMutes.Do(ctx, c, MutesRequest{All: false}); err != nil || len(ms) != 0 {
		t.Errorf("active mutes after unmute = %+v, %v", ms, err)
	}
	// Through the socket owner and unmuter are the calling process's user, not the
	// names the client sent.
	me := UserName(os.Getuid())
	if ms, err := OpMutes.Do(ctx, c, MutesRequest{All: true}); err != nil || len(ms) != 1 || ms[0].EndedBy != me || ms[0].Owner != me {
		t.Errorf("all mutes = %+v, %v; want owner and ended by %s", ms, err, me)
	}
}
