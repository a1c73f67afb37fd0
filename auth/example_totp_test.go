package auth_test

import (
	"fmt"
	"time"

	"github.com/keygate/keygate/auth"
)

func ExampleTOTPCode() {
	secret := []byte("12345678901234567890") // RFC 6238's test secret
	at := time.Unix(1111111111, 0)
	code := auth.TOTPCode(secret, at)
	fmt.Println(code)

	// A user types it with a space, 20 seconds later: still the same step.
	_, typed, _ := auth.ParseCode(code[:3] + " " + code[3:])
	step, ok := auth.MatchTOTP(secret, typed, at.Add(20*time.Second))
	fmt.Println(step, ok)
	// Output:
	// 050471
	// 37037037 true
}

func ExampleParseCode() {
	for _, in := range []string{"123 456", "ABCD-EFGH-IJKL-MNOP-QRST-UVWX", "12345"} {
		kind, code, err := auth.ParseCode(in)
		fmt.Println(kind == auth.CodeTOTP, kind == auth.CodeRecovery, code, err)
	}
	// Output:
	// true false 123456 <nil>
	// false true abcdefghijklmnopqrstuvwx <nil>
	// false false  auth: malformed one-time code
}

func ExampleTOTPURL() {
	fmt.Println(auth.TOTPURL("keygate", "ada@example.com", []byte("12345678901234567890")))
	// Output:
	// otpauth://totp/keygate:ada@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=keygate&algorithm=SHA1&digits=6&period=30
}
