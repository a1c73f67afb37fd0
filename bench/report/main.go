// Command report turns the raw results of bench/run.sh into BENCHMARKS.md
// and a chart (bench/chart.svg, drawn by gnuplot).
//
// Usage:
//
//	report -work DIR -out DIR [-active 100000]
//
// DIR holds what run.sh wrote: results.tsv (one wrk run a line), scale.tsv,
// flush.out, gobench.out and machine.tsv; any of the last four may be
// missing. A scenario with an unexpected answer in any run gets no
// throughput in the report, only the count of bad answers.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	work := fs.String("work", "", "directory of run.sh's raw results")
	out := fs.String("out", ".", "repository root: BENCHMARKS.md and bench/chart.svg are written there")
	active := fs.Int("active", 100000, "distinct keys of the scale scenario")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *work == "" {
		return errors.New("-work is required")
	}
	runs, err := readRuns(filepath.Join(*work, "results.tsv"))
	if err != nil {
		return err
	}
	in := inputs{
		runs:    runs,
		scale:   readPairs(filepath.Join(*work, "scale.tsv")),
		machine: readPairs(filepath.Join(*work, "machine.tsv")),
		flush:   readLines(filepath.Join(*work, "flush.out")),
		gobench: readLines(filepath.Join(*work, "gobench.out")),
		active:  *active,
	}
	chart := filepath.Join(*out, "bench", "chart.svg")
	if err := drawChart(*work, chart, in.summaries()); err != nil {
		fmt.Fprintln(os.Stderr, "report: no chart:", err)
	}
	f, err := os.Create(filepath.Join(*out, "BENCHMARKS.md"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	in.write(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// wrkRun is one line of results.tsv.
type wrkRun struct {
	scenario, side string
	rps            float64
	p50, p99       float64 // microseconds
	requests       int64
	s2xx, s429     int64
	other, sockerr int64
}

func readRuns(path string) ([]wrkRun, error) {
	var runs []wrkRun
	for _, line := range readLines(path) {
		f := strings.Split(line, "\t")
		if len(f) != 11 {
			return nil, fmt.Errorf("%s: malformed line %q", path, line)
		}
		n := make([]float64, 8)
		for i := range n {
			n[i], _ = strconv.ParseFloat(f[i+3], 64) // a missing figure reads as 0
		}
		runs = append(runs, wrkRun{
			scenario: f[0], side: f[1], rps: n[0], p50: n[1], p99: n[2], requests: int64(n[3]),
			s2xx: int64(n[4]), s429: int64(n[5]), other: int64(n[6]), sockerr: int64(n[7]),
		})
	}
	return runs, nil
}

// readLines returns the non-empty lines of path; a missing file has none.
func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// readPairs reads "name<TAB>value" lines; a repeated name keeps every value.
func readPairs(path string) map[string][]string {
	m := map[string][]string{}
	for _, l := range readLines(path) {
		name, value, _ := strings.Cut(l, "\t")
		m[name] = append(m[name], value)
	}
	return m
}

// expected is the answer every request of a scenario must get on one side.
func expected(scenario, side string) string {
	if side == "keygate" {
		switch scenario {
		case "reject":
			return "401"
		case "limited":
			return "429"
		}
	}
	if scenario == "login" && side == "baseline" {
		return "none" // bare bcrypt, not HTTP
	}
	return "2xx"
}

// bad counts the answers of r that are not what its scenario expects.
func (r wrkRun) bad() int64 {
	switch expected(r.scenario, r.side) {
	case "none":
		return 0
	case "401":
		return r.requests - r.other + r.sockerr
	case "429":
		return r.requests - r.s429 + r.sockerr
	}
	return r.requests - r.s2xx + r.sockerr
}

// side is the medians of one side of a scenario over its runs.
type side struct {
	rps, p50, p99 float64
	runs          int
	bad           int64
}

func summarize(runs []wrkRun, scenario, name string) side {
	var s side
	var rps, p50, p99 []float64
	for _, r := range runs {
		if r.scenario != scenario || r.side != name {
			continue
		}
		s.runs++
		s.bad += r.bad()
		rps, p50, p99 = append(rps, r.rps), append(p50, r.p50), append(p99, r.p99)
	}
	s.rps, s.p50, s.p99 = median(rps), median(p50), median(p99)
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// scenario is one row of the main table.
type scenario struct {
	name, what, against string
	kg, base            side
}

func (s scenario) valid() bool {
	return s.kg.runs > 0 && s.base.runs > 0 && s.kg.bad == 0 && s.base.bad == 0
}
func (s scenario) ratio() float64 {
	if s.base.rps == 0 {
		return 0
	}
	return s.kg.rps / s.base.rps
}

// scenarioOrder lists the table's rows: name, what keygate serves, what it
// is compared with.
var scenarioOrder = [][3]string{
	{"chat", "POST /v1/chat, one valid key", "baseline POST /v1/chat"},
	{"reject", "POST /v1/chat, a new unknown key per request (401)", "baseline POST /v1/chat"},
	{"jwt", "GET /v1/keys with an access token", "baseline GET /v1/keys"},
	{"limited", "POST /v1/chat, a key over its limit (429)", "baseline POST /v1/chat"},
	{"login", "POST /v1/auth/login, bcrypt cost 12", "bare bcrypt.CompareHashAndPassword, cost 12, one core"},
	{"proxy", "POST /v1/proxied, upstream = baseline on the same core", "baseline POST /v1/chat alone"},
	{"scale", "POST /v1/chat, a random key of the active set of the scale database", "baseline POST /v1/chat"},
}

func (in inputs) summaries() []scenario {
	var out []scenario
	for _, s := range scenarioOrder {
		kg, base := summarize(in.runs, s[0], "keygate"), summarize(in.runs, s[0], "baseline")
		if kg.runs == 0 && base.runs == 0 {
			continue
		}
		out = append(out, scenario{name: s[0], what: s[1], against: s[2], kg: kg, base: base})
	}
	return out
}

// inputs is everything the report is made of.
type inputs struct {
	runs           []wrkRun
	scale, machine map[string][]string
	flush, gobench []string
	active         int
}

func (in inputs) write(w io.Writer) {
	fmt.Fprintf(w, "# keygate benchmarks\n\n")
	fmt.Fprintf(w, "Generated by `bench/run.sh` (issue 6); do not edit by hand. keygate's figures are ratios to a bare\n")
	fmt.Fprintf(w, "stdlib `net/http` server (`bench/baseline`) answering the same routes with the same JSON and no checks,\n")
	fmt.Fprintf(w, "measured in the same run on the same machine.\n\n")
	in.writeMachine(w)
	scs := in.summaries()
	in.writeTargets(w, scs)
	in.writeTable(w, scs)
	in.writeScale(w)
	in.writeFlush(w)
	in.writeGoBench(w)
	in.writeMethod(w)
}

func (in inputs) first(m map[string][]string, k string) string {
	if v := m[k]; len(v) > 0 {
		return v[0]
	}
	return "?"
}

func (in inputs) writeMachine(w io.Writer) {
	m := in.machine
	fmt.Fprintf(w, "## Machine and command\n\n")
	fmt.Fprintf(w, "- run: %s, `bench/run.sh` (%s)\n", in.first(m, "date"), in.first(m, "settings"))
	fmt.Fprintf(w, "- CPU: %s; memory %s; %s; %s; %s\n", in.first(m, "cpu"), in.first(m, "memory"), in.first(m, "kernel"), in.first(m, "go"), in.first(m, "wrk"))
	fmt.Fprintf(w, "- servers pinned to CPU 0, wrk (one thread) to CPU 1 with `taskset`; loopback only\n")
	fmt.Fprintf(w, "- load average (1, 5, 15 min) at start: %s; at end: %s\n", in.first(m, "load_start"), in.first(m, "load_end"))
	if n := in.first(m, "note"); n != "" && n != "?" {
		fmt.Fprintf(w, "- **note:** %s\n", n)
	}
	fmt.Fprintf(w, "\n![requests/s and p99 latency, keygate and baseline, per scenario](bench/chart.svg)\n\n")
}

// verdict is "met" or "**missed**" for a figure against its target.
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (in inputs) writeTargets(w io.Writer, scs []scenario) {
	targets := map[string]float64{"chat": 0.85, "reject": 0.9, "limited": 0.9, "jwt": 0.8, "login": 0.9, "proxy": 0.35, "scale": 0.7}
	fmt.Fprintf(w, "## Targets\n\n| target | measured | verdict |\n|---|---|---|\n")
	for _, s := range scs {
		t := targets[s.name]
		if !s.valid() {
			fmt.Fprintf(w, "| %s ≥ %.2f× | refused: %d unexpected answers | **not measured** |\n", s.name, t, s.kg.bad+s.base.bad)
			continue
		}
		fmt.Fprintf(w, "| %s ≥ %.2f× requests/s | %.3f× | %s |\n", s.name, t, s.ratio(), verdict(s.ratio() >= t))
		if s.name == "chat" && s.base.p99 > 0 {
			r := s.kg.p99 / s.base.p99
			fmt.Fprintf(w, "| chat p99 ≤ 1.3× baseline p99 | %.3f× | %s |\n", r, verdict(r <= 1.3))
		}
	}
	if ms := floats(in.scale["ready_ms"]); len(ms) > 0 {
		fmt.Fprintf(w, "| start to ready with 1M keys ≤ 1 s | %.0f ms (median of %d) | %s |\n", median(ms), len(ms), verdict(median(ms) <= 1000))
	}
	if b, ok := in.bytesPerKey(); ok {
		fmt.Fprintf(w, "| ≤ 400 B per active key beyond the fixed cost | %.0f B | %s |\n", b, verdict(b <= 400))
	}
	if d, ok := in.flushMedian("last_used=false"); ok {
		fmt.Fprintf(w, "| flush of 100k dirty daily counters ≤ 250 ms | %.0f ms | %s |\n", d, verdict(d <= 250))
	}
	if d, ok := in.flushMedian("last_used=true"); ok {
		fmt.Fprintf(w, "| the same with the 100k last-used times a request also leaves, when due (≤ 250 ms) | %.0f ms | %s |\n", d, verdict(d <= 250))
	}
	if r, ok := in.flushP99Raise(); ok {
		fmt.Fprintf(w, "| chat p99 during flushes raised ≤ 20 %% (median of per-round ratios) | %+.0f %% | %s |\n", r*100, verdict(r <= 0.2))
	}
	if allocs, ok := in.chatAllocs(); ok {
		fmt.Fprintf(w, "| chat handler ≤ 10 allocs/request (BenchmarkChatHandler: the whole server chain; the benchmark reuses its request and writer) | %d | %s |\n", allocs, verdict(allocs <= 10))
	}
	fmt.Fprintln(w)
}

func floats(v []string) []float64 {
	var out []float64
	for _, s := range v {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			out = append(out, f)
		}
	}
	return out
}

func ms(us float64) string { return strconv.FormatFloat(us/1000, 'f', 2, 64) }

func (in inputs) writeTable(w io.Writer, scs []scenario) {
	fmt.Fprintf(w, "## Scenarios\n\nMedians of %s runs each, keygate and baseline alternating. Latencies in ms.\n\n", in.roundsText())
	fmt.Fprintf(w, "| scenario | keygate | compared with | keygate req/s | baseline req/s | ratio | ratio per round | keygate p50 / p99 | baseline p50 / p99 |\n")
	fmt.Fprintf(w, "|---|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range scs {
		if !s.valid() {
			fmt.Fprintf(w, "| %s | %s | %s | refused: %d unexpected answers | | | | | |\n", s.name, s.what, s.against, s.kg.bad+s.base.bad)
			continue
		}
		base := ms(s.base.p50) + " / " + ms(s.base.p99)
		if s.name == "login" {
			base = "–"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.1f | %.1f | %.2f | %s | %s / %s | %s |\n",
			s.name, s.what, s.against, s.kg.rps, s.base.rps, s.ratio(), in.roundRatios(s.name), ms(s.kg.p50), ms(s.kg.p99), base)
	}
	fmt.Fprintln(w)
}

func (in inputs) roundsText() string {
	for _, f := range strings.Fields(in.first(in.machine, "settings")) {
		if v, ok := strings.CutPrefix(f, "ROUNDS="); ok {
			return v
		}
	}
	return "several"
}

// bytesPerKey is the growth of anonymous memory from one key in use to
// in.active keys in use, per key.
func (in inputs) bytesPerKey() (float64, bool) {
	fixed, after := floats(in.scale["anon_fixed_kb"]), floats(in.scale["anon_after_kb"])
	if len(fixed) == 0 || len(after) == 0 || in.active == 0 {
		return 0, false
	}
	return (after[0] - fixed[0]) * 1024 / float64(in.active), true
}

func (in inputs) writeScale(w io.Writer) {
	if len(in.scale) == 0 {
		return
	}
	s := in.scale
	mib := func(k string) string {
		v := floats(s[k])
		if len(v) == 0 {
			return "?"
		}
		return strconv.FormatFloat(v[0]/1024, 'f', 1, 64) + " MiB"
	}
	fmt.Fprintf(w, "## Scale: a million keys\n\n")
	fmt.Fprintf(w, "- loader (`bench/loader`, batched transactions via `storage.CreateUsers`/`CreateAPIKeys`): %s s for the users and keys; database file %s MiB\n",
		in.first(s, "load_seconds"), mibOf(in.first(s, "db_bytes")))
	fmt.Fprintf(w, "- start to ready (process start until `GET /healthz` answers 200; polled every 5 ms): %s ms\n", strings.Join(s["ready_ms"], ", "))
	fmt.Fprintf(w, "- resident memory (VmRSS / RssAnon; VmRSS includes the pages of the mapped database file):\n")
	fmt.Fprintf(w, "  - ready: %s / %s\n", mib("rss_ready_kb"), mib("anon_ready_kb"))
	fmt.Fprintf(w, "  - fixed cost, after a %s-connection run with one key: %s / %s\n", in.connsText(), mib("rss_fixed_kb"), mib("anon_fixed_kb"))
	fmt.Fprintf(w, "  - after the scale runs with %d distinct keys: %s / %s\n", in.active, mib("rss_after_kb"), mib("anon_after_kb"))
	if b, ok := in.bytesPerKey(); ok {
		fmt.Fprintf(w, "  - growth of RssAnon per active key: **%.0f B** (includes garbage the GC has not returned yet)\n", b)
	}
	fmt.Fprintln(w)
}

func mibOf(bytes string) string {
	f, err := strconv.ParseFloat(bytes, 64)
	if err != nil {
		return "?"
	}
	return strconv.FormatFloat(f/(1<<20), 'f', 0, 64)
}

func (in inputs) connsText() string {
	for _, f := range strings.Fields(in.first(in.machine, "settings")) {
		if v, ok := strings.CutPrefix(f, "CONNS="); ok {
			return v
		}
	}
	return "?"
}

// flushMedian is the median_ms of the "flush" line of flushtest time
// whose fields include sel.
func (in inputs) flushMedian(sel string) (float64, bool) {
	for _, l := range in.flush {
		if strings.HasPrefix(l, "flush ") && strings.Contains(l, sel) {
			return field(l, "median_ms")
		}
	}
	return 0, false
}

func field(line, name string) (float64, bool) {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			x, err := strconv.ParseFloat(v, 64)
			return x, err == nil
		}
	}
	return 0, false
}

// flushP99Raise is the median over rounds of p99 with flushes over p99
// without in the same round, minus one. Pairing rounds cancels most of the
// drift of a machine whose load changes during the run.
func (in inputs) flushP99Raise() (float64, bool) {
	for _, r := range in.runs {
		if r.scenario == "flush" && r.bad() > 0 {
			return 0, false
		}
	}
	ratios := in.perRound("flush", "flushing", "quiet", func(r wrkRun) float64 { return r.p99 })
	if len(ratios) == 0 {
		return 0, false
	}
	return median(ratios) - 1, true
}

// roundRatios lists keygate's requests/s over the baseline's for each
// round of a scenario: a host whose speed drifts during a scenario shows
// as rounds that disagree, which the medians alone hide.
func (in inputs) roundRatios(scenario string) string {
	var out []string
	for _, x := range in.perRound(scenario, "keygate", "baseline", func(r wrkRun) float64 { return r.rps }) {
		out = append(out, strconv.FormatFloat(x, 'f', 2, 64))
	}
	return strings.Join(out, ", ")
}

// perRound returns, round by round, v of side num over v of side den in
// scenario. A round's two runs are next to each other in time, so their
// ratio leaves out most of the machine's drift. Rounds where den's v is
// zero are skipped.
func (in inputs) perRound(scenario, num, den string, v func(wrkRun) float64) []float64 {
	a, b := in.sideRuns(scenario, num), in.sideRuns(scenario, den)
	var out []float64
	for i := 0; i < len(a) && i < len(b); i++ {
		if v(b[i]) > 0 {
			out = append(out, v(a[i])/v(b[i]))
		}
	}
	return out
}

// sideRuns returns the runs of one side of a scenario in run order.
func (in inputs) sideRuns(scenario, name string) []wrkRun {
	var out []wrkRun
	for _, r := range in.runs {
		if r.scenario == scenario && r.side == name {
			out = append(out, r)
		}
	}
	return out
}

func (in inputs) writeFlush(w io.Writer) {
	if len(in.flush) == 0 {
		return
	}
	fmt.Fprintf(w, "## Write-behind flush of %d dirty counters\n\n", in.active)
	fmt.Fprintf(w, "`bench/flushtest time` runs keygate's server in process on the million-key database, sends one request\n")
	fmt.Fprintf(w, "with each of %d keys through its handler, then times the server's own `Flush`: with the clock still\n", in.active)
	fmt.Fprintf(w, "(`last_used=false`: only the daily counts are dirty, as in most flushes) and with the clock a minute on\n")
	fmt.Fprintf(w, "(`last_used=true`: every key's last-used time is due too, which keygate writes at most once a minute a key).\n")
	fmt.Fprintf(w, "`flushtest serve` runs keygate's server in process on that database and writes every second the batch its\n")
	fmt.Fprintf(w, "flusher would write after those keys were used (the counts; the last-used times on the first flush and once\n")
	fmt.Fprintf(w, "a minute after), while wrk sends `chat` with one key (`quiet`: no extra flushes).\n\n```\n")
	for _, l := range in.flush {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintf(w, "```\n\n")
	runs := append(in.sideRuns("flush", "quiet"), in.sideRuns("flush", "flushing")...)
	if len(runs) == 0 {
		return
	}
	fmt.Fprintf(w, "| chat, one key | round | req/s | p50 ms | p99 ms | unexpected answers |\n|---|---:|---:|---:|---:|---:|\n")
	for i, r := range runs {
		fmt.Fprintf(w, "| %s | %d | %.1f | %s | %s | %d |\n", r.side, i%(len(runs)/2)+1, r.rps, ms(r.p50), ms(r.p99), r.bad())
	}
	fmt.Fprintln(w)
}

// chatAllocs is allocs/op of BenchmarkChatHandler. BenchmarkProtectedRoute
// makes a new request and recorder each time, whose allocations are the
// harness's, not the handler's.
func (in inputs) chatAllocs() (int, bool) {
	for _, l := range in.gobench {
		if !strings.HasPrefix(l, "BenchmarkChatHandler") {
			continue
		}
		f := strings.Fields(l)
		for i := 1; i < len(f); i++ {
			if f[i] == "allocs/op" {
				n, err := strconv.Atoi(f[i-1])
				return n, err == nil
			}
		}
	}
	return 0, false
}

// microBenches are the server benchmarks bench/run.sh runs.
const microBenches = "VerifyKey|ChatHandler|RejectUnknownKey|Limited|KeyListJWT|ProtectedRoute"

func (in inputs) writeGoBench(w io.Writer) {
	fmt.Fprintf(w, "## Micro-benchmarks\n\n`go test -run '^$' -bench '%s' -benchmem ./server/`, pinned to CPU 0:\n\n", microBenches)
	fmt.Fprintf(w, "| benchmark | ns/op | B/op | allocs/op |\n|---|---:|---:|---:|\n")
	n := 0
	for _, l := range in.gobench {
		f := strings.Fields(l)
		if len(f) < 8 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f[0], f[2], f[4], f[6])
		n++
	}
	if n == 0 {
		fmt.Fprintf(w, "| (no results: the server package did not build or run; see the harness log) | | | |\n")
	}
	fmt.Fprintln(w)
}

func (in inputs) writeMethod(w io.Writer) {
	fmt.Fprint(w, `## How it is measured

- Both servers run all the time, pinned to CPU 0; wrk runs with one thread pinned to CPU 1, with the
  same script (`+"`bench/wrk.lua`"+`), headers, connections and duration for keygate and the baseline.
  Each scenario alternates keygate and baseline runs; the table shows medians, and the ratio is of
  the medians. The ratio per round divides each keygate run by the baseline run right after it: this
  machine's speed drifts, and rounds that disagree show a scenario that ran during such a change.
- The script counts answers by status in wrk's `+"`response`"+` hook. A scenario in which any request got
  an answer other than the expected one (2xx; 401 for `+"`reject`"+`; 429 for `+"`limited`"+`) or a socket error
  is reported as refused, with no throughput.
- keygate's configuration: bcrypt cost 12, login and sign-up throttles raised so logins are not
  throttled, access log off, the basic tier with limits that never refuse, a tier "tiny" (1 a minute,
  1 a day) for `+"`limited`"+`, and a route `+"`POST /v1/proxied`"+` whose upstream is the baseline.
- `+"`login`"+` is compared with the rate of `+"`bcrypt.CompareHashAndPassword`"+` at cost 12 in a loop on CPU 0
  (`+"`bench/bcryptrate`"+`). Each keygate login also writes a session and an audit event.
- `+"`scale`"+`: keygate serves the database the loader filled (SCALE_USERS users with one key each); wrk
  draws each request's key at random from ACTIVE of them, after one warm-up run that brings them
  into memory.
- `+"`login`"+` uses LOGIN_CONNS connections (1: bcrypt runs one at a time, as in the bare loop, and at
  most one request in flight is lost at the end of a run).
`)
}

// drawChart writes the gnuplot data and script to work and draws chart.
func drawChart(work, chart string, scs []scenario) error {
	var data strings.Builder
	fmt.Fprintf(&data, "# scenario\tkeygate_rps\tbaseline_rps\tkeygate_p99_ms\tbaseline_p99_ms\n")
	for _, s := range scs {
		if !s.valid() {
			continue
		}
		fmt.Fprintf(&data, "%s\t%.1f\t%.1f\t%.3f\t%.3f\n", s.name, s.kg.rps, s.base.rps, s.kg.p99/1000, s.base.p99/1000)
	}
	if err := os.MkdirAll(filepath.Dir(chart), 0o755); err != nil {
		return err
	}
	dataPath := filepath.Join(work, "chart.dat")
	if err := os.WriteFile(dataPath, []byte(data.String()), 0o644); err != nil {
		return err
	}
	script := fmt.Sprintf(`set terminal svg size 960,720 dynamic font "sans,12" background "white"
set output %q
set datafile separator "\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key top right
set grid ytics
set boxwidth 0.9
set multiplot layout 2,1 title "keygate vs bare net/http baseline (server on one core)"
set title "requests/s, log scale (higher is better; login's baseline: bare bcrypt)"
set logscale y
plot %q using 2:xtic(1) title "keygate" lc rgb "#1f77b4", '' using 3 title "baseline" lc rgb "#aaaaaa"
set title "p99 latency, ms, log scale (lower is better; login's baseline has none)"
plot %q using ($4 > 0 ? $4 : NaN):xtic(1) title "keygate" lc rgb "#1f77b4", '' using ($5 > 0 ? $5 : NaN) title "baseline" lc rgb "#aaaaaa"
unset multiplot
`, chart, dataPath, dataPath)
	scriptPath := filepath.Join(work, "chart.gp")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		return err
	}
	out, err := exec.Command("gnuplot", scriptPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, out)
	}
	return nil
}
