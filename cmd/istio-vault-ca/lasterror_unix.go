//go:build unix

package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// openRecordDir opens the record's directory, creating it if asked, and
// refuses one that is not private to the caller: another user may have made
// it first (it then holds what they planted), or may read what is in it.
// The directory is checked as opened, so that swapping it for a symbolic
// link between the check and the use is noticed too.
func openRecordDir(create bool) (*os.Root, error) {
	dir, err := recordDir()
	if err != nil {
		return nil, err
	}
	if create {
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return nil, err
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil, errNoRecord
	}
	if err != nil {
		return nil, err
	}
	if err := private(dir, fi); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	opened, err := root.Stat(".")
	if err == nil && !os.SameFile(fi, opened) {
		err = fmt.Errorf("%s was replaced while it was being opened", dir)
	}
	if err == nil {
		err = private(dir, opened)
	}
	if err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

// private reports why dir, as fi describes it, is not the caller's own
// directory of mode 0700.
func private(dir string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: not used for the record of failed runs; remove it", dir)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory: not used for the record of failed runs; remove it", dir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: cannot tell its owner", dir)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("%s belongs to uid %d, not to this user (uid %d): not used for the record of failed runs, as it may hold what another user put there; remove it", dir, st.Uid, uid)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o, which lets other users in: not used for the record of failed runs; chmod 700 it", dir, perm)
	}
	return nil
}

// writeRecord replaces the record with b: a new file of mode 0600 that no
// one else can have opened, renamed over whatever was there.
func writeRecord(b []byte) error {
	root, err := openRecordDir(true)
	if err != nil {
		return err
	}
	defer root.Close()
	tmp := fmt.Sprintf(".%s.%d.%d", recordName, os.Getpid(), time.Now().UnixNano())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, recordName)
	}
	if err != nil {
		root.Remove(tmp)
	}
	return err
}

// readRecord returns the record of the last failed run, and whether a
// later run succeeded: the record is then the one supersedeFailure set
// aside.
func readRecord() ([]byte, bool, error) {
	root, err := openRecordDir(false)
	if err != nil {
		return nil, false, err
	}
	defer root.Close()
	b, err := readRecordFile(root, recordName)
	if !errors.Is(err, errNoRecord) {
		return b, false, err
	}
	b, err = readRecordFile(root, supersededName)
	return b, err == nil, err
}

// readRecordFile returns one record file, at most maxRecord bytes and a
// line more of what keepFailure adds. Only a regular file is read: not a
// symbolic link, which would make explain print a file of someone else's
// choosing, nor a FIFO, which would block it.
func readRecordFile(root *os.Root, name string) ([]byte, error) {
	where := filepath.Join(root.Name(), name)
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoRecord
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%v): not read; remove it", where, fi.Mode().Type())
	}
	// O_NONBLOCK: should the file have become a FIFO since, opening it
	// returns at once instead of waiting for a writer.
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if opened, err := f.Stat(); err != nil || !os.SameFile(fi, opened) {
		return nil, fmt.Errorf("%s was replaced while it was being opened: not read", where)
	}
	const limit = maxRecord + 4<<10
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		b = append(b[:limit], fmt.Sprintf("\n[%s is larger than %d bytes: the rest is not shown]\n", where, limit)...)
	}
	return b, nil
}

// supersedeFailure sets the record aside after a successful run, so that
// explain no longer shows it as the last run's. A post-renderer runs on
// every helm upgrade: when there is no record, the usual case, this costs
// one lstat, and creates nothing. Only when there is one is the directory
// checked as writeRecord checks it, and the record renamed within it
// (a rename moves a symbolic link itself, never what it points to). What
// fails here is not said: the run succeeded, and its stderr is a helm
// user's.
func supersedeFailure() {
	dir, err := recordDir()
	if err != nil {
		return
	}
	if _, err := os.Lstat(filepath.Join(dir, recordName)); err != nil {
		return
	}
	root, err := openRecordDir(false)
	if err != nil {
		return
	}
	defer root.Close()
	root.Rename(recordName, supersededName)
}
