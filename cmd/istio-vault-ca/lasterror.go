package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
)

// Helm 4 runs post-renderers as plugins and does not show their stderr: a
// user sees only that the plugin failed. So every failed run also leaves
// its message in a file, and `istio-vault-ca explain` prints it.
//
// The record outlives the run and may be written by root, so it is kept
// only where no other user can read it or plant something in its place: in
// the caller's own cache directory, never in a directory shared with other
// users (there is no fallback to the temporary directory). Its directory
// must be the caller's and mode 0700; the record is written to a new file
// and renamed into place, so no existing file, symbolic link or FIFO there
// is ever opened for writing.

const (
	recordDirName = "istio-vault-ca"
	recordName    = "last-error.log"
	// supersededName is where a successful run moves the record: explain
	// still shows it, but not as the last run's.
	supersededName = "last-error-superseded.log"
	// maxRecord bounds what is kept of a run's stderr, and so what explain
	// reads back: a message is a few lines, and a runaway one must not
	// fill the cache or the memory of the run that records it.
	maxRecord = 64 << 10
)

// errNoRecord says that no failed run has been recorded.
var errNoRecord = errors.New("no failed run recorded")

// recordDir is the directory the record is kept in, or why there is none.
func recordDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("failed runs are not recorded without a cache directory of this user's own: %v (a shared one, like the temporary directory, would let other users read or replace the record)", err)
	}
	return filepath.Join(cache, recordDirName), nil
}

// recorder copies stderr so a failure can be kept, up to maxRecord bytes.
type recorder struct {
	w       io.Writer
	buf     bytes.Buffer
	dropped int64
}

func (r *recorder) Write(p []byte) (int, error) {
	keep := min(len(p), maxRecord-r.buf.Len())
	r.buf.Write(p[:keep])
	r.dropped += int64(len(p) - keep)
	return r.w.Write(p)
}

// keepFailure writes what a failed run said, with when and how it was run,
// and returns why it could not.
func keepFailure(args []string, rec *recorder) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s istio-vault-ca %s\n", time.Now().UTC().Format(time.RFC3339), argvShape(args))
	b.Write(redactTokens(rec.buf.Bytes()))
	if rec.dropped > 0 {
		fmt.Fprintf(&b, "\n[%d more bytes of the message were not kept]\n", rec.dropped)
	}
	return writeRecord(b.Bytes())
}

// Flags by whether they take a value, across every subcommand. Only these
// names reach the record; any other is written as --unknown-flag.
var (
	valueFlags = map[string]bool{"config": true, "output": true, "role": true, "jwt": true, "warn-days": true, "timeout": true, "ttl": true, "common-name": true, "key-type": true}
	boolFlags  = map[string]bool{"verbose": true, "defaults": true, "allow-insecure-http": true, "rotate": true, "h": true, "help": true}
)

// argvShape is how the run was invoked, without a single value: a value or
// argument may be a secret (`verify --jwt "$JWT"` with the token instead of
// a path), and the record outlives the run. It keeps the subcommand and the
// flag names, e.g. `verify --jwt=… --config=…`, and writes … for each
// argument. Flags are read as the flag package reads them: up to the first
// argument that is not one, or --.
func argvShape(args []string) string {
	var out []string
	if len(args) > 0 && (slices.Contains(subcommands, args[0]) || args[0] == "help") {
		out = append(out, args[0])
		args = args[1:]
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			for range args[i:] {
				out = append(out, "…")
			}
			break
		}
		if a == "--" {
			out = append(out, "--")
			for range args[i+1:] {
				out = append(out, "…")
			}
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case !valueFlags[name] && !boolFlags[name]:
			name = "unknown-flag"
		case valueFlags[name] && !hasValue && i+1 < len(args):
			hasValue = true
			i++
		}
		if hasValue {
			out = append(out, "--"+name+"=…")
		} else {
			out = append(out, "--"+name)
		}
	}
	return strings.Join(out, " ")
}

// tokenShapes are credentials that could reach a message all the same (an
// argument echoed back): JSON Web Tokens, such as a service-account token,
// and Vault tokens, current (hvs., hvb., hvr.) and from before Vault 1.10
// (s., b., r. and at least 24 base62 characters).
var tokenShapes = `eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*|\bhv[sbr]\.[A-Za-z0-9_-]{20,}|\b[sbr]\.[A-Za-z0-9]{24,}\b`

// urlUserinfo is the user name and password of a URL, up to the @ before
// its host: a Vault or proxy address may carry them.
var urlUserinfo = `([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s@"'<>]+@`

// redactTokens replaces anything shaped like a token, and the userinfo of
// URLs. The expressions are compiled only here, on a failed run: a regular
// expression at every start would cost every run.
func redactTokens(msg []byte) []byte {
	msg = regexp.MustCompile(urlUserinfo).ReplaceAll(msg, []byte("${1}xxxxx@"))
	return regexp.MustCompile(tokenShapes).ReplaceAll(msg, []byte("[redacted token]"))
}

func runExplain(stdout, stderr io.Writer) int {
	b, superseded, err := readRecord()
	switch {
	case errors.Is(err, errNoRecord):
		fmt.Fprintln(stdout, "istio-vault-ca: "+errNoRecord.Error())
		return cli.ExitOK
	case err != nil:
		fmt.Fprintf(stderr, "istio-vault-ca explain: %v\n", err)
		return cli.ExitBadInput
	}
	if superseded {
		fmt.Fprintf(stdout, "istio-vault-ca: a later run succeeded; the last failed run%s was:\n", failedAt(b))
	}
	stdout.Write(b)
	return cli.ExitOK
}

// failedAt is " (at T)", T the time keepFailure put first in the record,
// or empty when the record does not start with one.
func failedAt(record []byte) string {
	first, _, _ := bytes.Cut(record, []byte(" "))
	t, err := time.Parse(time.RFC3339, string(first))
	if err != nil {
		return ""
	}
	return " (at " + t.Format(time.RFC3339) + ")"
}
