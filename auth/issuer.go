package auth

// Issuer returns the iss claim t writes and requires. It is one of the
// words a new password must not contain (CheckContextWords).
func (t *Tokens) Issuer() string { return t.issuer }
