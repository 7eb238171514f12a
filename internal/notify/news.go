package notify

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
	"github.com/clankerd/clankerd/internal/store"
	"github.com/clankerd/clankerd/tasks"
)

// News holds the news rules: what of a run or a new pending plan is worth telling
// people. The store calls it inside the transaction that records the run or the plan
// (store.Options.News), so the events it queues commit with them.
type News struct{}

var _ store.News = News{}

// RunEnded queues the news of a run: findings that are new, worse or resolved and not
// muted, open findings whose mute ended since their news was held back, and the check
// starting or stopping to error. Nothing is queued when there is no news.
func (News) RunEnded(tx *store.Tx, res store.RunResult) error {
	r := res.Receipt
	ev := store.OutboxEvent{Kind: store.EventRun, Item: r.Item, Check: r.Check, Pos: r.Pos, Run: r.Seq, Status: r.Status}
	if err := erroringTransition(tx, r, &ev); err != nil {
		return err
	}
	if r.Status == checks.Pass || r.Status == checks.Fail {
		var err error
		if ev.Findings, err = findingNews(tx, r.Item, res.Changed()); err != nil {
			return err
		}
	}
	if ev.Erroring == "" && len(ev.Findings) == 0 {
		return nil
	}
	return tx.Enqueue(ev)
}

// PlanQueued queues the news of a new pending plan.
func (News) PlanQueued(tx *store.Tx, p tasks.PlanRecord) error {
	return tx.Enqueue(store.OutboxEvent{
		Kind: store.EventPlan, Item: p.Item, Check: p.Task, Pos: p.Source,
		Plan: &store.PlanNotice{ID: p.ID, Task: p.Task, Target: p.Target, Change: p.Change, Risk: p.Risk, ExpiresAt: p.ExpiresAt},
	})
}

// erroringTransition notes when the item's check starts erroring (an error run after
// anything else) or stops (a pass or fail after error runs). Skipped runs say nothing.
func erroringTransition(tx *store.Tx, r store.Receipt, ev *store.OutboxEvent) error {
	was := tx.Erroring(r.Item)
	switch {
	case r.Status == checks.Error && !was:
		ev.Erroring, ev.Error = store.ErroringStarted, r.Error
		return tx.SetErroring(r.Item, r.Ended)
	case (r.Status == checks.Pass || r.Status == checks.Fail) && was:
		ev.Erroring = store.ErroringStopped
		return tx.SetErroring(r.Item, time.Time{})
	}
	return nil
}

// findingNews turns a completed run's changes into notices. News about a muted finding
// is held back, and remembered, so that the finding is told about as unmuted on the
// first run after its mute ends, if it is still open then.
func findingNews(tx *store.Tx, item string, changes []store.RunFinding) ([]store.FindingNotice, error) {
	var out []store.FindingNotice
	changed := map[string]bool{}
	for _, f := range changes {
		changed[f.Fingerprint] = true
		n := noticeOf(f.FindingRecord, "")
		switch {
		case f.State == store.FindingNew:
			n.Change = store.ChangeNew
		case f.State == store.FindingResolved:
			n.Change = store.ChangeResolved
		case f.Worse():
			n.Change, n.PrevSeverity = store.ChangeWorse, f.PrevSeverity
		default:
			continue
		}
		held := f.MutedBy
		if n.Change == store.ChangeResolved {
			held = "" // resolved while muted: nothing left to tell later
		}
		if err := tx.HoldBack(item, f.Fingerprint, held); err != nil {
			return nil, err
		}
		if f.MutedBy == "" {
			out = append(out, n)
		}
	}
	unmuted, err := unmutedNews(tx, item, changed)
	out = append(out, unmuted...)
	// Most severe first, then by resource: the order people read.
	slices.SortStableFunc(out, func(a, b store.FindingNotice) int {
		return cmp.Or(cmp.Compare(b.Severity.Rank(), a.Severity.Rank()), strings.Compare(a.Resource, b.Resource))
	})
	return out, err
}

// unmutedNews returns the item's findings whose news a mute held back, that this run
// did not change, and that no mute silences any longer: still open, they are news
// again.
func unmutedNews(tx *store.Tx, item string, changed map[string]bool) ([]store.FindingNotice, error) {
	held, err := tx.HeldBack(item)
	if err != nil {
		return nil, err
	}
	var out []store.FindingNotice
	for _, fp := range held {
		if changed[fp] {
			continue
		}
		f, ferr := tx.Finding(fp)
		gone := errors.Is(ferr, store.ErrNotFound)
		switch {
		case ferr != nil && !gone:
			return nil, ferr
		case !gone && f.MutedBy != "":
			continue
		}
		if err := tx.HoldBack(item, fp, ""); err != nil {
			return nil, err
		}
		if !gone && f.State.Open() {
			out = append(out, noticeOf(f, store.ChangeUnmuted))
		}
	}
	return out, nil
}

func noticeOf(f store.FindingRecord, c store.Change) store.FindingNotice {
	return store.FindingNotice{Fingerprint: f.Fingerprint, Change: c, Resource: f.Resource, Problem: f.Problem, Severity: f.Severity, Summary: f.Summary}
}
