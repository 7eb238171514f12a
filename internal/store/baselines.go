package store

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// The problems of the findings a baseline comparison makes. They are part of the
// fingerprint: one finding per resource for what is beyond its baseline, one for what
// left it.
const (
	ProblemBeyondBaseline = "beyond_baseline"
	ProblemLeftBaseline   = "left_baseline"
)

// Errors of baseline accept and reset.
var (
	// ErrNoBaseline: the item has no baseline yet.
	ErrNoBaseline = errors.New("no baseline")
	// ErrInvalidBaseline: a request without a reason or an item to name; the message
	// says which.
	ErrInvalidBaseline = errors.New("invalid baseline request")
)

// Baseline is the accepted exposure or access of one change-tracking item: the facts
// its first run found (or none, for baseline=empty), narrowed when a fact disappears
// and widened only when a person accepts a change. Beyond holds the facts of the last
// completed run that are not in it: they are the item's open findings.
type Baseline struct {
	Item     string    `json:"item"`
	Check    string    `json:"check"`
	Pos      string    `json:"pos"`
	Recorded time.Time `json:"recorded"`
	// Empty says the baseline started empty (baseline=empty) instead of from the first
	// run's facts.
	Empty   bool           `json:"empty,omitempty"`
	Updated time.Time      `json:"updated"`
	Facts   []BaselineFact `json:"facts"`
	Beyond  []BaselineFact `json:"beyond,omitempty"`
}

// BaselineFact is a fact of a baseline, or beyond it, and since when.
type BaselineFact struct {
	checks.Fact
	Since time.Time `json:"since"`
	// AcceptedBy and Reason say who accepted the fact into the baseline, and why; empty
	// for facts the first run recorded.
	AcceptedBy string `json:"accepted_by,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// ChangeKind says what a change record tells.
type ChangeKind string

// The kinds of change. Added, widened, removed and narrowed come from runs; accepted
// and reset from people.
const (
	ChangeRecorded ChangeKind = "recorded" // an item's first run recorded its baseline
	ChangeAdded    ChangeKind = "added"    // a resource not in the baseline appeared
	ChangeWidened  ChangeKind = "widened"  // a resource of the baseline gained facts
	ChangeReverted ChangeKind = "reverted" // facts beyond the baseline went away again
	ChangeRemoved  ChangeKind = "removed"  // a resource of the baseline went away
	ChangeNarrowed ChangeKind = "narrowed" // a resource of the baseline lost some facts
	ChangeAccepted ChangeKind = "accepted" // a person accepted facts into the baseline
	ChangeReset    ChangeKind = "reset"    // a person dropped the baseline
)

// ChangeRecord is one entry of the change log: what changed on one resource of one
// item, found by a run or done by a person.
type ChangeRecord struct {
	Seq      uint64     `json:"seq"`
	Time     time.Time  `json:"time"`
	Item     string     `json:"item"`
	Check    string     `json:"check"`
	Pos      string     `json:"pos"`
	Kind     ChangeKind `json:"kind"`
	Resource string     `json:"resource,omitempty"`
	// Facts are the keys of the facts that changed.
	Facts    []string        `json:"facts,omitempty"`
	Severity checks.Severity `json:"severity,omitempty"`
	Summary  string          `json:"summary,omitempty"`
	// Run is the run that found the change; Actor and Reason who made it and why.
	Run    uint64 `json:"run,omitempty"`
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// ChangeFilter selects change records. Zero fields do not filter.
type ChangeFilter struct {
	Since time.Time `json:"since,omitzero"`
	// Item is an item key, or a check id (it contains a dot).
	Item  string `json:"item,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// BaselineSelector names baselines: an item key, or every item of a check id (it
// contains a dot), with Resource a glob over the resources they hold.
type BaselineSelector struct {
	Item     string `json:"item"`
	Resource string `json:"resource,omitempty"`
}

func (s BaselineSelector) matches(b Baseline) bool {
	return s.Item == "" || b.Item == s.Item || strings.Contains(s.Item, ".") && b.Check == s.Item
}

// Baselines returns the baselines the selector names (all of them for an empty one),
// by position. Resource narrows the facts shown.
func (tx *Tx) Baselines(sel BaselineSelector) ([]Baseline, error) {
	var out []Baseline
	err := tx.bucket(bucketBaselines).ForEach(func(k, v []byte) error {
		var b Baseline
		if err := tx.decode(bucketBaselines, k, v, &b); err != nil {
			return err
		}
		if !sel.matches(b) {
			return nil
		}
		if sel.Resource != "" {
			keep := func(f BaselineFact) bool { return !globMatch(sel.Resource, f.Resource) }
			b.Facts, b.Beyond = slices.DeleteFunc(b.Facts, keep), slices.DeleteFunc(b.Beyond, keep)
		}
		out = append(out, b)
		return nil
	})
	slices.SortFunc(out, func(a, b Baseline) int { return cmp.Or(comparePos(a.Pos, b.Pos), cmp.Compare(a.Item, b.Item)) })
	return out, err
}

func (tx *Tx) baseline(item string) (Baseline, bool, error) {
	var b Baseline
	found, err := tx.get(bucketBaselines, []byte(item), &b)
	return b, found, err
}

// AcceptBaseline moves the facts beyond the selected baselines on resources matching
// sel.Resource into them, as accepted by actor for reason, audits it, and resolves the
// findings nothing is left beyond the baseline for. It returns the change records.
func (tx *Tx) AcceptBaseline(sel BaselineSelector, actor, reason string) ([]ChangeRecord, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, fmt.Errorf("%w: accepting a change into a baseline needs a reason (--reason \"why\"), so others know why it is not news", ErrInvalidBaseline)
	}
	bs, err := tx.selected(sel)
	if err != nil {
		return nil, err
	}
	now := tx.now()
	var out []ChangeRecord
	for _, b := range bs {
		var accepted, kept []BaselineFact
		for _, f := range b.Beyond {
			if sel.Resource == "" || globMatch(sel.Resource, f.Resource) {
				f.Since, f.AcceptedBy, f.Reason = now, actor, reason
				accepted = append(accepted, f)
			} else {
				kept = append(kept, f)
			}
		}
		if len(accepted) == 0 {
			continue
		}
		b.Facts, b.Beyond, b.Updated = sortFacts(append(b.Facts, accepted...)), kept, now
		if err := tx.put(bucketBaselines, []byte(b.Item), b); err != nil {
			return nil, err
		}
		left := map[string]bool{}
		for _, f := range kept {
			left[f.Resource] = true
		}
		for res, facts := range byResource(accepted) {
			rec, err := tx.logChange(ChangeRecord{Time: now, Item: b.Item, Check: b.Check, Pos: b.Pos, Kind: ChangeAccepted,
				Resource: res, Facts: keys(facts), Severity: maxSeverity(facts), Actor: actor, Reason: reason})
			if err != nil {
				return nil, err
			}
			out = append(out, rec)
			if !left[res] {
				if err := tx.resolveNow(b.Item, res, ProblemBeyondBaseline, now); err != nil {
					return nil, err
				}
			}
		}
		detail := map[string]string{"item": b.Item, "check": b.Check, "facts": strconv.Itoa(len(accepted)), "reason": reason}
		if sel.Resource != "" {
			detail["resource"] = sel.Resource
		}
		if err := tx.Audit(actor, "baseline.accepted", b.Item, detail); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w beyond the baseline of %s%s: nothing to accept; see `clankerd baseline show %s`", ErrNotFound, sel.Item, resourceNote(sel.Resource), sel.Item)
	}
	return out, nil
}

// ResetBaseline drops the selected baselines, audited as done by actor: the next run
// of each item records a new one from what it finds, and its open findings resolve.
func (tx *Tx) ResetBaseline(sel BaselineSelector, actor, reason string) ([]ChangeRecord, error) {
	if sel.Resource != "" {
		return nil, fmt.Errorf("%w: reset drops a whole baseline; to take in a change on some resources use `clankerd baseline accept %s --resource %s`", ErrInvalidBaseline, sel.Item, sel.Resource)
	}
	bs, err := tx.selected(sel)
	if err != nil {
		return nil, err
	}
	now := tx.now()
	var out []ChangeRecord
	for _, b := range bs {
		if err := tx.bucket(bucketBaselines).Delete([]byte(b.Item)); err != nil {
			return nil, err
		}
		rec, err := tx.logChange(ChangeRecord{Time: now, Item: b.Item, Check: b.Check, Pos: b.Pos, Kind: ChangeReset,
			Summary: fmt.Sprintf("dropped %d facts; the next run records a new baseline", len(b.Facts)), Actor: actor, Reason: reason})
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
		detail := map[string]string{"item": b.Item, "check": b.Check, "facts": strconv.Itoa(len(b.Facts))}
		if reason != "" {
			detail["reason"] = reason
		}
		if err := tx.Audit(actor, "baseline.reset", b.Item, detail); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (tx *Tx) selected(sel BaselineSelector) ([]Baseline, error) {
	if sel.Item == "" {
		return nil, fmt.Errorf("%w: name the item key or check id whose baseline to change", ErrInvalidBaseline)
	}
	bs, err := tx.Baselines(BaselineSelector{Item: sel.Item})
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, fmt.Errorf("%s: %w yet (its first completed run records one; `clankerd baseline show` lists them)", sel.Item, ErrNoBaseline)
	}
	return bs, nil
}

func resourceNote(glob string) string {
	if glob == "" {
		return ""
	}
	return " on resources matching " + strconv.Quote(glob)
}

// resolveNow resolves the open finding of item on resource, if there is one.
func (tx *Tx) resolveNow(item, resource, problem string, now time.Time) error {
	fp := checks.Fingerprint(item, checks.Finding{Resource: resource, Problem: problem})
	stored, err := tx.finding(fp)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil || !stored.State.Open() {
		return err
	}
	rec := stored
	rec.ResolvedAt = now
	return tx.setFindingState(stored, &rec, FindingResolved, rec.LastRun)
}

// Changes returns the change log, newest first.
func (tx *Tx) Changes(f ChangeFilter) ([]ChangeRecord, error) {
	var out []ChangeRecord
	c := tx.bucket(bucketChanges).Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		var r ChangeRecord
		if err := tx.decode(bucketChanges, k, v, &r); err != nil {
			return nil, err
		}
		if !f.Since.IsZero() && r.Time.Before(f.Since) {
			break
		}
		if f.Item != "" && r.Item != f.Item && !(strings.Contains(f.Item, ".") && r.Check == f.Item) {
			continue
		}
		out = append(out, r)
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
	}
	return out, nil
}

// logChange appends a record to the change log, keyed by its sequence number (which
// follows the time it was recorded).
func (tx *Tx) logChange(r ChangeRecord) (ChangeRecord, error) {
	seq, err := tx.bucket(bucketChanges).NextSequence()
	if err != nil {
		return r, err
	}
	r.Seq = seq
	return r, tx.put(bucketChanges, seqKey(seq), r)
}

// pruneChanges deletes change records older than cutoff.
func (tx *Tx) pruneChanges(cutoff time.Time) error {
	b := tx.bucket(bucketChanges)
	c := b.Cursor()
	var doomed [][]byte
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var r ChangeRecord
		if err := tx.decode(bucketChanges, k, v, &r); err != nil {
			return err
		}
		if !r.Time.Before(cutoff) {
			break
		}
		doomed = append(doomed, append([]byte(nil), k...))
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// compareBaseline compares a completed run's inventory with the item's baseline (the
// first run records it), logs what changed, narrows the baseline by what went away,
// and returns the findings: one per resource with facts beyond the baseline, and one
// (information, reported by this run only) per resource that left it. It adds what it
// did to the run's evidence.
func (tx *Tx) compareBaseline(r Receipt, inv *checks.Inventory, evidence map[string]string) ([]checks.Finding, error) {
	now := r.Ended
	b, found, err := tx.baseline(r.Item)
	if err != nil {
		return nil, err
	}
	changed := !found
	if !found {
		b = Baseline{Item: r.Item, Check: r.Check, Pos: r.Pos, Recorded: now, Empty: inv.FromEmpty, Facts: []BaselineFact{}}
		if !inv.FromEmpty {
			for _, f := range inv.Facts {
				b.Facts = append(b.Facts, BaselineFact{Fact: f, Since: now})
			}
			evidence["baseline"] = fmt.Sprintf("recorded now with %d facts; from the next run on, what is added or widened is a finding", len(b.Facts))
			_, err := tx.logChange(ChangeRecord{Time: now, Item: r.Item, Check: r.Check, Pos: r.Pos, Kind: ChangeRecorded, Run: r.Seq,
				Summary: fmt.Sprintf("baseline recorded with %d facts", len(b.Facts))})
			if err != nil {
				return nil, err
			}
		} else {
			evidence["baseline"] = "empty (baseline=empty): everything present is a finding"
		}
	}
	b.Check, b.Pos = r.Check, r.Pos

	current := map[factID]checks.Fact{}
	for _, f := range inv.Facts {
		current[idOf(f)] = f
	}
	inBase := map[factID]bool{}
	var kept, gone []BaselineFact
	for _, f := range b.Facts {
		id := idOf(f.Fact)
		if _, ok := current[id]; ok {
			inBase[id] = true
			kept = append(kept, f)
		} else {
			gone = append(gone, f)
		}
	}
	wasBeyond := map[factID]BaselineFact{}
	for _, f := range b.Beyond {
		wasBeyond[idOf(f.Fact)] = f
	}
	var beyond, fresh []BaselineFact
	for _, f := range inv.Facts {
		id := idOf(f)
		if inBase[id] {
			continue
		}
		bf, seen := wasBeyond[id]
		if !seen {
			bf = BaselineFact{Since: now}
		}
		bf.Fact = f
		beyond = append(beyond, bf)
		if !seen {
			fresh = append(fresh, bf)
		}
	}
	var reverted []BaselineFact
	for id, f := range wasBeyond {
		if _, ok := current[id]; !ok {
			reverted = append(reverted, f)
		}
	}
	changed = changed || len(gone) > 0 || len(fresh) > 0 || len(reverted) > 0

	baseResources := map[string]bool{}
	for _, f := range b.Facts {
		baseResources[f.Resource] = true
	}
	keptResources := map[string]bool{}
	for _, f := range kept {
		keptResources[f.Resource] = true
	}
	log := func(kind ChangeKind, res string, facts []BaselineFact) error {
		_, err := tx.logChange(ChangeRecord{Time: now, Item: r.Item, Check: r.Check, Pos: r.Pos, Kind: kind, Resource: res,
			Facts: keys(facts), Severity: maxSeverity(facts), Summary: summaries(facts), Run: r.Seq})
		return err
	}
	for _, res := range sortedResources(fresh) {
		kind := ChangeAdded
		if baseResources[res] {
			kind = ChangeWidened
		}
		if err := log(kind, res, byResource(fresh)[res]); err != nil {
			return nil, err
		}
	}
	for _, res := range sortedResources(reverted) {
		if err := log(ChangeReverted, res, byResource(reverted)[res]); err != nil {
			return nil, err
		}
	}
	var findings []checks.Finding
	goneBy := byResource(gone)
	for _, res := range sortedResources(gone) {
		kind, what := ChangeNarrowed, "narrowed"
		if !keptResources[res] {
			kind, what = ChangeRemoved, "removed"
		}
		if err := log(kind, res, goneBy[res]); err != nil {
			return nil, err
		}
		findings = append(findings, checks.Finding{Resource: res, Problem: ProblemLeftBaseline, Severity: checks.Info,
			Summary:  fmt.Sprintf("%s since the baseline: no longer %s", what, strings.Join(keys(goneBy[res]), "; ")),
			Evidence: map[string]string{"left the baseline": strings.Join(keys(goneBy[res]), "\n")}})
	}
	beyondBy := byResource(beyond)
	for _, res := range sortedResources(beyond) {
		facts := beyondBy[res]
		what := "new"
		if baseResources[res] {
			what = "widened"
		}
		fix := facts[0].Fix
		accept := fmt.Sprintf("if it is wanted: clankerd baseline accept %s --resource '%s' --reason \"why\"", r.Check, res)
		if fix == "" {
			fix = "revert the change, or " + accept
		} else {
			fix += "; or, " + accept
		}
		findings = append(findings, checks.Finding{Resource: res, Problem: ProblemBeyondBaseline, Severity: maxSeverity(facts),
			Summary:  fmt.Sprintf("%s since the baseline: %s", what, summaries(facts)),
			Evidence: map[string]string{"beyond the baseline": strings.Join(keys(facts), "\n")},
			Fix:      fix})
	}
	evidence["facts"] = strconv.Itoa(len(inv.Facts))
	evidence["beyond baseline"] = strconv.Itoa(len(beyond))
	if changed {
		b.Facts, b.Beyond, b.Updated = sortFacts(kept), sortFacts(beyond), now
		if b.Facts == nil {
			b.Facts = []BaselineFact{}
		}
		if err := tx.put(bucketBaselines, []byte(r.Item), b); err != nil {
			return nil, err
		}
	}
	return findings, nil
}

type factID struct{ resource, key string }

func idOf(f checks.Fact) factID { return factID{f.Resource, f.Key} }

func byResource(fs []BaselineFact) map[string][]BaselineFact {
	out := map[string][]BaselineFact{}
	for _, f := range fs {
		out[f.Resource] = append(out[f.Resource], f)
	}
	for _, v := range out {
		slices.SortFunc(v, func(a, b BaselineFact) int { return cmp.Compare(a.Key, b.Key) })
	}
	return out
}

func sortedResources(fs []BaselineFact) []string {
	return slices.Sorted(maps.Keys(byResource(fs)))
}

func sortFacts(fs []BaselineFact) []BaselineFact {
	slices.SortFunc(fs, func(a, b BaselineFact) int {
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Key, b.Key))
	})
	return fs
}

func keys(fs []BaselineFact) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Key
	}
	return out
}

func summaries(fs []BaselineFact) string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = cmp.Or(f.Summary, f.Key)
	}
	return strings.Join(out, "; ")
}

func maxSeverity(fs []BaselineFact) checks.Severity {
	var s checks.Severity
	for _, f := range fs {
		if f.Severity.Rank() > s.Rank() {
			s = f.Severity
		}
	}
	return s
}
