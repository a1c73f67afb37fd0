package auth_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/keygate/keygate/auth"
)

func TestTokens_JWKS(t *testing.T) {
	clk := &testClock{t: t0}
	cur, old, older := fixedKey(t, "cur", 1), fixedKey(t, "old", 2), fixedKey(t, "older", 3)
	tests := []struct {
		name   string
		tok    *auth.Tokens
		want   []auth.SigningKey // nil: want ok false
		secret [][]byte          // must not appear in the document
	}{
		{"HS256 publishes nothing", newTokens(t, clk), nil, nil},
		{"one key", newEdTokens(t, clk, cur), []auth.SigningKey{cur}, [][]byte{cur.Seed(), cur.Private}},
		{"rotated: signing key first, then Keys order", newEdTokens(t, clk, cur, verifyOnly(old), older),
			[]auth.SigningKey{cur, old, older}, [][]byte{cur.Seed(), cur.Private, older.Seed(), older.Private}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, ok := tc.tok.JWKS()
			if ok != (tc.want != nil) || len(set.Keys) != len(tc.want) {
				t.Fatalf("JWKS = %+v, %v; want %d keys, ok %v", set, ok, len(tc.want), tc.want != nil)
			}
			for i, k := range tc.want {
				checkJWK(t, set.Keys[i], k)
			}
			doc, err := json.Marshal(set)
			if err != nil {
				t.Fatal(err)
			}
			checkPublicOnly(t, doc, tc.secret)
			if ok {
				set.Keys[0].Kid = "changed"
				if again, _ := tc.tok.JWKS(); again.Keys[0].Kid != tc.want[0].ID {
					t.Error("changing a returned set changed the next one")
				}
			}
		})
	}
}

// checkJWK checks that j is the public JWK of k.
func checkJWK(t *testing.T, j auth.JWK, k auth.SigningKey) {
	t.Helper()
	want := auth.JWK{Kty: "OKP", Crv: "Ed25519", Kid: k.ID, Alg: "EdDSA", Use: "sig", X: j.X}
	if j != want {
		t.Errorf("JWK = %+v, want %+v", j, want)
	}
	x, err := base64.RawURLEncoding.DecodeString(j.X)
	if err != nil || !bytes.Equal(x, k.Public) {
		t.Errorf("JWK %q: x decodes to %x, %v; want the public key %x", k.ID, x, err, []byte(k.Public))
	}
}

// checkPublicOnly checks that the JSON document doc has only the members of
// a public OKP key and contains none of secrets in any usual encoding.
func checkPublicOnly(t *testing.T, doc []byte, secrets [][]byte) {
	t.Helper()
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		t.Fatalf("unmarshal %s: %v", doc, err)
	}
	for _, k := range raw.Keys {
		for name := range k {
			if !strings.Contains(" kty crv x kid alg use ", " "+name+" ") {
				t.Errorf("JWK has member %q", name)
			}
		}
	}
	for _, s := range secrets {
		for _, enc := range []string{
			base64.RawURLEncoding.EncodeToString(s), base64.URLEncoding.EncodeToString(s),
			base64.RawStdEncoding.EncodeToString(s), base64.StdEncoding.EncodeToString(s),
			hex.EncodeToString(s), strings.ToUpper(hex.EncodeToString(s)),
		} {
			if bytes.Contains(doc, []byte(enc)) {
				t.Errorf("document %s contains private material %s", doc, enc)
			}
		}
	}
}

// downstream is a service that trusts keygate's JWKS document and nothing
// else: it builds its keys from the JSON and verifies with plain golang-jwt.
type downstream struct {
	keys   map[string]ed25519.PublicKey
	parser *jwt.Parser
}

func newDownstream(t *testing.T, doc []byte, now func() time.Time) *downstream {
	t.Helper()
	var set struct {
		Keys []struct {
			Kty, Crv, X, Kid, Alg, Use string
		} `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("unmarshal JWKS: %v", err)
	}
	d := &downstream{keys: map[string]ed25519.PublicKey{}, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer(testIssuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(now),
	)}
	for _, k := range set.Keys {
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" || err != nil || len(x) != ed25519.PublicKeySize {
			t.Fatalf("unusable JWK %+v (x: %v)", k, err)
		}
		d.keys[k.Kid] = ed25519.PublicKey(x)
	}
	return d
}

func (d *downstream) verify(token string) error {
	_, err := d.parser.Parse(token, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := d.keys[kid]; ok {
			return k, nil
		}
		return nil, errors.New("unknown kid")
	})
	return err
}

func TestJWKS_DownstreamVerifier(t *testing.T) {
	clk := &testClock{t: t0}
	cur, old := fixedKey(t, "cur", 1), fixedKey(t, "old", 2)
	tok := newEdTokens(t, clk, cur, verifyOnly(old))
	set, _ := tok.JWKS()
	doc, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	d := newDownstream(t, doc, clk.Now)
	valid := claimsAt(auth.AccessToken)
	tests := []struct {
		name   string
		token  string
		wantOK bool
	}{
		{"other key, known kid", signKID(t, jwt.SigningMethodEdDSA, fixedKey(t, "cur", 9).Private, "cur", valid), false},
		{"other key, unknown kid", signKID(t, jwt.SigningMethodEdDSA, fixedKey(t, "x", 9).Private, "x", valid), false},
		{"HS256 with the public key", signKID(t, jwt.SigningMethodHS256, []byte(cur.Public), "cur", valid), false},
		{"keygate access token", issue(t, tok, auth.AccessToken), true},
		{"keygate refresh token", issue(t, tok, auth.RefreshToken), true},
		{"keygate token from the old key", issue(t, newEdTokens(t, clk, old), auth.AccessToken), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := d.verify(tc.token); (err == nil) != tc.wantOK {
				t.Fatalf("downstream verify = %v, want ok %v", err, tc.wantOK)
			}
		})
	}
}
