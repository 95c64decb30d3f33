// Package cli is what the tool's executables share on the command line:
// exit codes, the --config and --verbose flags, and how the config is found
// and loaded.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
)

// Exit codes, the same for every subcommand.
const (
	ExitOK       = 0 // success; converged; every check passed
	ExitFailed   = 1 // drift (check) or a failed verification (verify)
	ExitBadInput = 2 // bad input, config or usage: nothing was written to stdout
)

const (
	// EnvConfig names the config file when --config does not.
	EnvConfig = "ISTIO_VAULT_CA_CONFIG"
	// DefaultConfigFile is the config when neither the flag nor the
	// environment names one.
	DefaultConfigFile = "vaultca.yaml"
)

// ErrNoConfig says how to give a config.
var ErrNoConfig = errors.New("no config: pass --config FILE, set $" + EnvConfig + ", or put " + DefaultConfigFile + " in the current directory")

// Common are the flags every subcommand takes.
type Common struct {
	ConfigFile string
	Verbose    bool
}

// NewFlags is a subcommand's flag set, with the common flags defined; a
// usage error prints usage.
func NewFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *Common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	c := &Common{}
	fs.StringVar(&c.ConfigFile, "config", "", "VaultCA config file (default $"+EnvConfig+", then ./"+DefaultConfigFile+")")
	fs.BoolVar(&c.Verbose, "verbose", false, "say on stderr which config was used (and, for check, which files converged)")
	return fs, c
}

// ParseNoArgs parses the flags of a subcommand that takes no argument. A
// file named without --config would be ignored and ./vaultca.yaml (or
// $ISTIO_VAULT_CA_CONFIG) used instead, with exit 0: refuse it, saying
// input (what the subcommand reads instead, if anything). Flag parsing
// stops at the first argument, so the flags after it are unread too.
func ParseNoArgs(fs *flag.FlagSet, args []string, stderr io.Writer, input string) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "istio-vault-ca %s: unexpected argument %q: pass the config with --config %s%s\n", fs.Name(), fs.Arg(0), fs.Arg(0), input)
		return false
	}
	return true
}

// ResolveConfig picks the config file: the flag, else the environment (Helm
// 3 passes arguments only through --post-renderer-args), else
// ./vaultca.yaml. It says which, for --verbose.
func ResolveConfig(flagValue string) (file, how string, err error) {
	switch {
	case flagValue != "":
		return flagValue, "--config", nil
	case os.Getenv(EnvConfig) != "":
		return os.Getenv(EnvConfig), "$" + EnvConfig, nil
	}
	if _, err := os.Stat(DefaultConfigFile); err == nil {
		return DefaultConfigFile, "./" + DefaultConfigFile, nil
	}
	return "", "", ErrNoConfig
}

// LoadTransformer loads the config and derives its plans. A failure is
// bad input: report it with Fail. What it says on stderr meanwhile (which
// config, with --verbose; the config's warnings) it has said.
func LoadTransformer(c *Common, stderr io.Writer) (*config.VaultCA, *transform.Transformer, error) {
	cfg, err := LoadConfig(c, stderr)
	if err != nil {
		return nil, nil, err
	}
	t, err := transform.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, t, nil
}

// LoadConfig finds, reads and validates the config, as LoadTransformer.
func LoadConfig(c *Common, stderr io.Writer) (*config.VaultCA, error) {
	file, how, err := ResolveConfig(c.ConfigFile)
	if err != nil {
		return nil, err
	}
	if c.Verbose {
		fmt.Fprintf(stderr, "istio-vault-ca: config %s (%s)\n", file, how)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg, err := config.Load(data, file)
	if err != nil {
		e := &invalidConfig{err: err}
		if config.IsNotVaultCA(err) {
			from := "--config"
			if how != "--config" {
				from += " (here " + how + ")"
			}
			e.hint = fmt.Sprintf("%s takes a VaultCA resource, apiVersion %s, kind %s (`istio-vault-ca config --defaults` prints one); manifests to rewrite go on stdin", from, config.APIVersion, config.Kind)
		}
		return nil, e
	}
	// Every subcommand loads the config here, so each warns once; stdout
	// and the exit code stay what they would be without the warning.
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "istio-vault-ca: warning: %v\n", w)
	}
	return cfg, nil
}

// invalidConfig is a config that does not load: its errors, one a line
// below the first, and what to pass instead when it is not a VaultCA at
// all, as a message line of its own.
type invalidConfig struct {
	err  error
	hint string
}

func (e *invalidConfig) Error() string {
	s := "invalid config:\n" + e.err.Error()
	if e.hint != "" {
		s += "\nistio-vault-ca: " + e.hint
	}
	return s
}

func (e *invalidConfig) Unwrap() error { return e.err }

// Fail reports a failure to load the config (or anything else that is bad
// input) on stderr and returns its exit code, ExitBadInput:
//
//	cfg, t, err := cli.LoadTransformer(c, stderr)
//	if err != nil {
//		return cli.Fail(stderr, err)
//	}
func Fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "istio-vault-ca: %v\n", err)
	return ExitBadInput
}
