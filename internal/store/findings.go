package store

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// FindingFilter selects findings. Zero fields do not filter.
type FindingFilter struct {
	// States to include; empty means all.
	States []FindingState `json:"states,omitempty"`
	Item   string         `json:"item,omitempty"`
	Check  string         `json:"check,omitempty"`
	// Since keeps findings last seen, or resolved, at or after it.
	Since time.Time `json:"since,omitzero"`
	// Severity keeps findings at least this severe.
	Severity checks.Severity `json:"severity,omitempty"`
}

// reconcile compares the findings of a completed run with the item's stored ones and
// records the lifecycle transitions. It returns every finding of the run with its
// state (found ones in the order the check returned them, then the resolved ones) and
// the counts for the receipt.
func (tx *Tx) reconcile(r Receipt, found []checks.Finding) ([]RunFinding, FindingCounts, error) {
	now := r.Ended
	current := make(map[string]checks.Finding, len(found))
	order := make([]string, 0, len(found))
	for _, f := range found {
		fp := checks.Fingerprint(r.Item, f)
		if _, dup := current[fp]; !dup {
			order = append(order, fp)
		}
		current[fp] = f
	}

	var counts FindingCounts
	after := make(map[string]RunFinding, len(order))
	var resolved []RunFinding
	var existing []string
	err := tx.scanPrefix(bucketFindingsByItem, []byte(r.Item), func(fp []byte) error {
		existing = append(existing, string(fp))
		return nil
	})
	if err != nil {
		return nil, counts, err
	}
	for _, fp := range existing {
		stored, err := tx.finding(fp)
		if err != nil {
			return nil, counts, err
		}
		rec := stored
		f, ok := current[fp]
		switch {
		case ok:
			next := rec.State
			var prev checks.Severity
			switch {
			case !rec.State.Open():
				next = FindingNew
				rec.FirstSeen, rec.ResolvedAt = now, time.Time{}
			case sameDescription(rec.Finding, f):
				next = FindingUnchanged
			default:
				next, prev = FindingChanged, rec.Severity
			}
			rec.Finding, rec.LastSeen, rec.LastRun, rec.Pos, rec.Check = f, now, r.Seq, r.Pos, r.Check
			if err := tx.setFindingState(stored, &rec, next, r.Seq); err != nil {
				return nil, counts, err
			}
			after[fp] = RunFinding{FindingRecord: rec, PrevSeverity: prev}
		case rec.State.Open():
			rec.ResolvedAt = now
			if err := tx.setFindingState(stored, &rec, FindingResolved, r.Seq); err != nil {
				return nil, counts, err
			}
			resolved = append(resolved, RunFinding{FindingRecord: rec})
		default:
			continue // resolved earlier and still gone
		}
		counts.add(rec.State)
	}
	out := make([]RunFinding, 0, len(order)+len(resolved))
	for _, fp := range order {
		if rf, ok := after[fp]; ok {
			out = append(out, rf)
			continue
		}
		rec := FindingRecord{
			Fingerprint: fp, Item: r.Item, Check: r.Check, Pos: r.Pos, Finding: current[fp],
			FirstSeen: now, LastSeen: now, LastRun: r.Seq,
		}
		if err := tx.setFindingState(FindingRecord{}, &rec, FindingNew, r.Seq); err != nil {
			return nil, counts, err
		}
		counts.add(FindingNew)
		out = append(out, RunFinding{FindingRecord: rec})
	}
	out = append(out, resolved...)
	for i := range out {
		if err := tx.markMuted(&out[i].FindingRecord); err != nil {
			return nil, counts, err
		}
	}
	return out, counts, nil
}

func (c *FindingCounts) add(s FindingState) {
	switch s {
	case FindingNew:
		c.New++
	case FindingUnchanged:
		c.Unchanged++
	case FindingChanged:
		c.Changed++
	case FindingResolved:
		c.Resolved++
	}
}

// sameDescription reports whether two findings with one fingerprint describe the
// problem the same way.
func sameDescription(a, b checks.Finding) bool {
	if a.Severity != b.Severity || a.Summary != b.Summary || a.Fix != b.Fix || !maps.Equal(a.Evidence, b.Evidence) {
		return false
	}
	if (a.MonthlyCostUSD == nil) != (b.MonthlyCostUSD == nil) {
		return false
	}
	return a.MonthlyCostUSD == nil || *a.MonthlyCostUSD == *b.MonthlyCostUSD
}

// setFindingState stores rec in state next, set by run seq, and moves its index
// entries from those of stored, the version it replaces (the zero record for a new
// finding).
func (tx *Tx) setFindingState(stored FindingRecord, rec *FindingRecord, next FindingState, seq uint64) error {
	rec.State, rec.StateRun, rec.MutedBy = next, seq, ""
	if err := tx.reindexFinding(stored, *rec); err != nil {
		return err
	}
	return tx.put(bucketFindings, []byte(rec.Fingerprint), rec)
}

// bucketKey is one entry of an index bucket.
type bucketKey struct {
	bucket, key []byte
}

// findingIndexKeys lists the index entries of a stored finding: by item, by state, by
// the run that set its state (unless unchanged) and, for resolved ones, by the time
// they were resolved.
func findingIndexKeys(rec FindingRecord) []bucketKey {
	if rec.Fingerprint == "" {
		return nil
	}
	fp := []byte(rec.Fingerprint)
	keys := []bucketKey{
		{bucketFindingsByItem, indexKey([]byte(rec.Item), fp)},
		{bucketFindingsByState, indexKey([]byte(rec.State), fp)},
	}
	if rec.State != FindingUnchanged {
		keys = append(keys, bucketKey{bucketFindingsByRun, indexKey(seqKey(rec.StateRun), fp)})
	}
	if rec.State == FindingResolved {
		keys = append(keys, bucketKey{bucketFindingsResolved, indexKey(timeKey(rec.ResolvedAt), fp)})
	}
	return keys
}

// reindexFinding deletes the index entries of stored that next does not have and adds
// the ones next has that stored did not, so an unchanged finding writes no index page.
func (tx *Tx) reindexFinding(stored, next FindingRecord) error {
	old, cur := findingIndexKeys(stored), findingIndexKeys(next)
	for _, k := range old {
		if !containsKey(cur, k) {
			if err := tx.bucket(k.bucket).Delete(k.key); err != nil {
				return fmt.Errorf("deleting %s/%q: %w", k.bucket, k.key, err)
			}
		}
	}
	for _, k := range cur {
		if !containsKey(old, k) {
			if err := tx.bucket(k.bucket).Put(k.key, nil); err != nil {
				return fmt.Errorf("writing %s/%q: %w", k.bucket, k.key, err)
			}
		}
	}
	return nil
}

func containsKey(keys []bucketKey, k bucketKey) bool {
	return slices.ContainsFunc(keys, func(o bucketKey) bool {
		return bytes.Equal(o.bucket, k.bucket) && bytes.Equal(o.key, k.key)
	})
}

// timeKey orders times in a key: big-endian nanoseconds since 1970.
func timeKey(t time.Time) []byte { return seqKey(uint64(t.UnixNano())) }

// Finding returns the finding with the fingerprint, MutedBy filled in.
func (tx *Tx) Finding(fp string) (FindingRecord, error) {
	rec, err := tx.finding(fp)
	if err != nil {
		return rec, err
	}
	return rec, tx.markMuted(&rec)
}

func (tx *Tx) finding(fp string) (FindingRecord, error) {
	var rec FindingRecord
	found, err := tx.get(bucketFindings, []byte(fp), &rec)
	if err == nil && !found {
		err = fmt.Errorf("finding %s: %w", fp, ErrNotFound)
	}
	return rec, err
}

// Findings returns the findings matching f, most severe first, then by resource.
func (tx *Tx) Findings(f FindingFilter) ([]FindingRecord, error) {
	fps, err := tx.candidateFindings(f)
	if err != nil {
		return nil, err
	}
	var out []FindingRecord
	for _, fp := range fps {
		rec, err := tx.finding(fp)
		if err != nil {
			return nil, err
		}
		if f.matches(rec) {
			out = append(out, rec)
		}
	}
	sortFindings(out)
	return out, tx.markAllMuted(out)
}

func (f FindingFilter) matches(rec FindingRecord) bool {
	if f.Item != "" && rec.Item != f.Item || f.Check != "" && rec.Check != f.Check {
		return false
	}
	if f.Severity != "" && rec.Severity.Rank() < f.Severity.Rank() {
		return false
	}
	if len(f.States) > 0 {
		ok := false
		for _, s := range f.States {
			ok = ok || s == rec.State
		}
		if !ok {
			return false
		}
	}
	if !f.Since.IsZero() && rec.LastSeen.Before(f.Since) && rec.ResolvedAt.Before(f.Since) {
		return false
	}
	return true
}

// candidateFindings narrows the fingerprints to decode with the item or state index.
func (tx *Tx) candidateFindings(f FindingFilter) ([]string, error) {
	var fps []string
	collect := func(fp []byte) error {
		fps = append(fps, string(fp))
		return nil
	}
	switch {
	case f.Item != "":
		return fps, tx.scanPrefix(bucketFindingsByItem, []byte(f.Item), collect)
	case len(f.States) > 0:
		for _, s := range f.States {
			if err := tx.scanPrefix(bucketFindingsByState, []byte(s), collect); err != nil {
				return nil, err
			}
		}
		return fps, nil
	}
	err := tx.bucket(bucketFindings).ForEach(func(k, _ []byte) error { return collect(k) })
	return fps, err
}

// Diff returns the findings that became new, changed or resolved in each item's
// latest completed run: what is different since the run before it.
func (tx *Tx) Diff() ([]FindingRecord, error) {
	states, err := tx.ItemStates()
	if err != nil {
		return nil, err
	}
	var out []FindingRecord
	for _, st := range states {
		if st.LastCompleted == 0 {
			continue
		}
		err := tx.scanPrefix(bucketFindingsByRun, seqKey(st.LastCompleted), func(fp []byte) error {
			rec, err := tx.finding(string(fp))
			if err != nil {
				return err
			}
			out = append(out, rec)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sortFindings(out)
	return out, tx.markAllMuted(out)
}

// pruneResolved deletes findings resolved before cutoff, with their index entries. It
// reads only those findings, through the resolved-at index.
func (tx *Tx) pruneResolved(cutoff time.Time) error {
	var doomed [][]byte
	end := timeKey(cutoff)
	c := tx.bucket(bucketFindingsResolved).Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Next() {
		doomed = append(doomed, bytes.Clone(k))
	}
	for _, k := range doomed {
		fp := string(k[len(end)+1:])
		rec, err := tx.finding(fp)
		switch {
		case errors.Is(err, ErrNotFound):
			// A dangling index entry: drop it.
			err = tx.bucket(bucketFindingsResolved).Delete(k)
		case err == nil:
			err = tx.reindexFinding(rec, FindingRecord{})
		}
		if err != nil {
			return fmt.Errorf("pruning resolved finding %s: %w", fp, err)
		}
		if err := tx.bucket(bucketFindings).Delete([]byte(fp)); err != nil {
			return err
		}
	}
	return nil
}

func sortFindings(fs []FindingRecord) {
	sort.SliceStable(fs, func(i, j int) bool {
		if a, b := fs[i].Severity.Rank(), fs[j].Severity.Rank(); a != b {
			return a > b
		}
		if fs[i].Resource != fs[j].Resource {
			return fs[i].Resource < fs[j].Resource
		}
		return fs[i].Fingerprint < fs[j].Fingerprint
	})
}
