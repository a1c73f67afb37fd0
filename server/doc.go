// Package server is keygate's HTTP API: accounts and JWT sessions, API
// keys, and the protected routes that check a key, its tier and its limits.
//
// # Overview
//
// New builds a Server over a *storage.DB, an *auth.Tokens and an
// *auth.Hasher. The Server is an http.Handler; Serve runs it on a listener
// with production timeouts and the background flusher, and on shutdown
// drains requests and writes every counter still in memory.
//
// The whole route table is in routes.go. Handlers return errors; the one
// function that turns an error into a response is writeError (errors.go),
// which is also the only place a server-side error is logged.
//
// # Metrics
//
// The Server counts requests by route and status, key checks by outcome,
// limit refusals and flushes, in atomics it owns (metrics.go); there is no
// global registry. MetricsHandler writes them in the Prometheus text
// format, with gauges read at the scrape (metricstext.go), and
// Config.Metrics serves it at GET /metrics. Each route's counters are bound
// to its handler when the route table is built, and survive a Reload.
//
// # The hot path
//
// A request to a protected route is answered from memory once its key has
// been seen: keyCache maps the key's SHA-256 to what the checks need, and
// the limiter keeps each key lineage's minute bucket and daily count.
// Unknown keys are refused from memory too: keyFilter holds the first 8
// bytes of the hash of every stored key, loaded in the background at start
// and added to by every create and rotate before it is answered.
// Daily counts are written behind at least once per FlushInterval;
// last-used times once they have moved by a minute (lastUseGranularity),
// and all of them by the final Flush.
//
// # Caveats
//
// Every handler that takes authority away (revoke, rotate) commits to the
// store first and then invalidates the cached key, so the next request
// reads the key again. A crash loses at most one FlushInterval of counts
// and about a minute of last-used times, never a key, a user or a
// revocation.
package server
