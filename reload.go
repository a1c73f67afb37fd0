package main

import (
	"context"
	"log/slog"
	"os"
	"reflect"
	"strings"

	"github.com/keygate/keygate/server"
)

// reloadOnSignal re-reads the configuration file each time hup fires,
// until ctx is done. Tiers and routes change for the next request; a file
// that does not load keeps the running configuration, and the log says
// exactly why; other changed settings are logged as needing a restart.
func reloadOnSignal(ctx context.Context, hup <-chan os.Signal, path string, getenv func(string) string,
	running Config, srv *server.Server, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		next, err := loadConfig(path, getenv)
		if err != nil {
			log.Error("configuration not reloaded; keeping the running one", "err", err)
			continue
		}
		tiers, routes := serverTiers(next), serverRoutes(next)
		if err := srv.Reload(tiers, routes); err != nil {
			log.Error("configuration not reloaded; keeping the running one", "err", err)
			continue
		}
		running.Tiers, running.Routes = next.Tiers, next.Routes
		log.Info("configuration reloaded: tiers and routes apply from the next request",
			"tiers", len(next.Tiers), "routes", len(next.Routes))
		for _, name := range changedSettings(running, next) {
			log.Warn("setting changed; it takes effect after a restart", "setting", name)
		}
	}
}

// changedSettings names the settings, as written in config.toml, that
// differ between a and b.
func changedSettings(a, b Config) []string {
	var names []string
	var walk func(prefix string, va, vb reflect.Value)
	walk = func(prefix string, va, vb reflect.Value) {
		t := va.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name := prefix + strings.Split(f.Tag.Get("toml"), ",")[0]
			fa, fb := va.Field(i), vb.Field(i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration{}) {
				walk(name+".", fa, fb)
				continue
			}
			if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
				names = append(names, name)
			}
		}
	}
	walk("", reflect.ValueOf(a), reflect.ValueOf(b))
	return names
}
