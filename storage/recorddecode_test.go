package storage

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

var decodeT0 = time.Date(2026, 11, 26, 18, 46, 25, 123456789, time.UTC)

func marshalled(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// keyRecordSeeds are stored keys as json.Marshal writes them, and inputs
// the hand decoder must leave to encoding/json.
func keyRecordSeeds(t testing.TB) []string {
	k := APIKey{ID: "key_1", UserID: "usr_1", Name: "laptop", Prefix: "kg_live_abcd", Tier: "basic",
		Hash: [32]byte{1, 2, 3, 255}, Lineage: "key_1", CreatedAt: decodeT0}
	full := k
	full.Name, full.Replaces, full.ReplacedBy = `<"ünïcødé" & \ 	tab>`, "key_0", "key_2"
	full.ExpiresAt, full.RevokedAt, full.LastUsedAt = decodeT0.Add(time.Hour), decodeT0.Add(time.Minute), decodeT0.Add(time.Second)
	plain := marshalled(t, keyToRecord(k))
	return []string{
		plain,
		marshalled(t, keyToRecord(full)),
		"  \n" + plain + "\t ",
		strings.Replace(plain, `"name":"laptop"`, `"name":"ünï"`, 1),
		strings.Replace(plain, `"name":"laptop"`, `"name":"\u00e9"`, 1),
		strings.Replace(plain, `"name":"laptop"`, "\"name\":\"a\xffb\"", 1),
		strings.Replace(plain, `"name":"laptop"`, "\"name\":\"a\x01b\"", 1),
		strings.Replace(plain, `"name":"laptop"`, `"name":null`, 1),
		strings.Replace(plain, `"name":"laptop"`, `"NAME":"laptop"`, 1),
		strings.Replace(plain, `"name":"laptop"`, `"nickname":"laptop"`, 1),
		strings.Replace(plain, `"name":"laptop"`, `"name":"laptop","name":"desk"`, 1),
		strings.Replace(plain, `"name":"laptop"`, `"name" : "laptop" `, 1),
		strings.Replace(plain, `"name":"laptop"`, `"name":7`, 1),
		strings.Replace(plain, `"hash":"`, `"hash":"*`, 1),
		strings.Replace(plain, `"hash":"`, `"hash":null,"x":"`, 1),
		strings.Replace(plain, `"hash":"`, `"hash":"","x":"`, 1),
		strings.Replace(plain, `"created_at":"2026`, `"created_at":"1999`, 1),
		strings.Replace(plain, `"created_at":"2026`, `"created_at":"20x6`, 1),
		strings.Replace(plain, `"created_at":"2026`, `"created_at":null,"y":"`, 1),
		strings.Replace(plain, `Z"`, `+02:00"`, 1),
		plain[:len(plain)-1],
		plain + "x",
		plain + "}",
		`{}`, ` { } `, `{,}`, `{"id"}`, `{"id":}`, `{"id":"a",}`, `null`, ``, `[]`, `"x"`, `{"id":"a"`,
	}
}

func userRecordSeeds(t testing.TB) []string {
	u := User{ID: "usr_1", Email: "a@example.com", PasswordHash: []byte("$2a$04$abcdefghijklmnopqrstuv"),
		Role: "user", Tiers: []string{"basic", "pro"}, CreatedAt: decodeT0}
	plain := marshalled(t, userToRecord(u))
	noTiers := u
	noTiers.Tiers, noTiers.PasswordHash, noTiers.Disabled = nil, nil, true
	return []string{
		plain,
		marshalled(t, userToRecord(noTiers)),
		strings.Replace(plain, `["basic","pro"]`, `[]`, 1),
		strings.Replace(plain, `["basic","pro"]`, ` [ "basic" , "pro" ] `, 1),
		strings.Replace(plain, `["basic","pro"]`, `null`, 1),
		strings.Replace(plain, `["basic","pro"]`, `["basic",]`, 1),
		strings.Replace(plain, `["basic","pro"]`, `["basic" "pro"]`, 1),
		strings.Replace(plain, `["basic","pro"]`, `["basic",null]`, 1),
		strings.Replace(plain, `["basic","pro"]`, `"basic"`, 1),
		strings.Replace(plain, `"role":"user"`, `"role":"user","disabled":false`, 1),
		strings.Replace(plain, `"role":"user"`, `"role":"user","disabled":true`, 1),
		strings.Replace(plain, `"role":"user"`, `"role":"user","disabled":truex`, 1),
		strings.Replace(plain, `"role":"user"`, `"role":"user","disabled":"true"`, 1),
		strings.Replace(plain, `"role":"user"`, `"role":"user","disabled":null`, 1),
		strings.Replace(plain, `"email":"a@example.com"`, `"email":"a\u0040example.com"`, 1),
	}
}

// check decodes data with decode and with json.Unmarshal and fails the
// test unless both give the same record and either both or neither fail.
func check[R any](t testing.TB, data string, decode func([]byte, *R) error) {
	t.Helper()
	var got, want R
	gotErr := decode([]byte(data), &got)
	wantErr := json.Unmarshal([]byte(data), &want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: error %v, encoding/json's %v", data, gotErr, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ndecoded %+v\nencoding/json %+v", data, got, want)
	}
}

func TestDecodeRecords_AgreeWithEncodingJSON(t *testing.T) {
	for _, data := range keyRecordSeeds(t) {
		check(t, data, decodeKeyRecord)
	}
	for _, data := range userRecordSeeds(t) {
		check(t, data, decodeUserRecord)
	}
}

// What this package writes takes the hand decoder's fast path, unless a
// string needs an escape.
func TestDecodeRecords_StoredShapeIsFast(t *testing.T) {
	keys, users := keyRecordSeeds(t), userRecordSeeds(t)
	for _, data := range []string{keys[0], keys[2], keys[3]} {
		if !fastKeyRecord([]byte(data), new(keyRecord)) {
			t.Errorf("key record %s left to encoding/json", data)
		}
	}
	for _, data := range users[:2] {
		if !fastUserRecord([]byte(data), new(userRecord)) {
			t.Errorf("user record %s left to encoding/json", data)
		}
	}
}

func FuzzDecodeKeyRecord(f *testing.F) {
	for _, s := range keyRecordSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) { check(t, data, decodeKeyRecord) })
}

func FuzzDecodeUserRecord(f *testing.F) {
	for _, s := range userRecordSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) { check(t, data, decodeUserRecord) })
}

func BenchmarkDecodeKeyRecord(b *testing.B) {
	data := []byte(keyRecordSeeds(b)[0])
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r keyRecord
			if err := decodeKeyRecord(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r keyRecord
			if err := json.Unmarshal(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
