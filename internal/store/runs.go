package store

import (
	"bytes"
	"cmp"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clankerd/clankerd/checks"
)

// pruneEvery is how many receipt writes pass between retention sweeps.
const pruneEvery = 100

// RunFilter selects receipts. Zero fields do not filter. Check is looked up through
// the items that run that check (an item key includes its check id).
type RunFilter struct {
	Item  string    `json:"item,omitempty"`
	Check string    `json:"check,omitempty"`
	Limit int       `json:"limit,omitempty"`
	Since time.Time `json:"since,omitzero"`
}

// BeginRun appends a receipt for a run that starts now (status running) and returns
// its sequence number.
func (tx *Tx) BeginRun(r Receipt) (uint64, error) {
	r.Status = StatusRunning
	r.Ended = time.Time{}
	return tx.appendReceipt(r)
}

// AddReceipt appends a complete receipt, for ticks that did not run: its status is
// skipped or error. A pass or fail goes through BeginRun and EndRun, which reconcile
// the item's findings.
func (tx *Tx) AddReceipt(r Receipt) (uint64, error) {
	if r.Status != checks.Skipped && r.Status != checks.Error {
		return 0, fmt.Errorf("receipt for %s has status %q: AddReceipt records only skipped or error ticks; record a run with BeginRun and EndRun", r.Pos, r.Status)
	}
	return tx.appendReceipt(r)
}

func (tx *Tx) appendReceipt(r Receipt) (uint64, error) {
	if r.Item == "" {
		return 0, fmt.Errorf("receipt for %s has no item key", r.Pos)
	}
	seq, err := tx.bucket(bucketRuns).NextSequence()
	if err != nil {
		return 0, err
	}
	r.Seq = seq
	if err := tx.put(bucketRuns, seqKey(seq), r); err != nil {
		return 0, err
	}
	if err := tx.bucket(bucketRunsByItem).Put(indexKey([]byte(r.Item), seqKey(seq)), nil); err != nil {
		return 0, err
	}
	if err := tx.noteRun(r, false); err != nil {
		return 0, err
	}
	return seq, tx.maybePrune()
}

// Receipt returns the receipt with the sequence number.
func (tx *Tx) Receipt(seq uint64) (Receipt, error) {
	var r Receipt
	found, err := tx.get(bucketRuns, seqKey(seq), &r)
	if err == nil && !found {
		err = fmt.Errorf("run %d: %w (it may have been pruned)", seq, ErrNotFound)
	}
	return r, err
}

// EndRun closes the receipt of a run. A run that ended pass or fail reconciles the
// findings of its item: found ones are new, unchanged or changed, open ones not found
// are resolved. A run that ended error or skipped changes no finding.
//
// In the same transaction it hands the result to the database's News (see Options),
// which queues what is worth telling people in the outbox.
func (tx *Tx) EndRun(seq uint64, end RunEnd) (RunResult, error) {
	return tx.endRun(seq, end, true)
}

// endRun is EndRun; news is false for runs closed because their process died, which
// are not news about the checked systems.
func (tx *Tx) endRun(seq uint64, end RunEnd, news bool) (RunResult, error) {
	r, err := tx.Receipt(seq)
	if err != nil {
		return RunResult{Receipt: r}, err
	}
	if r.Status != StatusRunning {
		return RunResult{Receipt: r}, fmt.Errorf("run %d of %s already ended (%s)", seq, r.Pos, r.Status)
	}
	switch end.Status {
	case checks.Pass, checks.Fail, checks.Error, checks.Skipped:
	default:
		return RunResult{Receipt: r}, fmt.Errorf("ending run %d of %s with status %q: a run ends pass, fail, error or skipped", seq, r.Pos, end.Status)
	}
	if end.Ended.IsZero() {
		end.Ended = tx.now()
	}
	r.Ended, r.Status, r.Error, r.Evidence, r.Plan = end.Ended, end.Status, end.Error, end.Evidence, end.Plan
	res := RunResult{Receipt: r}
	completed := end.Status == checks.Pass || end.Status == checks.Fail
	if completed && end.Inventory != nil {
		if r.Evidence == nil {
			r.Evidence = map[string]string{}
		}
		changes, err := tx.compareBaseline(r, end.Inventory, r.Evidence)
		if err != nil {
			return res, fmt.Errorf("comparing run %d of %s with its baseline: %w", seq, r.Pos, err)
		}
		end.Findings = append(slices.Clone(end.Findings), changes...)
		r.Status = checks.Result{Findings: end.Findings}.Status()
		res.Receipt = r
	}
	if completed {
		res.Findings, r.Findings, err = tx.reconcile(r, end.Findings)
		if err != nil {
			return res, err
		}
		res.Receipt = r
	}
	if err := tx.put(bucketRuns, seqKey(seq), r); err != nil {
		return res, err
	}
	if err := tx.noteRun(r, completed); err != nil {
		return res, err
	}
	if news && tx.db.news != nil {
		if err := tx.db.news.RunEnded(tx, res); err != nil {
			return res, fmt.Errorf("queueing the notification of run %d of %s: %w", seq, r.Pos, err)
		}
	}
	return res, tx.maybePrune()
}

// noteRun updates the item's state with a receipt.
func (tx *Tx) noteRun(r Receipt, completed bool) error {
	st, _, err := tx.ItemState(r.Item)
	if err != nil {
		return err
	}
	st.Item, st.Check, st.Pos = r.Item, r.Check, r.Pos
	if r.Seq >= st.LastRun {
		st.LastRun, st.LastStatus, st.LastError = r.Seq, r.Status, r.Error
		st.LastStarted, st.LastEnded = r.Started, r.Ended
		// Only the scheduler's ticks say where the schedule is: a manual run must not
		// move the point from which missed ticks are counted after a restart.
		if r.Trigger != TriggerManual && r.Scheduled.After(st.LastScheduled) {
			st.LastScheduled = r.Scheduled
		}
	}
	if completed {
		st.LastCompleted = r.Seq
		st.OpenFindings = r.Findings.New + r.Findings.Unchanged + r.Findings.Changed
	}
	return tx.put(bucketItems, []byte(r.Item), st)
}

// ItemState returns the state of one item.
func (tx *Tx) ItemState(item string) (ItemState, bool, error) {
	var st ItemState
	found, err := tx.get(bucketItems, []byte(item), &st)
	return st, found, err
}

// ItemStates returns the state of every item that has run, sorted by position.
func (tx *Tx) ItemStates() ([]ItemState, error) {
	var out []ItemState
	err := tx.bucket(bucketItems).ForEach(func(k, v []byte) error {
		var st ItemState
		if _, err := tx.get(bucketItems, k, &st); err != nil {
			return err
		}
		out = append(out, st)
		return nil
	})
	slices.SortFunc(out, func(a, b ItemState) int {
		return cmp.Or(comparePos(a.Pos, b.Pos), strings.Compare(a.Item, b.Item))
	})
	return out, err
}

// comparePos orders "FILE:LINE" positions by file, then by line number, so that
// HB.md:9 comes before HB.md:10.
func comparePos(a, b string) int {
	fa, la := splitPos(a)
	fb, lb := splitPos(b)
	return cmp.Or(strings.Compare(fa, fb), cmp.Compare(la, lb), strings.Compare(a, b))
}

// splitPos splits "FILE:LINE" at its last colon; line is -1 when there is none.
func splitPos(pos string) (file string, line int) {
	i := strings.LastIndexByte(pos, ':')
	if i < 0 {
		return pos, -1
	}
	n, err := strconv.Atoi(pos[i+1:])
	if err != nil {
		return pos, -1
	}
	return pos[:i], n
}

// runningMarker is how put encodes StatusRunning in a receipt. MarkInterrupted decodes
// only the receipts that contain it (and then checks the decoded status).
var runningMarker = []byte(`"status":"` + StatusRunning + `"`)

// MarkInterrupted closes every receipt still running (its process died) as error
// with the reason, and returns how many there were.
func (tx *Tx) MarkInterrupted(reason string) (int, error) {
	var running []Receipt
	err := tx.bucket(bucketRuns).ForEach(func(k, v []byte) error {
		if !bytes.Contains(v, runningMarker) {
			return nil
		}
		var r Receipt
		if err := tx.decode(bucketRuns, k, v, &r); err != nil {
			return err
		}
		if r.Status == StatusRunning {
			running = append(running, r)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, r := range running {
		if _, err := tx.endRun(r.Seq, RunEnd{Ended: tx.now(), Status: checks.Error, Error: reason}, false); err != nil {
			return 0, err
		}
	}
	return len(running), nil
}

// Runs returns receipts matching f, newest first. A filter by item or check reads the
// item index; an unfiltered query walks the receipts from the newest and stops at
// Limit or at the first receipt started before Since.
func (tx *Tx) Runs(f RunFilter) ([]Receipt, error) {
	seqs, err := tx.runSeqs(f)
	if err != nil {
		return nil, err
	}
	var out []Receipt
	for seq := range seqs {
		r, err := tx.Receipt(seq)
		if err != nil {
			return nil, err
		}
		if !f.Since.IsZero() && r.Started.Before(f.Since) {
			break
		}
		if f.Check != "" && r.Check != f.Check {
			continue
		}
		out = append(out, r)
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
	}
	return out, nil
}

// runSeqs yields the candidate receipt sequence numbers for f, newest first.
func (tx *Tx) runSeqs(f RunFilter) (iter.Seq[uint64], error) {
	switch {
	case f.Item != "":
		return tx.itemRunSeqs(f.Item), nil
	case f.Check != "":
		states, err := tx.ItemStates()
		if err != nil {
			return nil, err
		}
		var seqs []uint64
		for _, st := range states {
			if st.Check != f.Check {
				continue
			}
			n := 0
			for seq := range tx.itemRunSeqs(st.Item) {
				seqs = append(seqs, seq)
				if n++; f.Limit > 0 && n >= f.Limit {
					break
				}
			}
		}
		slices.SortFunc(seqs, func(a, b uint64) int { return cmp.Compare(b, a) })
		return slices.Values(seqs), nil
	}
	return func(yield func(uint64) bool) {
		c := tx.bucket(bucketRuns).Cursor()
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			if !yield(seqFromKey(k)) {
				return
			}
		}
	}, nil
}

// itemRunSeqs yields the sequence numbers of the item's receipts, newest first.
func (tx *Tx) itemRunSeqs(item string) iter.Seq[uint64] {
	return func(yield func(uint64) bool) {
		for suffix := range tx.scanPrefixReverse(bucketRunsByItem, []byte(item)) {
			if !yield(seqFromKey(suffix)) {
				return
			}
		}
	}
}

func (tx *Tx) maybePrune() error {
	tx.db.mu.Lock()
	tx.db.writes++
	due := tx.db.writes%pruneEvery == 0
	tx.db.mu.Unlock()
	if !due {
		return nil
	}
	_, err := tx.Prune()
	return err
}

// Prune deletes the oldest receipts beyond the retention bounds, and resolved
// findings that were resolved, and change records made, longer ago than the age bound. It returns how many
// receipts it deleted.
func (tx *Tx) Prune() (int, error) {
	ret := tx.db.retention
	runs := tx.bucket(bucketRuns)
	c := runs.Cursor()
	lastKey, _ := c.Last()
	if lastKey == nil {
		return 0, nil
	}
	last := seqFromKey(lastKey)
	cutoff := time.Time{}
	if ret.MaxAge > 0 {
		cutoff = tx.now().Add(-ret.MaxAge)
	}
	var doomed []Receipt
	for k, v := c.First(); k != nil; k, v = c.Next() {
		seq := seqFromKey(k)
		count := int(last - seq + 1)
		tooMany := ret.MaxRuns > 0 && count > ret.MaxRuns
		var r Receipt
		if err := tx.decode(bucketRuns, k, v, &r); err != nil {
			return 0, err
		}
		tooOld := !cutoff.IsZero() && r.Started.Before(cutoff)
		if !tooMany && !tooOld {
			break
		}
		doomed = append(doomed, r)
	}
	for _, r := range doomed {
		if err := runs.Delete(seqKey(r.Seq)); err != nil {
			return 0, err
		}
		if err := tx.bucket(bucketRunsByItem).Delete(indexKey([]byte(r.Item), seqKey(r.Seq))); err != nil {
			return 0, err
		}
	}
	if !cutoff.IsZero() {
		if err := tx.pruneResolved(cutoff); err != nil {
			return 0, err
		}
		if err := tx.pruneChanges(cutoff); err != nil {
			return 0, err
		}
	}
	return len(doomed), nil
}
