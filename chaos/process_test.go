package chaos_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long keygate may take to open the database and
// start listening.
const startTimeout = 15 * time.Second

// keygate is the real binary, built from the module root, with a
// configuration and a database of its own in a temporary directory.
type keygate struct {
	bin    string // the executable
	config string // config.toml written by writeConfig
	db     string // the bbolt file named in config
}

// buildKeygate compiles the module root into a temporary directory. The
// binary is an ordinary one even when the test runs under -race.
func buildKeygate(t *testing.T) keygate {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build keygate: %v", err)
	}
	dir := t.TempDir()
	kg := keygate{
		bin:    filepath.Join(dir, "keygate"),
		config: filepath.Join(dir, "config.toml"),
		db:     filepath.Join(dir, "keygate.db"),
	}
	build := exec.Command(goTool, "build", "-o", kg.bin, ".")
	build.Dir = ".." // the module root, where package main is
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.WriteFile(kg.config, []byte(configText(kg.db)), 0o600); err != nil {
		t.Fatal(err)
	}
	return kg
}

// configText is the chaos configuration: any free loopback port, cheap
// bcrypt, throttles and key limits out of the way, rotation without grace
// (an acknowledged rotate takes the old key out at once) and one tier whose
// limits no test traffic can reach, so every request with a live key is
// admitted and counted.
func configText(db string) string {
	return fmt.Sprintf(`listen = "127.0.0.1:0"
db_path = %q
allow_signup = false

[passwords]
bcrypt_cost = 4

[throttle]
login_per_minute = 100000
failed_logins_before_backoff = 100000

[keys]
rotation_grace = "0s"
max_per_user = 100000

# Every worker signs in as the same user; the default cap (100 sessions)
# would end the oldest acknowledged logins, which the check then misses.
[sessions]
max_per_user = 100000

[tiers.basic]
per_minute = 1000000000
per_day = 1000000000000
`, db)
}

// command runs a keygate subcommand to completion (user create, check),
// with stdin as its standard input, and returns its combined output.
func (kg keygate) command(stdin string, args ...string) (string, error) {
	cmd := exec.Command(kg.bin, args...)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// check runs `keygate check`, which must pass whenever the server is down.
func (kg keygate) check() error {
	out, err := kg.command("", "check", "-config", kg.config)
	if err != nil {
		return fmt.Errorf("keygate check: %v\n%s", err, out)
	}
	return nil
}

// cleanEnv is this process's environment without KEYGATE_* variables,
// which would override the chaos configuration.
func cleanEnv() []string {
	var env []string
	for _, v := range os.Environ() {
		if !strings.HasPrefix(v, "KEYGATE_") {
			env = append(env, v)
		}
	}
	return env
}

// process is one running `keygate serve`.
type process struct {
	cmd    *exec.Cmd
	addr   string // host:port it listens on
	log    *logLines
	exited chan struct{} // closed when the process is gone
	err    error         // Wait's result, once exited is closed
}

// start runs the server and waits until it listens.
func (kg keygate) start() (*process, error) {
	log := &logLines{ready: make(chan string, 1)}
	cmd := exec.Command(kg.bin, "serve", "-config", kg.config)
	cmd.Env = cleanEnv()
	cmd.Stderr = log
	cmd.Stdout = log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, log: log, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.addr = <-log.ready:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("keygate exited before listening: %v\n%s", p.err, log.tail(20))
	case <-time.After(startTimeout):
		p.kill()
		return nil, fmt.Errorf("keygate not listening after %s\n%s", startTimeout, log.tail(20))
	}
}

// kill ends the process with SIGKILL, skipping every shutdown step, and
// waits for it to be gone (its file lock with it). It may be called again.
func (p *process) kill() {
	// An error means the process is already gone, which is what we want.
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// stop asks for a clean shutdown with SIGTERM (drain, last flush, close)
// and returns an error if it does not exit cleanly within timeout.
func (p *process) stop(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.exited:
		if p.err != nil {
			return fmt.Errorf("keygate after SIGTERM: %v\n%s", p.err, p.log.tail(20))
		}
		return nil
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("keygate still running %s after SIGTERM", timeout)
	}
}

// servingLine matches the log line keygate writes once it listens.
var servingLine = regexp.MustCompile(`msg="keygate serving" addr=(\S+)`)

// logLines keeps what the server writes, line by line, and reports the
// address from the "keygate serving" line. It is safe for concurrent use.
type logLines struct {
	mu      sync.Mutex
	partial []byte   // an unfinished last line
	lines   []string // complete lines, oldest first
	ready   chan string
}

// Write implements io.Writer for the child's stdout and stderr.
func (l *logLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.lines = append(l.lines, line)
		if m := servingLine.FindStringSubmatch(line); m != nil {
			select {
			case l.ready <- m[1]:
			default:
			}
		}
	}
}

// tail returns the last n lines.
func (l *logLines) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
}

// errorLines returns every line logged at level ERROR.
func (l *logLines) errorLines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return out
}
