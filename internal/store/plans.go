package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/clankerd/clankerd/checks"
)

// PlanFilter selects plans. Zero fields do not filter.
type PlanFilter struct {
	// States are matched against each plan's EffectiveState.
	States []PlanState `json:"states,omitempty"`
	Task   string      `json:"task,omitempty"`
}

// PlanDigest hashes what a plan changes and what it saw: task, parameters, target,
// observed state and change. An approval is for exactly this digest.
func PlanDigest(p checks.Plan) string {
	data, _ := json.Marshal(struct {
		Task     string            `json:"task"`
		Identity string            `json:"identity"`
		Params   map[string]string `json:"params"`
		Target   string            `json:"target"`
		Observed map[string]string `json:"observed"`
		Change   string            `json:"change"`
	}{p.Task, p.Params.Identity(), p.Params.Values(), p.Target, p.Observed, p.Change})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// PutPlan inserts or updates a plan and keeps the pending-by-item index in step. A
// new pending plan queues a notification event in the same transaction.
func (tx *Tx) PutPlan(p PlanRecord) error {
	if p.ID == "" {
		return fmt.Errorf("plan for %s has no id", p.Task)
	}
	isNew := tx.bucket(bucketPlans).Get([]byte(p.ID)) == nil
	if err := tx.put(bucketPlans, []byte(p.ID), p); err != nil {
		return err
	}
	if isNew && p.State == PlanPending {
		if err := tx.enqueuePlanEvent(p); err != nil {
			return fmt.Errorf("queueing the notification of plan %s: %w", p.ID, err)
		}
	}
	if p.Item == "" {
		return nil
	}
	idx := tx.bucket(bucketPlansPending)
	if p.State == PlanPending {
		return idx.Put([]byte(p.Item), []byte(p.ID))
	}
	if string(idx.Get([]byte(p.Item))) == p.ID {
		return idx.Delete([]byte(p.Item))
	}
	return nil
}

// Plan returns the plan with the id.
func (tx *Tx) Plan(id string) (PlanRecord, error) {
	var p PlanRecord
	found, err := tx.get(bucketPlans, []byte(id), &p)
	if err == nil && !found {
		err = fmt.Errorf("plan %q: %w; list plans with `clankerd plans`", id, ErrNotFound)
	}
	return p, err
}

// PendingPlanFor returns the item's pending plan, if it has one that has not expired.
func (tx *Tx) PendingPlanFor(item string) (PlanRecord, bool, error) {
	id := tx.bucket(bucketPlansPending).Get([]byte(item))
	if id == nil {
		return PlanRecord{}, false, nil
	}
	p, err := tx.Plan(string(id))
	if err != nil {
		return PlanRecord{}, false, err
	}
	return p, p.EffectiveState(tx.now()) == PlanPending, nil
}

// Plans returns the plans matching f, newest first.
func (tx *Tx) Plans(f PlanFilter) ([]PlanRecord, error) {
	now := tx.now()
	var out []PlanRecord
	err := tx.bucket(bucketPlans).ForEach(func(k, _ []byte) error {
		var p PlanRecord
		if _, err := tx.get(bucketPlans, k, &p); err != nil {
			return err
		}
		if f.Task != "" && p.Task != f.Task {
			return nil
		}
		if len(f.States) > 0 {
			state, ok := p.EffectiveState(now), false
			for _, s := range f.States {
				ok = ok || s == state
			}
			if !ok {
				return nil
			}
		}
		out = append(out, p)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}
