package main

import "testing"

// FuzzParseConfig: any file either loads into a configuration that
// validates or not, or is refused with an error; it never panics.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		"", "listen = \"x:1\"\n", "[jwt]\naccess_ttl = \"5m\"\n", "[tiers.basic]\nper_minute = 1\nper_day = 1\n",
		"[[routes]]\nmethod = \"GET\"\npath = \"/a/\"\ntiers = [\"basic\"]\nupstream = \"http://h\"\n",
		"trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n", "[tiers]\nbasic = 1\n", "[[tiers]]\n", "a.b.c = 1",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := parseConfig([]byte(text))
		if err != nil {
			return
		}
		_ = cfg.validate() // the result may be either; it must not panic
	})
}
