package storage

import (
	"encoding/base64"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Records on the read path of every request (a user, a user's keys) are
// decoded by hand: encoding/json spends most of its time there on
// reflection and allocations. The hand decoder knows only the shape that
// json.Marshal gives those records, with fields in any order; on anything
// else (an escape in a string, an unknown field, a null, a syntax error)
// it gives up and the record goes to json.Unmarshal, so what is decoded,
// and every error, stays encoding/json's. The tests check both agree.

// decodeKeyRecord decodes data into r as json.Unmarshal would. r must be
// the zero keyRecord.
func decodeKeyRecord(data []byte, r *keyRecord) error {
	if fastKeyRecord(data, r) {
		return nil
	}
	// A record of its own, so that r does not escape to the heap (only
	// what json.Unmarshal is given does).
	var slow keyRecord
	err := json.Unmarshal(data, &slow)
	*r = slow
	return err
}

// decodeUserRecord decodes data into r as json.Unmarshal would. r must be
// the zero userRecord.
func decodeUserRecord(data []byte, r *userRecord) error {
	if fastUserRecord(data, r) {
		return nil
	}
	var slow userRecord // as in decodeKeyRecord
	err := json.Unmarshal(data, &slow)
	*r = slow
	return err
}

func fastKeyRecord(data []byte, r *keyRecord) bool {
	d := recordReader{data: data}
	for name := d.field(); name != nil; name = d.field() {
		switch string(name) {
		case "id":
			r.ID = d.str()
		case "user_id":
			r.UserID = d.str()
		case "name":
			r.Name = d.str()
		case "prefix":
			r.Prefix = d.str()
		case "tier":
			r.Tier = d.str()
		case "hash":
			r.Hash = d.bytes()
		case "lineage":
			r.Lineage = d.str()
		case "replaces":
			r.Replaces = d.str()
		case "replaced_by":
			r.ReplacedBy = d.str()
		case "created_at":
			r.CreatedAt = d.time()
		case "expires_at":
			r.ExpiresAt = d.time()
		case "revoked_at":
			r.RevokedAt = d.time()
		case "last_used_at":
			r.LastUsedAt = d.time()
		default:
			return false
		}
	}
	return d.done()
}

func fastUserRecord(data []byte, r *userRecord) bool {
	d := recordReader{data: data}
	for name := d.field(); name != nil; name = d.field() {
		switch string(name) {
		case "id":
			r.ID = d.str()
		case "email":
			r.Email = d.str()
		case "password_hash":
			r.PasswordHash = d.bytes()
		case "role":
			r.Role = d.str()
		case "tiers":
			r.Tiers = d.strs()
		case "disabled":
			r.Disabled = d.bool()
		case "created_at":
			r.CreatedAt = d.time()
		default:
			return false
		}
	}
	return d.done()
}

// recordReader reads one JSON object of plain values. Once bad, it stays
// bad and every read returns a zero value.
type recordReader struct {
	data   []byte
	text   string // data as a string, made on first use: every string read shares it
	pos    int
	opened bool // the '{' was read
	closed bool // the '}' was read
	bad    bool
}

// field reads the next field name and its colon. It returns nil at the end
// of the object or when the reader is bad.
func (d *recordReader) field() []byte {
	if d.bad || d.closed {
		return nil
	}
	if !d.opened {
		d.opened = true
		if !d.consume('{') {
			d.bad = true
			return nil
		}
		if d.consume('}') {
			d.closed = true
			return nil
		}
	} else if d.consume('}') {
		d.closed = true
		return nil
	} else if !d.consume(',') {
		d.bad = true
		return nil
	}
	name := d.plainString()
	if name == nil || !d.consume(':') {
		d.bad = true
		return nil
	}
	return name[1 : len(name)-1]
}

// done reports whether the whole object, and nothing after it, was read.
func (d *recordReader) done() bool {
	d.skipSpace()
	return !d.bad && d.closed && d.pos == len(d.data)
}

func (d *recordReader) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// consume reads c, after white space, if it comes next.
func (d *recordReader) consume(c byte) bool {
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// plainString reads a string of valid UTF-8 with no escapes and no control
// characters, which decodes to its own bytes, and returns it with its
// quotes; nil (and the reader is not moved) for anything else.
func (d *recordReader) plainString() []byte {
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil
	}
	ascii := true
	for i := d.pos + 1; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			s := d.data[d.pos : i+1]
			if !ascii && !utf8.Valid(s) {
				return nil
			}
			d.pos = i + 1
			return s
		case c == '\\' || c < ' ':
			return nil
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil
}

// quoted reads a plain string and returns it with its quotes, or marks the
// reader bad.
func (d *recordReader) quoted() []byte {
	if d.bad {
		return nil
	}
	s := d.plainString()
	if s == nil {
		d.bad = true
	}
	return s
}

// str reads a plain string. It allocates once per record, not per string.
func (d *recordReader) str() string {
	s := d.quoted()
	if s == nil {
		return ""
	}
	if d.text == "" {
		d.text = string(d.data)
	}
	end := d.pos - 1 // the closing quote, just read
	return d.text[end-(len(s)-2) : end]
}

// time reads a time as encoding/json does, with time.Time's UnmarshalJSON.
func (d *recordReader) time() time.Time {
	var t time.Time
	if s := d.quoted(); s != nil && t.UnmarshalJSON(s) != nil {
		d.bad = true
	}
	return t
}

// bytes reads a []byte as encoding/json does: standard base64, or null
// for nil.
func (d *recordReader) bytes() []byte {
	if d.null() {
		return nil
	}
	s := d.quoted()
	if s == nil {
		return nil
	}
	s = s[1 : len(s)-1]
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, s)
	if err != nil {
		d.bad = true
		return nil
	}
	return b[:n]
}

// null reads a null if one comes next.
func (d *recordReader) null() bool {
	d.skipSpace()
	if !d.bad && len(d.data)-d.pos >= 4 && string(d.data[d.pos:d.pos+4]) == "null" {
		d.pos += 4
		return true
	}
	return false
}

func (d *recordReader) bool() bool {
	d.skipSpace()
	rest := d.data[d.pos:]
	switch {
	case d.bad:
	case len(rest) >= 4 && string(rest[:4]) == "true":
		d.pos += 4
		return true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		d.pos += 5
	default:
		d.bad = true
	}
	return false
}

// strs reads an array of plain strings, or null for nil; [] gives an
// empty, non-nil slice, as encoding/json does.
func (d *recordReader) strs() []string {
	if d.null() {
		return nil
	}
	if d.bad || !d.consume('[') {
		d.bad = true
		return nil
	}
	out := []string{}
	if d.consume(']') {
		return out
	}
	for {
		out = append(out, d.str())
		if d.bad {
			return nil
		}
		if d.consume(']') {
			return out
		}
		if !d.consume(',') {
			d.bad = true
			return nil
		}
	}
}
