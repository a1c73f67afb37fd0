package auth

// bearerScheme is the authorization scheme ParseBearer accepts, compared
// case-insensitively.
const bearerScheme = "Bearer"

// ParseBearer extracts the token from an Authorization header value of the
// form "Bearer <token>". The scheme is case-insensitive and followed by one
// or more spaces; the token is the rest of the value and must be non-empty
// printable ASCII without spaces (bytes 0x21 to 0x7E). Anything else returns
// "", false. The token is a substring of header, so ParseBearer does not
// allocate. It is safe for concurrent use.
func ParseBearer(header string) (token string, ok bool) {
	n := len(bearerScheme)
	if len(header) < n+2 || !equalFoldASCII(header[:n], bearerScheme) || header[n] != ' ' {
		return "", false
	}
	i := n + 1
	for i < len(header) && header[i] == ' ' {
		i++
	}
	token = header[i:]
	if token == "" {
		return "", false
	}
	for j := 0; j < len(token); j++ {
		if c := token[j]; c < 0x21 || c > 0x7e {
			return "", false
		}
	}
	return token, true
}

// equalFoldASCII reports whether a and b are equal under ASCII case folding.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}
