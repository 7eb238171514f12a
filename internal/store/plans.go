package store

import (
	"context"
	"fmt"
	"sort"

	"github.com/clankerd/clankerd/tasks"
)

// InsertPlan stores a new plan. A plan with the same id is never replaced: that is
// tasks.ErrPlanExists, and nothing changes.
func (tx *Tx) InsertPlan(p tasks.PlanRecord) error {
	if p.ID != "" && tx.bucket(bucketPlans).Get([]byte(p.ID)) != nil {
		return fmt.Errorf("plan %s: %w; queueing never replaces a plan", p.ID, tasks.ErrPlanExists)
	}
	return tx.PutPlan(p)
}

// PutPlan inserts or updates a plan and keeps the pending-by-item index in step. A
// new pending plan is handed to the database's News in the same transaction.
func (tx *Tx) PutPlan(p tasks.PlanRecord) error {
	if p.ID == "" {
		return fmt.Errorf("plan for %s has no id", p.Task)
	}
	isNew := tx.bucket(bucketPlans).Get([]byte(p.ID)) == nil
	if err := tx.put(bucketPlans, []byte(p.ID), p); err != nil {
		return err
	}
	if isNew && p.State == tasks.PlanPending && tx.db.news != nil {
		if err := tx.db.news.PlanQueued(tx, p); err != nil {
			return fmt.Errorf("queueing the notification of plan %s: %w", p.ID, err)
		}
	}
	if p.Item == "" {
		return nil
	}
	idx := tx.bucket(bucketPlansPending)
	if p.State == tasks.PlanPending {
		return idx.Put([]byte(p.Item), []byte(p.ID))
	}
	if string(idx.Get([]byte(p.Item))) == p.ID {
		return idx.Delete([]byte(p.Item))
	}
	return nil
}

// Plan returns the plan with the id.
func (tx *Tx) Plan(id string) (tasks.PlanRecord, error) {
	var p tasks.PlanRecord
	found, err := tx.get(bucketPlans, []byte(id), &p)
	if err == nil && !found {
		err = fmt.Errorf("plan %q: %w; list plans with `clankerd plans`", id, ErrNotFound)
	}
	return p, err
}

// PendingPlanFor returns the item's pending plan, if it has one that has not expired.
func (tx *Tx) PendingPlanFor(item string) (tasks.PlanRecord, bool, error) {
	id := tx.bucket(bucketPlansPending).Get([]byte(item))
	if id == nil {
		return tasks.PlanRecord{}, false, nil
	}
	p, err := tx.Plan(string(id))
	if err != nil {
		return tasks.PlanRecord{}, false, err
	}
	return p, p.EffectiveState(tx.now()) == tasks.PlanPending, nil
}

// Plans returns the plans matching f, newest first.
func (tx *Tx) Plans(f tasks.PlanFilter) ([]tasks.PlanRecord, error) {
	now := tx.now()
	var out []tasks.PlanRecord
	err := tx.bucket(bucketPlans).ForEach(func(k, v []byte) error {
		var p tasks.PlanRecord
		if err := tx.decode(bucketPlans, k, v, &p); err != nil {
			return err
		}
		if f.Matches(p, now) {
			out = append(out, p)
		}
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

// UpdatePlans runs fn in a read-write transaction, for the plan state machine of
// package tasks.
func (db *DB) UpdatePlans(ctx context.Context, fn func(tasks.Tx) error) error {
	return db.Update(ctx, func(tx *Tx) error { return fn(tx) })
}

var _ tasks.Tx = (*Tx)(nil)
