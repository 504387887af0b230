package policy

import (
	"context"
	"slices"
)

// Several replicas on one database each hold an Engine: every one computes
// verdicts and counts for its own answers and pages, and only the sync
// leader records the changes (posture history, webhook events, the
// recorded verdicts), so that each change is recorded once.

// Follow makes e one of several replicas: from now on it records nothing
// unless it leads (Lead). Call it before Run.
func (e *Engine) Follow() {
	e.mu.Lock()
	e.replicated = true
	e.mu.Unlock()
}

// Lead records the verdict changes under ctx, the sync leader's (its
// writes carry the leader's fence), until ctx ends. Like a start, the
// first pass compares with the verdicts last recorded, by whichever
// replica recorded them, and files the causes still pending, whichever
// replica named them. It returns when ctx ends.
func (e *Engine) Lead(ctx context.Context) {
	e.mu.Lock()
	e.lead, e.restored, e.last, e.pending, e.saved = ctx, false, nil, nil, saved{}
	e.mu.Unlock()
	e.Recompute()
	<-ctx.Done()
	e.mu.Lock()
	e.lead = nil
	e.mu.Unlock()
}

// recorder returns the context a refresh records under, and whether it
// records at all: always on a single Postern, only while leading among
// replicas.
func (e *Engine) recorder(ctx context.Context) (context.Context, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.replicated {
		return ctx, true
	}
	return e.lead, e.lead != nil
}

// pendingElsewhere adds to named the causes other replicas kept in the
// database (an admin edited a check on a follower) that named does not
// hold yet.
func (e *Engine) pendingElsewhere(ctx context.Context, named []pending) ([]pending, error) {
	bs, ok := e.store.(BaselineStore)
	if !ok {
		return named, nil
	}
	kept, err := bs.PendingCauses(ctx)
	if err != nil {
		return named, err
	}
	for _, p := range kept {
		if !slices.ContainsFunc(named, func(n pending) bool { return n.id == p.ID }) {
			named = append(named, pending{Cause: p.Cause, checkID: p.CheckID, deviceID: p.DeviceID, id: p.ID})
		}
	}
	return named, nil
}
