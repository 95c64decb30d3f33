//go:build unix

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
)

// The record of a failed run is written by whoever runs the tool, root
// included, so these tests play two users: the tests run as root, and
// another user of the machine (nobody, uid 65534) plants files where the
// record goes. Without root they are skipped.

const nobody = 65534

// asNobody runs a shell script as nobody.
func asNobody(t *testing.T, script string, args ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("acting as another user (nobody) needs root")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to act as another user with")
	}
	cmd := exec.Command(sh, append([]string{"-ec", script, "sh"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	return string(out)
}

// sharedDir is a directory every user may write in, as the temporary
// directory is (mode 1777).
func sharedDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("acting as another user (nobody) needs root")
	}
	dir, err := os.MkdirTemp("", "istio-vault-ca-shared")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to act as another user with")
	}
	probe := exec.Command(sh, "-c", `test -w "$1"`, "sh", dir)
	probe.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if probe.Run() != nil {
		t.Skipf("nobody cannot reach %s (the temporary directory is not open to every user)", dir)
	}
	return dir
}

// precious is a file of root's that a planted symbolic link points to.
func precious(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(p, []byte("root's own data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func unchanged(t *testing.T, path string) {
	t.Helper()
	if b, err := os.ReadFile(path); err != nil || string(b) != "root's own data\n" {
		t.Errorf("%s was overwritten through the planted link: %q, %v", path, b, err)
	}
}

// failRun is a failed run whose message is easy to spot.
func failRun(t *testing.T) string {
	t.Helper()
	code, out, stderr := runCmd([]string{"marker-of-the-failed-run"}, nil)
	if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, "marker-of-the-failed-run") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	return stderr
}

// bounded runs f and fails if it does not return: a FIFO opened to be
// written or read blocks until the other end is opened. After the bound the
// test opens the other end itself, so that the run is released.
func bounded(t *testing.T, fifo string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
		return
	case <-time.After(15 * time.Second):
	}
	if p, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		p.Close()
	}
	t.Fatalf("the run blocked on the FIFO %s", fifo)
}

// listing is what a directory holds, by name, mode, owner and size.
func listing(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		uid := -1
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid = int(st.Uid)
		}
		fmt.Fprintf(&b, "%s %v uid=%d size=%d\n", e.Name(), fi.Mode(), uid, fi.Size())
	}
	return b.String()
}

// Without $HOME and $XDG_CACHE_HOME (a systemd unit, env -i, some CI
// runners), the record used to go to a fixed path in the temporary
// directory, where another user could have planted a link first.
func TestRecordHasNoSharedFallback(t *testing.T) {
	shared := sharedDir(t)
	target := precious(t)
	asNobody(t, `mkdir -m 777 "$1/istio-vault-ca" && ln -s "$2" "$1/istio-vault-ca/last-error.log"`, shared, target)
	before := listing(t, filepath.Join(shared, "istio-vault-ca"))
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("TMPDIR", shared)

	stderr := failRun(t)
	unchanged(t, target)
	if after := listing(t, filepath.Join(shared, "istio-vault-ca")); after != before {
		t.Errorf("the run wrote into the other user's directory:\nbefore:\n%safter:\n%s", before, after)
	}
	if !strings.Contains(stderr, "not kept for `istio-vault-ca explain`") || !strings.Contains(stderr, "cache directory") {
		t.Errorf("the run does not say that its message is not kept, and why: %q", stderr)
	}
	code, out, errOut := runCmd([]string{"explain"}, nil)
	if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(errOut, "HOME") {
		t.Errorf("explain without a cache directory: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// A cache directory other users can write in (a runner's shared cache):
// the record's directory may already be another user's, holding a link, a
// FIFO or a file of theirs. It is not used, and explain does not read it.
func TestRecordRefusesAnotherUsersDirectory(t *testing.T) {
	for _, tc := range []struct {
		name, plant string
	}{
		{"symbolic link", `ln -s "$2" "$1/last-error.log"`},
		{"FIFO", `mkfifo "$1/last-error.log"`},
		{"file anyone can read", `: > "$1/last-error.log" && chmod 666 "$1/last-error.log"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shared := sharedDir(t)
			target := precious(t)
			dir := filepath.Join(shared, "istio-vault-ca")
			asNobody(t, `mkdir -m 700 "$1" && `+tc.plant, dir, target)
			before := listing(t, dir)
			t.Setenv("XDG_CACHE_HOME", shared)

			var stderr string
			bounded(t, filepath.Join(dir, "last-error.log"), func() { stderr = failRun(t) })
			unchanged(t, target)
			if after := listing(t, dir); after != before {
				t.Errorf("the run wrote into the other user's directory:\nbefore:\n%safter:\n%s", before, after)
			}
			if got := asNobody(t, `f="$1/last-error.log"; if [ -f "$f" ] && [ ! -L "$f" ]; then cat "$f"; fi`, dir); strings.Contains(got, "marker-of-the-failed-run") {
				t.Errorf("the other user can read the message: %q", got)
			}
			if !strings.Contains(stderr, "belongs to uid 65534") {
				t.Errorf("the run does not say why its message is not kept: %q", stderr)
			}

			var code int
			var out []byte
			var errOut string
			bounded(t, filepath.Join(dir, "last-error.log"), func() { code, out, errOut = runCmd([]string{"explain"}, nil) })
			if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(errOut, "belongs to uid 65534") {
				t.Errorf("explain of another user's directory: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
}

// The record's own directory, made open to everyone (by hand, or by a tool
// that did not care): another user plants a file anyone can write, and the
// record must not land in it.
func TestRecordRefusesADirectoryOthersCanEnter(t *testing.T) {
	cache := sharedDir(t)
	dir := filepath.Join(cache, "istio-vault-ca")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	asNobody(t, `: > "$1/last-error.log" && chmod 666 "$1/last-error.log"`, dir)
	t.Setenv("XDG_CACHE_HOME", cache)

	stderr := failRun(t)
	if got := asNobody(t, `cat "$1/last-error.log"`, dir); strings.Contains(got, "marker-of-the-failed-run") {
		t.Errorf("the other user reads the message from the file they planted: %q", got)
	}
	if !strings.Contains(stderr, "has mode 0777") || !strings.Contains(stderr, "chmod 700") {
		t.Errorf("the run does not say why its message is not kept: %q", stderr)
	}
}

// privateRecord is the record in a cache directory of the caller's own.
func privateRecord(t *testing.T) string {
	t.Helper()
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	dir := filepath.Join(cache, "istio-vault-ca")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "last-error.log")
}

// In the caller's own directory the record replaces whatever is there
// (left by an older version, or by the user): a link is not followed, a
// FIFO does not block, an existing file's mode is not kept.
func TestRecordReplacesWhatIsInItsPlace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, record, target string)
	}{
		{"symbolic link", func(t *testing.T, record, target string) { must(t, os.Symlink(target, record)) }},
		{"FIFO", func(t *testing.T, record, _ string) { must(t, syscall.Mkfifo(record, 0o600)) }},
		{"file anyone can read", func(t *testing.T, record, _ string) {
			must(t, os.WriteFile(record, nil, 0o666))
			must(t, os.Chmod(record, 0o666))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			record := privateRecord(t)
			target := precious(t)
			tc.plant(t, record, target)

			bounded(t, record, func() { failRun(t) })
			unchanged(t, target)
			fi, err := os.Lstat(record)
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
				t.Fatalf("the record is not a regular file of mode 0600: %v, %v", fi.Mode(), err)
			}
			if b, _ := os.ReadFile(record); !strings.Contains(string(b), "marker-of-the-failed-run") {
				t.Errorf("the record lacks the message: %q", b)
			}
		})
	}
}

// explain prints only a regular file: not one a link points to, and a
// FIFO does not block it.
func TestExplainReadsOnlyARegularFile(t *testing.T) {
	t.Run("symbolic link", func(t *testing.T) {
		record := privateRecord(t)
		target := precious(t)
		must(t, os.Symlink(target, record))
		code, out, stderr := runCmd([]string{"explain"}, nil)
		if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, "not a regular file") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
	t.Run("FIFO", func(t *testing.T) {
		record := privateRecord(t)
		must(t, syscall.Mkfifo(record, 0o600))
		var code int
		var out []byte
		var stderr string
		bounded(t, record, func() { code, out, stderr = runCmd([]string{"explain"}, nil) })
		if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, "not a regular file") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
}

// A runaway message is kept only in part, and explain reads back only as
// much as a record can hold.
func TestRecordIsCapped(t *testing.T) {
	const huge = 1 << 20
	const bound = 128 << 10
	record := privateRecord(t)
	code, _, stderr := runCmd([]string{strings.Repeat("x", huge)}, nil)
	if code != cli.ExitBadInput || len(stderr) < huge {
		t.Fatalf("exit %d, %d bytes of stderr", code, len(stderr))
	}
	fi, err := os.Stat(record)
	if err != nil || fi.Size() > bound {
		t.Errorf("%d bytes recorded of a %d-byte message, %v", fi.Size(), len(stderr), err)
	}

	must(t, os.WriteFile(record, bytes.Repeat([]byte("y"), huge), 0o600))
	code, out, _ := runCmd([]string{"explain"}, nil)
	if code != cli.ExitOK || len(out) > bound || !bytes.HasPrefix(out, []byte("yyyy")) {
		t.Errorf("explain of a %d-byte record: exit %d, %d bytes", huge, code, len(out))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// After a successful run, explain no longer shows the failure before it as
// the last run's: it says a later run succeeded, and when the failure was.
// explain's own runs change nothing; a new failure is the last run's again.
func TestExplainAfterASuccess(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	explain := func() string {
		t.Helper()
		code, out, stderr := runCmd([]string{"explain"}, nil)
		if code != cli.ExitOK {
			t.Fatalf("explain: exit %d, %s", code, stderr)
		}
		return string(out)
	}
	fail := func(flag string) {
		t.Helper()
		if code, _, _ := runCmd([]string{"--" + flag}, nil); code != cli.ExitBadInput {
			t.Fatalf("--%s: exit %d", flag, code)
		}
	}
	succeed := func() {
		t.Helper()
		if code, _, stderr := runCmd([]string{"config", "--defaults"}, nil); code != cli.ExitOK {
			t.Fatalf("config --defaults: exit %d, %s", code, stderr)
		}
	}
	const later = "a later run succeeded"

	fail("first-bad-flag")
	if out := explain(); !strings.Contains(out, "first-bad-flag") || strings.Contains(out, later) {
		t.Fatalf("after a failure:\n%s", out)
	}
	if out := explain(); strings.Contains(out, later) {
		t.Errorf("explain's own run counted as a success:\n%s", out)
	}
	succeed()
	out := explain()
	if !regexp.MustCompile(`^istio-vault-ca: a later run succeeded; the last failed run \(at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\) was:\n\d{4}-.* istio-vault-ca --unknown-flag\n.*first-bad-flag`).MatchString(out) {
		t.Errorf("after a success:\n%s", out)
	}
	succeed() // nothing left to set aside
	if again := explain(); again != out {
		t.Errorf("a second success changed what explain says:\n%s", again)
	}
	fail("second-bad-flag")
	if out := explain(); !strings.Contains(out, "second-bad-flag") || strings.Contains(out, later) || strings.Contains(out, "first-bad-flag") {
		t.Errorf("after a new failure:\n%s", out)
	}
}

// With no record, a successful run creates nothing: a post-renderer runs on
// every helm upgrade.
func TestSuccessWithoutARecordCreatesNothing(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	if code, _, _ := runCmd([]string{"config", "--defaults"}, nil); code != cli.ExitOK {
		t.Fatalf("exit %d", code)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("a successful run created %v", entries)
	}
}

// A success sets the record aside only in the caller's own 0700 directory,
// never through a symbolic link to another.
func TestSuccessSetsNoRecordAsideOutsideAPrivateDir(t *testing.T) {
	for name, setup := range map[string]func(t *testing.T, dir string) string{
		"a symbolic link": func(t *testing.T, dir string) string {
			elsewhere := t.TempDir()
			if err := os.Symlink(elsewhere, dir); err != nil {
				t.Fatal(err)
			}
			return elsewhere
		},
		"mode 0755": func(t *testing.T, dir string) string {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			return dir
		},
	} {
		t.Run(name, func(t *testing.T) {
			cache := t.TempDir()
			t.Setenv("XDG_CACHE_HOME", cache)
			real := setup(t, filepath.Join(cache, recordDirName))
			record := filepath.Join(real, recordName)
			if err := os.WriteFile(record, []byte("someone's file\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, _, _ := runCmd([]string{"config", "--defaults"}, nil); code != cli.ExitOK {
				t.Fatalf("exit %d", code)
			}
			if b, err := os.ReadFile(record); err != nil || string(b) != "someone's file\n" {
				t.Errorf("the file was moved or changed: %q, %v", b, err)
			}
			if _, err := os.Lstat(filepath.Join(real, supersededName)); err == nil {
				t.Errorf("%s was created", supersededName)
			}
		})
	}
}

// What every successful post-renderer run pays for explain when there is
// no record: one lstat.
func BenchmarkSupersedeWithoutARecord(b *testing.B) {
	b.Setenv("XDG_CACHE_HOME", b.TempDir())
	for b.Loop() {
		supersedeFailure()
	}
}
