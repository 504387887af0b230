package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"time"

	"postern/internal/audit"
	"postern/internal/model"
	"postern/internal/webhook/events"
)

// maxDeliveries is how many delivery attempts the store keeps, all
// endpoints together: the newest, for the Webhooks page.
const maxDeliveries = 5000

const endpointColumns = "id, url, event_types, secret, enabled, created_by, created_at, rotated_at"

func scanEndpoint(r scanner) (model.WebhookEndpoint, error) {
	var ep model.WebhookEndpoint
	var types, created, rotated string
	if err := r.Scan(&ep.ID, &ep.URL, &types, &ep.Secret, &ep.Enabled, &ep.CreatedBy, &created, &rotated); err != nil {
		return ep, err
	}
	if err := json.Unmarshal([]byte(types), &ep.EventTypes); err != nil {
		return ep, err
	}
	var err error
	if ep.CreatedAt, err = parseTime(created); err != nil {
		return ep, err
	}
	ep.RotatedAt, err = parseTime(rotated)
	return ep, err
}

// WebhookEndpoints lists every endpoint, oldest first.
func (s *Store) WebhookEndpoints(ctx context.Context) ([]model.WebhookEndpoint, error) {
	return collect(ctx, s.read, "Webhook endpoints", "SELECT "+endpointColumns+" FROM webhook_endpoints ORDER BY created_at, id", nil, scanEndpoint)
}

// WebhookEndpoint returns one endpoint.
func (s *Store) WebhookEndpoint(ctx context.Context, id string) (model.WebhookEndpoint, error) {
	ep, err := scanEndpoint(s.read.QueryRowContext(ctx, "SELECT "+endpointColumns+" FROM webhook_endpoints WHERE id = ?", id))
	return ep, mapErr(err, "Webhook endpoint")
}

// CreateWebhookEndpoint stores a new endpoint with its audit entry.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, ep model.WebhookEndpoint, e audit.Entry) (model.WebhookEndpoint, error) {
	err := s.changeTx(ctx, model.ChangeWebhooks, func(tx *sql.Tx) error {
		now := s.now()
		ep.CreatedAt, ep.RotatedAt = now, now
		types, err := json.Marshal(nonNil(ep.EventTypes))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO webhook_endpoints ("+endpointColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			ep.ID, ep.URL, string(types), ep.Secret, ep.Enabled, ep.CreatedBy, formatTime(now), formatTime(now)); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, e, now)
	})
	return ep, mapErr(err, "Webhook endpoint")
}

// UpdateWebhookEndpoint changes an endpoint with its audit entry: its
// URL, event types, enabled flag or (with a new RotatedAt) its secret.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, id string, change func(*model.WebhookEndpoint), e audit.Entry) (model.WebhookEndpoint, error) {
	var ep model.WebhookEndpoint
	err := s.changeTx(ctx, model.ChangeWebhooks, func(tx *sql.Tx) error {
		var err error
		if ep, err = scanEndpoint(tx.QueryRowContext(ctx, "SELECT "+endpointColumns+" FROM webhook_endpoints WHERE id = ?", id)); err != nil {
			return err
		}
		oldSecret := ep.Secret
		change(&ep)
		now := s.now()
		if ep.Secret != oldSecret {
			ep.RotatedAt = now
		}
		types, err := json.Marshal(nonNil(ep.EventTypes))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE webhook_endpoints SET url = ?, event_types = ?, secret = ?, enabled = ?, rotated_at = ? WHERE id = ?",
			ep.URL, string(types), ep.Secret, ep.Enabled, formatTime(ep.RotatedAt), id); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, e, now)
	})
	return ep, mapErr(err, "Webhook endpoint")
}

// DeleteWebhookEndpoint removes an endpoint, its outbox and deliveries,
// with its audit entry.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, id string, e audit.Entry) error {
	return mapErr(s.changeTx(ctx, model.ChangeWebhooks, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE endpoint_id = ?", id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM webhook_endpoints WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sql.ErrNoRows
		}
		return appendAuditTx(ctx, tx, e, s.now())
	}), "Webhook endpoint")
}

// emitTx writes the events build returns to the outbox of every enabled
// endpoint that wants typ, in tx: the transaction of the change that
// caused them. build is not called when no endpoint wants typ, so a
// change nobody listens to costs one small query. An event id already in
// an endpoint's outbox is not written again.
func (s *Store) emitTx(ctx context.Context, tx *sql.Tx, typ string, build func() []model.WebhookEvent) error {
	targets, err := webhookTargetsTx(ctx, tx, typ)
	if err != nil || len(targets) == 0 {
		return err
	}
	if err := insertOutboxTx(ctx, tx, targets, build(), s.now()); err != nil {
		return err
	}
	return s.notifyTx(ctx, tx, model.ChangeWebhooks)
}

// webhookTargetsTx lists the enabled endpoints that want events of type typ.
func webhookTargetsTx(ctx context.Context, tx *sql.Tx, typ string) ([]string, error) {
	var targets []string
	err := eachRow(ctx, tx, "Webhook endpoints", "SELECT id, event_types FROM webhook_endpoints WHERE enabled ORDER BY id", nil,
		func(r scanner) error {
			var id, types string
			if err := r.Scan(&id, &types); err != nil {
				return err
			}
			var ts []string
			if err := json.Unmarshal([]byte(types), &ts); err != nil {
				return err
			}
			if slices.Contains(ts, typ) {
				targets = append(targets, id)
			}
			return nil
		})
	return targets, err
}

func insertOutboxTx(ctx context.Context, tx *sql.Tx, targets []string, evs []model.WebhookEvent, now time.Time) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO webhook_outbox (event_id, endpoint_id, event_type, body, created_at, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint_id, event_id) DO NOTHING`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, ev := range evs {
		for _, ep := range targets {
			if _, err := stmt.ExecContext(ctx, ev.ID, ep, ev.Type, string(ev.Body), formatTime(now), formatTime(now)); err != nil {
				return err
			}
		}
	}
	return nil
}

// EmitWebhookEvents writes events that no other change carries (data
// turning stale, a credential expiring) to the outbox of every enabled
// endpoint that wants their type. Each event id is written at most once
// per endpoint, ever: webhook_emitted remembers it after the outbox row is
// pruned, so a condition noticed again a week later is not sent again
// (receivers dedupe by id, and the same id must carry the same body).
func (s *Store) EmitWebhookEvents(ctx context.Context, evs []model.WebhookEvent) error {
	return mapErr(s.changeTx(ctx, model.ChangeWebhooks, func(tx *sql.Tx) error {
		now := s.now()
		for _, ev := range evs {
			targets, err := webhookTargetsTx(ctx, tx, ev.Type)
			if err != nil {
				return err
			}
			var first []string
			for _, ep := range targets {
				res, err := tx.ExecContext(ctx, `INSERT INTO webhook_emitted (endpoint_id, event_id, at) VALUES (?, ?, ?)
					ON CONFLICT (endpoint_id, event_id) DO NOTHING`, ep, ev.ID, formatTime(now))
				if err != nil {
					return err
				}
				if n, err := res.RowsAffected(); err != nil {
					return err
				} else if n == 1 {
					first = append(first, ep)
				}
			}
			if err := insertOutboxTx(ctx, tx, first, []model.WebhookEvent{ev}, now); err != nil {
				return err
			}
		}
		return nil
	}), "Webhook events")
}

const outboxColumns = `o.id, o.event_id, o.endpoint_id, o.event_type, o.body, o.created_at, o.attempts, o.next_attempt_at,
	o.status, o.last_code, o.last_latency_ms, o.last_error`

func scanOutbox(r scanner) (model.OutboxItem, error) {
	var it model.OutboxItem
	var body, created, next string
	var latency int64
	if err := r.Scan(&it.ID, &it.EventID, &it.EndpointID, &it.EventType, &body, &created, &it.Attempts, &next,
		&it.Status, &it.LastCode, &latency, &it.LastError); err != nil {
		return it, err
	}
	it.Body, it.LastLatency = []byte(body), time.Duration(latency)*time.Millisecond
	var err error
	if it.CreatedAt, err = parseTime(created); err != nil {
		return it, err
	}
	it.NextAttemptAt, err = parseTime(next)
	return it, err
}

// DueWebhooks returns up to limit pending outbox items of enabled
// endpoints whose next attempt is at or before now, the earliest first.
func (s *Store) DueWebhooks(ctx context.Context, now time.Time, limit int) ([]model.OutboxItem, error) {
	return collect(ctx, s.read, "Webhook outbox", "SELECT "+outboxColumns+` FROM webhook_outbox o
		JOIN webhook_endpoints e ON e.id = o.endpoint_id AND e.enabled
		WHERE o.status = ? AND o.next_attempt_at <= ? ORDER BY o.next_attempt_at, o.id LIMIT ?`,
		[]any{model.OutboxPending, formatTime(now), limit}, scanOutbox)
}

// DueWebhooksPerEndpoint returns, for each enabled endpoint, up to
// perEndpoint of its pending outbox items whose next attempt is at or
// before now, the earliest first: one endpoint's backlog never hides
// another's due events, as one global ordering would.
func (s *Store) DueWebhooksPerEndpoint(ctx context.Context, now time.Time, perEndpoint int) ([]model.OutboxItem, error) {
	ids, err := collect(ctx, s.read, "Webhook endpoints", "SELECT id FROM webhook_endpoints WHERE enabled ORDER BY id", nil,
		func(r scanner) (string, error) {
			var id string
			return id, r.Scan(&id)
		})
	if err != nil {
		return nil, err
	}
	var out []model.OutboxItem
	for _, id := range ids {
		items, err := collect(ctx, s.read, "Webhook outbox", "SELECT "+outboxColumns+` FROM webhook_outbox o
			WHERE o.endpoint_id = ? AND o.status = ? AND o.next_attempt_at <= ? ORDER BY o.next_attempt_at, o.id LIMIT ?`,
			[]any{id, model.OutboxPending, formatTime(now), perEndpoint}, scanOutbox)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

// OutboxItem returns one outbox item.
func (s *Store) OutboxItem(ctx context.Context, id int64) (model.OutboxItem, error) {
	it, err := scanOutbox(s.read.QueryRowContext(ctx, "SELECT "+outboxColumns+" FROM webhook_outbox o WHERE o.id = ?", id))
	return it, mapErr(err, "Webhook event")
}

// RecordWebhookAttempt records one delivery attempt of an outbox item: the
// item is delivered (a.OK), due again at a.Next, or failed for good (a.Next
// zero), and the attempt joins the bounded delivery history.
func (s *Store) RecordWebhookAttempt(ctx context.Context, id int64, a model.WebhookAttempt) error {
	return mapErr(s.withTx(ctx, func(tx *sql.Tx) error {
		status, next, finished := model.OutboxPending, a.Next, any(nil)
		switch {
		case a.OK:
			status, next, finished = model.OutboxDelivered, a.At, formatTime(a.At)
		case a.Next.IsZero():
			status, next, finished = model.OutboxFailed, a.At, formatTime(a.At)
		}
		var it model.OutboxItem
		err := tx.QueryRowContext(ctx, `UPDATE webhook_outbox SET attempts = attempts + 1, status = ?, next_attempt_at = ?,
			last_code = ?, last_latency_ms = ?, last_error = ?, finished_at = ? WHERE id = ?
			RETURNING endpoint_id, event_id, event_type, attempts`,
			status, formatTime(next), a.Code, a.Latency.Milliseconds(), a.Error, finished, id).
			Scan(&it.EndpointID, &it.EventID, &it.EventType, &it.Attempts)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (outbox_id, endpoint_id, event_id, event_type, at,
			attempt, code, latency_ms, error, ok) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, it.EndpointID, it.EventID, it.EventType, formatTime(a.At), it.Attempts, a.Code, a.Latency.Milliseconds(),
			a.Error, a.OK); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM webhook_deliveries WHERE id <= (SELECT MAX(id) FROM webhook_deliveries) - ?", maxDeliveries)
		return err
	}), "Webhook event")
}

// WebhookDeliveries returns an endpoint's newest delivery attempts.
func (s *Store) WebhookDeliveries(ctx context.Context, endpointID string, limit int) ([]model.WebhookDelivery, error) {
	return collect(ctx, s.read, "Webhook deliveries", `SELECT d.id, d.outbox_id, d.endpoint_id, d.event_id, d.event_type, d.at,
		d.attempt, d.code, d.latency_ms, d.error, d.ok, COALESCE(o.status, '') FROM webhook_deliveries d
		LEFT JOIN webhook_outbox o ON o.id = d.outbox_id WHERE d.endpoint_id = ? ORDER BY d.id DESC LIMIT ?`,
		[]any{endpointID, limit}, func(r scanner) (model.WebhookDelivery, error) {
			var d model.WebhookDelivery
			var at string
			var latency int64
			if err := r.Scan(&d.ID, &d.OutboxID, &d.EndpointID, &d.EventID, &d.EventType, &at, &d.Attempt, &d.Code,
				&latency, &d.Error, &d.OK, &d.Status); err != nil {
				return d, err
			}
			d.Latency = time.Duration(latency) * time.Millisecond
			var err error
			d.At, err = parseTime(at)
			return d, err
		})
}

// PendingWebhooks counts an endpoint's outbox items still to deliver.
func (s *Store) PendingWebhooks(ctx context.Context, endpointID string) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM webhook_outbox WHERE endpoint_id = ? AND status = ?",
		endpointID, model.OutboxPending).Scan(&n)
	return n, mapErr(err, "Webhook outbox")
}

// WebhookBacklog counts the outbox items of enabled endpoints still to
// deliver (those of a disabled endpoint wait for it and are not counted)
// and finds when the oldest was written or redelivered.
func (s *Store) WebhookBacklog(ctx context.Context) (model.WebhookBacklog, error) {
	var b model.WebhookBacklog
	var oldest sql.NullString
	err := s.read.QueryRowContext(ctx, `SELECT COUNT(*), MIN(o.created_at) FROM webhook_outbox o
		JOIN webhook_endpoints e ON e.id = o.endpoint_id AND e.enabled WHERE o.status = ?`, model.OutboxPending).
		Scan(&b.Pending, &oldest)
	if err == nil && oldest.Valid {
		b.Oldest, err = parseTime(oldest.String)
	}
	return b, mapErr(err, "Webhook outbox")
}

// RedeliverWebhook makes an outbox item of endpointID due now again, with
// its retries renewed, keeping its event id and body; with its audit entry.
func (s *Store) RedeliverWebhook(ctx context.Context, endpointID string, id int64, e audit.Entry) (model.OutboxItem, error) {
	var it model.OutboxItem
	err := s.changeTx(ctx, model.ChangeWebhooks, func(tx *sql.Tx) error {
		now := s.now()
		res, err := tx.ExecContext(ctx, `UPDATE webhook_outbox SET status = ?, attempts = 0, next_attempt_at = ?, created_at = ?,
			finished_at = NULL WHERE id = ? AND endpoint_id = ?`, model.OutboxPending, formatTime(now), formatTime(now), id, endpointID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sql.ErrNoRows
		}
		if it, err = scanOutbox(tx.QueryRowContext(ctx, "SELECT "+outboxColumns+" FROM webhook_outbox o WHERE o.id = ?", id)); err != nil {
			return err
		}
		e.Detail = "event " + it.EventID + " (" + it.EventType + ")"
		return appendAuditTx(ctx, tx, e, now)
	})
	return it, mapErr(err, "Webhook event")
}

// PruneWebhookOutbox deletes delivered and failed outbox items finished
// before before, with their deliveries, and returns how many.
func (s *Store) PruneWebhookOutbox(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM webhook_outbox WHERE status != ? AND finished_at < ?", model.OutboxPending, formatTime(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), mapErr(err, "Webhook outbox")
}

// emitRunTx writes sync.failed or sync.held for a finished run.
func (s *Store) emitRunTx(ctx context.Context, tx *sql.Tx, run model.SyncRun, now time.Time) error {
	typ := events.SyncFailed
	if run.Held() {
		typ = events.SyncHeld
	} else if run.Outcome != model.RunFailed {
		return nil
	}
	return s.emitTx(ctx, tx, typ, func() []model.WebhookEvent { return events.RunEvents(run, now) })
}

// emitCheckTx writes posture_check.changed for a check saved.
func (s *Store) emitCheckTx(ctx context.Context, tx *sql.Tx, c model.PostureCheck, created bool, by string, now time.Time) error {
	change := "updated"
	if created {
		change = "created"
	}
	return s.emitTx(ctx, tx, events.PostureCheckChanged, func() []model.WebhookEvent {
		return []model.WebhookEvent{events.CheckEvent(c, change, by, now)}
	})
}
