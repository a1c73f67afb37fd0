#!/usr/bin/env bash
# keygate's benchmark harness (issue 6). One command, from anywhere:
#
#   bench/run.sh
#
# It installs wrk, gnuplot and curl when missing (Debian, as root), builds
# keygate and the tools in bench/, runs every scenario against keygate and
# the bare baseline alternately, checks the answers, and writes
# BENCHMARKS.md, bench/chart.svg and the raw figures (bench/results/) in the
# repository. Everything it starts listens on 127.0.0.1 only and is stopped
# on exit; its files live in a temporary directory that is removed on exit.
#
# Settings (environment):
#   DURATION=10      seconds per wrk run
#   ROUNDS=3         keygate/baseline alternations per scenario (medians are reported)
#   CONNS=64         wrk connections (one wrk thread: the load generator has one core)
#   LOGIN_CONNS=1    connections for the login scenario (bcrypt at cost 12 is ~4/s a core)
#   SCALE_USERS=1000000   users (one key each) in the scale database; 0 skips scale and flush
#   ACTIVE=100000    distinct keys the scale scenario draws from
#   OUT=<repo>       where BENCHMARKS.md goes; the chart goes to $OUT/bench/chart.svg
#   NOTE=""          a line added to BENCHMARKS.md (e.g. about machine load)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
LOGIN_CONNS=${LOGIN_CONNS:-1}
SCALE_USERS=${SCALE_USERS:-1000000}
ACTIVE=${ACTIVE:-100000}
OUT=${OUT:-$ROOT}
NOTE=${NOTE:-}
KG_PORT=18080
BASE_PORT=19090
FLUSH_PORT=19191
PREFIX=kg_live_

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	log "error: $*"
	[ -z "${WORK:-}" ] || tail -n 5 "$WORK"/*.log >&2 2>/dev/null || true
	exit 1
}

# --- dependencies -----------------------------------------------------------

need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 && return
	[ "$(id -u)" = 0 ] || die "$1 is missing: apt-get install $2 (as root)"
	command -v apt-get >/dev/null || die "$1 is missing and this is not Debian: install $2"
	log "installing $2"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }
}
need wrk wrk
need gnuplot gnuplot-nox
need curl curl
need taskset util-linux
command -v go >/dev/null || die "go is missing: install Go 1.26 or later from https://go.dev/dl/"

NCPU=$(nproc)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$NCPU" -ge 2 ]; then SERVER_CPU=0 LOAD_CPU=1; else SERVER_CPU=0 LOAD_CPU=0; log "one core only: server and wrk share it"; fi

# --- processes and cleanup --------------------------------------------------

WORK=$(mktemp -d /tmp/keygate-bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() { # start NAME COMMAND...: runs COMMAND pinned to the server core; sets PID
	taskset -c "$SERVER_CPU" "${@:2}" >"$WORK/$1.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
}
stop() { # stop PID: SIGTERM, wait up to 15 s, then SIGKILL
	local i
	kill "$1" 2>/dev/null || return 0
	for i in $(seq 150); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
wait_ready() { # wait_ready URL [SECONDS]: up to SECONDS (10) for 200 from URL
	local until=$((EPOCHSECONDS + ${2:-10})) # EPOCHSECONDS (bash 5) costs no fork per try
	while [ "$EPOCHSECONDS" -lt "$until" ]; do
		curl -fso /dev/null --max-time 1 "$1" && return 0
		sleep 0.005
	done
	die "no answer from $1"
}
now_ns() { date +%s%N; }
rss_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

# --- build ------------------------------------------------------------------

log "building into $WORK"
(cd "$ROOT" && go build -o "$WORK/keygate" . &&
	for t in baseline loader bcryptrate flushtest report; do go build -o "$WORK/$t" "./bench/$t"; done)

# --- wrk --------------------------------------------------------------------

RESULTS=$WORK/results.tsv # scenario side round rps p50_us p99_us requests s2xx s429 other sockerr
: >"$RESULTS"

# wrkrun SCENARIO SIDE ROUND URL [CONNS] with KG_* in the environment.
wrkrun() {
	local c=${5:-$CONNS} line
	line=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s --latency \
		-s "$ROOT/bench/wrk.lua" "$4" | grep '^RESULT') || die "wrk failed for $1 $2"
	# RESULT rps=.. p50_us=.. p99_us=.. requests=.. s2xx=.. s429=.. other=.. sockerr=..
	echo "$line" | sed 's/RESULT //; s/[a-z0-9_]*=//g' |
		awk -v s="$1" -v d="$2" -v r="$3" '{printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s, d, r, $1, $2, $3, $4, $5, $6, $7, $8}' >>"$RESULTS"
	log "$1 $2 #$3: $line"
}

# pair SCENARIO KEYGATE_URL BASELINE_URL [CONNS]: ROUNDS alternations.
pair() {
	local r
	for r in $(seq "$ROUNDS"); do
		wrkrun "$1" keygate "$r" "$2" "${4:-}"
		wrkrun "$1" baseline "$r" "$3" "${4:-}"
	done
}

# --- keygate and baseline ---------------------------------------------------

write_config() { # write_config FILE DB
	cat >"$1" <<EOF
listen = "127.0.0.1:$KG_PORT"
db_path = "$2"
allow_signup = false
access_log = false

[jwt]
secret = "$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"

[passwords]
bcrypt_cost = 12

[throttle]
login_per_minute = 100000000
signup_per_hour = 100000000
failed_logins_before_backoff = 100000000

[keys]
prefix = "$PREFIX"

[tiers.basic]
per_minute = 1000000000
per_day = 1000000000000000

[tiers.tiny]
per_minute = 1
per_day = 1

[[routes]]
method = "POST"
path = "/v1/chat"
tiers = ["basic", "tiny"]

[[routes]]
method = "POST"
path = "/v1/proxied"
tiers = ["basic"]
upstream = "http://127.0.0.1:$BASE_PORT"
EOF
}

KG=http://127.0.0.1:$KG_PORT
BASE=http://127.0.0.1:$BASE_PORT
EMAIL=bench@bench.example
PASSWORD=correct-horse-battery-staple

start baseline "$WORK/baseline" -addr "127.0.0.1:$BASE_PORT"
BASE_PID=$PID
wait_ready "$BASE/healthz"

write_config "$WORK/small.toml" "$WORK/small.db"
echo "$PASSWORD" | "$WORK/keygate" user create -config "$WORK/small.toml" -email "$EMAIL" -tiers basic,tiny >/dev/null
start keygate "$WORK/keygate" serve -config "$WORK/small.toml"
KG_PID=$PID
wait_ready "$KG/healthz"

json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
ACCESS=$(curl -fsS "$KG/v1/auth/login" -H 'Content-Type: application/json' \
	-d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | json_field access_token)
[ -n "$ACCESS" ] || die "login failed"
new_key() { # new_key NAME TIER
	curl -fsS "$KG/v1/keys" -H "Authorization: Bearer $ACCESS" -H 'Content-Type: application/json' \
		-d "{\"name\":\"$1\",\"tier\":\"$2\"}" | json_field key
}
CHAT_KEY=$(new_key chat basic)
TINY_KEY=$(new_key limited tiny)
[ -n "$CHAT_KEY" ] && [ -n "$TINY_KEY" ] || die "key creation failed"
# Spend the tiny key's one request, so every answer from here on is a 429.
curl -fsS -o /dev/null "$KG/v1/chat" -H "Authorization: Bearer $TINY_KEY" -d '{"message":"hi"}'
status=$(curl -s -o /dev/null -w '%{http_code}' "$KG/v1/chat" -H "Authorization: Bearer $TINY_KEY" -d '{}')
[ "$status" = 429 ] || die "limited key answered $status, want 429"

log "scenarios: ${DURATION}s per run, $ROUNDS rounds, $CONNS connections"
KG_AUTH="Bearer $CHAT_KEY" pair chat "$KG" "$BASE"
KG_KEYS=random KG_PREFIX=$PREFIX pair reject "$KG" "$BASE"
KG_METHOD=GET KG_PATH=/v1/keys KG_AUTH="Bearer $ACCESS" pair jwt "$KG" "$BASE"
KG_AUTH="Bearer $TINY_KEY" pair limited "$KG" "$BASE"
# The proxy: keygate's /v1/proxied goes to the baseline's; the baseline alone
# answers /v1/chat. Both servers share the server core.
for r in $(seq "$ROUNDS"); do
	KG_AUTH="Bearer $CHAT_KEY" KG_PATH=/v1/proxied wrkrun proxy keygate "$r" "$KG"
	KG_AUTH="Bearer $CHAT_KEY" wrkrun proxy baseline "$r" "$BASE"
done
# Login against bare bcrypt at the same cost on the same core.
for r in $(seq "$ROUNDS"); do
	KG_PATH=/v1/auth/login KG_BODY="{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" \
		wrkrun login keygate "$r" "$KG" "$LOGIN_CONNS"
	rate=$(taskset -c "$SERVER_CPU" "$WORK/bcryptrate" -cost 12 -duration "${DURATION}s" | sed 's/.*rate=//')
	printf 'login\tbaseline\t%s\t%s\t0\t0\t0\t0\t0\t0\t0\n' "$r" "$rate" >>"$RESULTS"
	log "login bcrypt #$r: $rate compares/s"
done
stop "$KG_PID"

# --- scale: a million keys --------------------------------------------------

SCALE=$WORK/scale.tsv # name value
: >"$SCALE"
if [ "$SCALE_USERS" -gt 0 ]; then
	write_config "$WORK/scale.toml" "$WORK/scale.db"
	log "loading $SCALE_USERS users and keys"
	"$WORK/loader" -db "$WORK/scale.db" -users "$SCALE_USERS" -active "$ACTIVE" -keys-out "$WORK/active.txt" | tee "$WORK/loader.out" >&2
	printf 'load_seconds\t%s\n' "$(sed -n 's/.* in \([0-9.]*\)s .*/\1/p' "$WORK/loader.out")" >>"$SCALE"
	printf 'db_bytes\t%s\n' "$(stat -c %s "$WORK/scale.db")" >>"$SCALE"
	ONE_KEY=$(head -1 "$WORK/active.txt")
	for r in 1 2 3; do
		t0=$(now_ns)
		start keygate "$WORK/keygate" serve -config "$WORK/scale.toml"
		KG_PID=$PID
		wait_ready "$KG/healthz"
		t1=$(now_ns)
		printf 'ready_ms\t%s\n' "$(((t1 - t0) / 1000000))" >>"$SCALE"
		[ "$r" = 3 ] || stop "$KG_PID"
	done
	printf 'rss_ready_kb\t%s\nanon_ready_kb\t%s\n' "$(rss_kb "$KG_PID" VmRSS)" "$(rss_kb "$KG_PID" RssAnon)" >>"$SCALE"
	# Fixed cost: the server warm, with connections open, one key in use.
	KG_AUTH="Bearer $ONE_KEY" wrkrun scale-one keygate 1 "$KG"
	printf 'rss_fixed_kb\t%s\nanon_fixed_kb\t%s\n' "$(rss_kb "$KG_PID" VmRSS)" "$(rss_kb "$KG_PID" RssAnon)" >>"$SCALE"
	# Every active key is used before the measured runs: a key's first
	# request reads it from the database, and random draws for 10 s left
	# a fifth of the keys cold for the first round. Cold, a request costs
	# about twice a warm one, hence 30 s for the keys in turn.
	log "warming $ACTIVE keys"
	DURATION=30 KG_ORDER=seq KG_KEYS="$WORK/active.txt" wrkrun scale-warm keygate 1 "$KG"
	warmed=$(awk -F'\t' '$1 == "scale-warm" {print $7}' "$RESULTS")
	[ "${warmed:-0}" -ge "$ACTIVE" ] || die "the warm-up sent $warmed requests, fewer than the $ACTIVE active keys"
	KG_KEYS="$WORK/active.txt" pair scale "$KG" "$BASE"
	printf 'rss_after_kb\t%s\nanon_after_kb\t%s\n' "$(rss_kb "$KG_PID" VmRSS)" "$(rss_kb "$KG_PID" RssAnon)" >>"$SCALE"
	stop "$KG_PID"

	log "flush: timing the server's Flush of $ACTIVE counters"
	taskset -c "$SERVER_CPU" "$WORK/flushtest" time -db "$WORK/scale.db" -keys "$WORK/active.txt" -n "$ACTIVE" -rounds 5 |
		tee "$WORK/flush.out" >&2
	# chat p99 with keygate flushing $ACTIVE counters every second (and their
	# last-used times once a minute), against none; keygate in process, the
	# same database.
	for r in $(seq "$ROUNDS"); do
		for every in 0 1s; do
			start flushtest "$WORK/flushtest" serve -db "$WORK/scale.db" -keys "$WORK/active.txt" \
				-n "$ACTIVE" -addr "127.0.0.1:$FLUSH_PORT" -every "$every" -for "$((DURATION + 30))s"
			FT_PID=$PID
			wait_ready "http://127.0.0.1:$FLUSH_PORT/healthz" 60 # it warms 100,000 keys first
			side=quiet
			[ "$every" = 0 ] || side=flushing
			KG_AUTH="Bearer $ONE_KEY" wrkrun flush "$side" "$r" "http://127.0.0.1:$FLUSH_PORT"
			stop "$FT_PID"
			grep '^serve flush' "$WORK/flushtest.log" >>"$WORK/flush.out" || true
		done
	done
fi
stop "$BASE_PID"

# --- micro-benchmarks -------------------------------------------------------

MICRO='VerifyKey|ChatHandler|RejectUnknownKey|Limited|KeyListJWT|ProtectedRoute' # as bench/report's microBenches
log "go test -bench '$MICRO' ./server/"
(cd "$ROOT" && taskset -c "$SERVER_CPU" go test -run '^$' -bench "$MICRO" -benchmem ./server/ 2>&1) |
	tee "$WORK/gobench.out" >&2 || true

# --- report -----------------------------------------------------------------

log "writing $OUT/BENCHMARKS.md and $OUT/bench/chart.svg"
{
	printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) ($NCPU cores)"
	printf 'memory\t%s\n' "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	printf 'kernel\t%s\n' "$(uname -sr)"
	printf 'go\t%s\n' "$(go version | cut -d' ' -f3-)"
	printf 'wrk\t%s\n' "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	printf 'load_start\t%s\n' "$LOAD_START"
	printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'settings\t%s\n' "DURATION=$DURATION ROUNDS=$ROUNDS CONNS=$CONNS LOGIN_CONNS=$LOGIN_CONNS SCALE_USERS=$SCALE_USERS ACTIVE=$ACTIVE"
	printf 'note\t%s\n' "$NOTE"
} >"$WORK/machine.tsv"
# The raw results stay next to the report, so it can be made again:
# go run ./bench/report -work bench/results -out . -active $ACTIVE
# It is made from there too, so the chart's data and script written
# beside them come from this run (made from $WORK, they went stale).
mkdir -p "$OUT/bench/results"
for f in results.tsv scale.tsv flush.out gobench.out machine.tsv; do
	[ ! -f "$WORK/$f" ] || cp "$WORK/$f" "$OUT/bench/results/$f"
done
"$WORK/report" -work "$OUT/bench/results" -out "$OUT" -active "$ACTIVE"
log "done"
