package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// eventIDPrefix starts every event id.
const eventIDPrefix = "evt_"

// defaultEventLimit is the page size Events uses for limit <= 0.
const defaultEventLimit = 50

// Event is one entry of the audit log. The zero value is not a valid event.
type Event struct {
	ID       string    // assigned by AppendEvent: "evt_" + 16 lower-case hex digits of a sequence, so ids sort by age
	Time     time.Time // when it happened; stored in UTC
	ActorID  string    // user id of who did it; "" for anonymous (e.g. a failed login)
	Action   string    // what happened, e.g. "user.registered", "user.login_failed", "key.created"
	TargetID string    // the user, key or session acted on; may be ""
	IP       string    // client address, for display; may be ""
}

// eventRecord is the JSON encoding of an Event in the audit bucket. The id is
// not stored: it is derived from the bucket key.
type eventRecord struct {
	Time     time.Time `json:"time"`
	ActorID  string    `json:"actor_id,omitempty"`
	Action   string    `json:"action"`
	TargetID string    `json:"target_id,omitempty"`
	IP       string    `json:"ip,omitempty"`
}

func eventToRecord(e Event) eventRecord {
	return eventRecord{Time: utc(e.Time), ActorID: e.ActorID, Action: e.Action, TargetID: e.TargetID, IP: e.IP}
}

func (r eventRecord) event(seq uint64) Event {
	return Event{ID: eventID(seq), Time: r.Time, ActorID: r.ActorID, Action: r.Action, TargetID: r.TargetID, IP: r.IP}
}

// eventID formats the id of the event stored under sequence seq.
func eventID(seq uint64) string {
	return fmt.Sprintf("%s%016x", eventIDPrefix, seq)
}

// parseEventID returns the sequence in an id made by eventID, or ErrInvalid.
// It accepts exactly the ids eventID makes, so each event has one id.
func parseEventID(id string) (uint64, error) {
	hex, ok := strings.CutPrefix(id, eventIDPrefix)
	if ok && len(hex) == 16 {
		if seq, err := strconv.ParseUint(hex, 16, 64); err == nil && eventID(seq) == id {
			return seq, nil
		}
	}
	return 0, fmt.Errorf("%w: event id %q", ErrInvalid, id)
}

// AppendEvent stores e with a new ID and returns it with the ID set. It
// returns ErrInvalid for an event without an action or time.
func (db *DB) AppendEvent(ctx context.Context, e Event) (Event, error) {
	out, err := db.AppendEvents(ctx, e)
	if err != nil {
		return Event{}, err
	}
	return out[0], nil
}

// AppendEvents stores events, in order, in one transaction, and returns
// them with their new IDs. It commits at once rather than through
// db.Batch: Batch would make every lone event wait out its batching delay,
// and events come one or a few per request. Safe for concurrent use.
func (db *DB) AppendEvents(ctx context.Context, events ...Event) ([]Event, error) {
	records := make([][]byte, len(events))
	for i, e := range events {
		if e.Action == "" {
			return nil, fmt.Errorf("%w: empty event action", ErrInvalid)
		}
		if e.Time.IsZero() {
			return nil, fmt.Errorf("%w: zero event time", ErrInvalid)
		}
		data, err := json.Marshal(eventToRecord(e))
		if err != nil {
			return nil, fmt.Errorf("storage: encode event: %w", err)
		}
		records[i] = data
	}
	seqs := make([]uint64, len(events))
	err := db.update(ctx, func(tx *bolt.Tx) error {
		audit := tx.Bucket(bucketAudit)
		for i, data := range records {
			next, err := audit.NextSequence()
			if err != nil {
				return err
			}
			seqs[i] = next
			if err := audit.Put(encodeUint(next), data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: append events: %w", err)
	}
	out := make([]Event, len(events))
	for i, e := range events {
		out[i] = eventToRecord(e).event(seqs[i])
	}
	return out, nil
}

// Events returns up to limit events, newest first (by id), strictly older
// than the event whose id is before; "" starts from the newest. before need
// not exist any more (it may have been pruned), but it must be an id as
// AppendEvent makes them, or Events returns ErrInvalid. limit <= 0 means 50.
// Passing the last id of one page as the next before visits every event
// once. It returns an empty slice past the end. Safe for concurrent use.
func (db *DB) Events(ctx context.Context, before string, limit int) ([]Event, error) {
	var start []byte // nil: from the newest
	if before != "" {
		seq, err := parseEventID(before)
		if err != nil {
			return nil, err
		}
		start = encodeUint(seq)
	}
	if limit <= 0 {
		limit = defaultEventLimit
	}
	events := []Event{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := seekBefore(c, start); k != nil && len(events) < limit; k, v = c.Prev() {
			e, err := decodeEvent(k, v)
			if err != nil {
				return err
			}
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}

// seekBefore positions c on the largest key below start (the last key if
// start is nil) and returns it, or nil if there is none.
func seekBefore(c *bolt.Cursor, start []byte) (k, v []byte) {
	if start == nil {
		return c.Last()
	}
	if k, _ := c.Seek(start); k == nil {
		return c.Last() // every key is below start
	}
	return c.Prev()
}

// decodeEvent decodes the event stored under key k with value v.
func decodeEvent(k, v []byte) (Event, error) {
	seq, ok := decodeUint(k)
	if !ok {
		return Event{}, fmt.Errorf("storage: malformed audit key %x", k)
	}
	var r eventRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return Event{}, fmt.Errorf("storage: decode event %s: %w", eventID(seq), err)
	}
	return r.event(seq), nil
}

// PruneEvents deletes every event but the newest keep (keep <= 0: no count
// limit) and every event whose Time is before olderThan (zero: no age limit),
// in one write transaction, and returns how many it deleted. With neither
// limit it deletes nothing and starts no transaction. It reads every event,
// so call it from a periodic job, not per request. Safe for concurrent use.
func (db *DB) PruneEvents(ctx context.Context, keep int, olderThan time.Time) (int, error) {
	if keep <= 0 && olderThan.IsZero() {
		return 0, ctx.Err()
	}
	n := 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		audit := tx.Bucket(bucketAudit)
		doomed, err := eventsToPrune(audit, keep, olderThan)
		if err != nil {
			return err
		}
		// Deleting after the scan, not during it, keeps the cursor valid.
		for _, k := range doomed {
			if err := audit.Delete(k); err != nil {
				return err
			}
		}
		n = len(doomed)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// eventsToPrune returns copies of the keys of the events PruneEvents deletes:
// those after the newest keep (keep > 0) and those older than olderThan
// (non-zero). Times need not grow with ids (clocks step), so every event is
// checked for age.
func eventsToPrune(audit *bolt.Bucket, keep int, olderThan time.Time) ([][]byte, error) {
	var doomed [][]byte
	c := audit.Cursor()
	i := 0
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		prune := keep > 0 && i >= keep
		i++
		if !prune && !olderThan.IsZero() {
			e, err := decodeEvent(k, v)
			if err != nil {
				return nil, err
			}
			prune = e.Time.Before(olderThan)
		}
		if prune {
			doomed = append(doomed, cloneBytes(k))
		}
	}
	return doomed, nil
}
