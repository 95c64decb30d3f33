// Command istio-vault-ca rewrites Istio manifests so that istiod loads its
// plugged-in CA from Vault, through the Vault Agent Injector, instead of from
// the cacerts Secret. It is a Helm post-renderer (stdin to stdout), a KRM
// function (a ResourceList on stdin) and a drift check, over one core.
//
// Exit codes: 0 success, 1 drift, 2 bad input, config or usage. On any error
// nothing is written to stdout.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/drift"
	"github.com/istio-vault-ca/istio-vault-ca/internal/policy"
	"github.com/istio-vault-ca/istio-vault-ca/internal/twopass"
)

const usage = `istio-vault-ca: load istiod's plugged-in CA from Vault instead of a Kubernetes Secret.

Usage:
  istio-vault-ca [--config FILE] [--verbose] < manifests.yaml > out.yaml
  istio-vault-ca --version
      Helm post-renderer: a multi-document stream in, the same stream out.
      A ResourceList on stdin runs as a KRM function (functionConfig: VaultCA),
      through istio-vault-ca-fn, which kustomize and kpt can also run directly.
  istio-vault-ca patches [--config FILE] < manifests.yaml > patches.yaml
      The kustomize strategic-merge patches that give every target Deployment
      in the stream the same settings (for Flux HelmRelease postRenderers).
  istio-vault-ca check [--config FILE] FILE|DIR...
      Exit 0 if the files (a directory: every .yaml, .yml and .json file below
      it, links to files followed, .git passed over) already carry the
      config, 1 with a unified diff if not. The files are also linted (see
      lint): findings go to stderr, and one of severity error fails the check.
  istio-vault-ca lint FILE|DIR|-...
      Report known pitfalls in committed or rendered manifests (- is stdin;
      directories as check walks them), one line each on stdout:
      FILE:LINE: SEVERITY ID: document N (Kind ns/name) FIELD: what to do.
      Reads no config. Exit 0 none (or information only), 1 an error or a
      warning, 2 bad input or usage.
  istio-vault-ca policy [--config FILE] [--output hcl|json|role|commands] [--role NAME]
      Print the Vault policy that allows exactly what istiod's agent reads (hcl,
      the default: pipe into "vault policy write NAME -"), its Kubernetes-auth
      role body (role: pipe into "vault write AUTHPATH/role/NAME -"), or vault
      CLI commands writing every policy and role (commands). Each role gets a
      policy of its own; --role picks a gateway's instead of istiod's.
      With spec.source.istioCSR: the issuer's policy (update on
      <mount>/sign/<role>), its role (cert-manager's audience), and with
      commands the PKI role signing needs.
  istio-vault-ca issuer [--config FILE] [--output resources|istio-csr-values]
      With spec.source.istioCSR: print cert-manager's Vault Issuer, its
      ServiceAccount and the Role and RoleBinding that let cert-manager
      request that account's tokens (resources, the default: kubectl apply -f -),
      or the istio-csr Helm values that match (istio-csr-values: helm -f -).
  istio-vault-ca verify [--config FILE] [--role NAME] [--jwt FILE] [--ca-cert FILE] [--warn-days N] [--timeout D] [--allow-insecure-http]
      Read every path the config references from Vault (VAULT_ADDR, VAULT_TOKEN,
      VAULT_CACERT, VAULT_NAMESPACE) and check the CA bundle istiod would load:
      fields present, PEM of the right type, key matches cert, chain to root,
      days to expiry. --jwt logs in with istiod's service-account token first
      and checks istiod's paths only; --role NAME --jwt FILE a gateway's.
      With spec.source.istioCSR: the PKI role's settings and the chain to a root.
      Exit 0 all checks pass, 1 a check failed, 2 bad config or usage.
  istio-vault-ca bootstrap [--config FILE] [--rotate] [--ttl D] [--common-name CN] [--key-type rsa|ec] [--ca-cert FILE] [--timeout D] [--allow-insecure-http]
      Mint a PKI source's intermediate once per cluster, with an operator's
      VAULT_TOKEN: enable spec.source.pki.mount if absent, generate the
      intermediate (exported key), sign it with rootMount's root, set it with
      its chain, store the key in KV v2 at spec.source.pki.key. A second run
      changes nothing; a half-done state is named, no key overwritten.
      --rotate mints the next one, its key a new KV version. --ttl (8760h),
      --common-name ("Istio intermediate CA CLUSTER"), --key-type (rsa).
      The key is never printed. Exit 0 done, 1 Vault failed, 2 bad config.
  istio-vault-ca rotate-plan [--config FILE] [--next FILE] [--output-dir DIR [--force]]
      Print the three steps of a root rotation as VaultCA configs to apply in
      order, from the config in use (the old CA) to the new CA: --next (the
      config whose spec.source is the new CA) or, without it, the config's
      spec.rootRotation.next (kv, pki or mint, as spec.source): 1) the old key
      and certificates with both roots, 2) the new key and certificates with
      both roots, 3) the new root alone. Each document's comments say what to
      check before the next. --output-dir writes step-1.yaml, step-2.yaml and
      step-3.yaml instead (creating the directory; an existing step file is
      refused unless --force). mint rotates to another root mount; istioCSR
      is refused (istio-csr holds the roots).
  istio-vault-ca config --defaults
      Print every default, documented.
  istio-vault-ca explain
      Print the message of the last failed run (Helm 4 does not show a
      post-renderer plugin's stderr), or, after a later success, say so above it.
  istio-vault-ca config [--config FILE]
      Print the effective config (defaults applied, {{ .Cluster }} expanded).
  istio-vault-ca migrate [--cluster NAME] [--allow-plain-http] [--ca-cert-out FILE] FILE|-
      Print the VaultCA (source istioCSR) for Istio 1.1's node agent with
      CA_PROVIDER=VaultCA, read from its values file or rendered manifests;
      what it could not carry over and what is left to do are comments
      at the top. Reads no config.

The config is --config FILE, else $ISTIO_VAULT_CA_CONFIG, else ./vaultca.yaml.
Exit codes: 0 success, 1 drift or findings, 2 bad input, config or usage.
`

func main() {
	tuneGC()
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// tuneGC trades a little memory for time: a run is short and its live heap
// small (the changed documents, and at most 4 MiB of stream), so collecting
// at 5x instead of 2x the live heap saves most collections, while the soft
// limit keeps a long stream flat. GOGC and GOMEMLIMIT, when set, win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(24 << 20)
	}
}

// run is main without the process: testable, and the single place that
// decides exit codes. A failed run's message is also kept for `explain`.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	rec := &recorder{w: stderr}
	code := dispatch(args, stdin, stdout, rec)
	// explain's own failure is not recorded: it would replace the record
	// it failed to show.
	explain := len(args) > 0 && args[0] == "explain"
	switch {
	case explain:
	case code != cli.ExitOK && rec.buf.Len() > 0:
		if err := keepFailure(args, rec); err != nil {
			fmt.Fprintf(stderr, "istio-vault-ca: this message is not kept for `istio-vault-ca explain`: %v\n", err)
		}
	case code == cli.ExitOK:
		// A failure recorded before is no longer the last run's.
		supersedeFailure()
	}
	return code
}

// subcommands are the first arguments dispatch knows.
var subcommands = []string{"check", "lint", "config", "policy", "issuer", "verify", "bootstrap", "patches", "explain", "migrate", "rotate-plan"}

func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	args = subcommandFirst(args)
	if slices.ContainsFunc(args, func(a string) bool { return a == "--version" || a == "-version" }) {
		fmt.Fprintln(stdout, version())
		return cli.ExitOK
	}
	if len(args) > 0 && slices.Contains(subcommands, args[0]) && wantsHelp(args[1:]) {
		fmt.Fprint(stdout, subcommandUsage(args[0]))
		return cli.ExitOK
	}
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintln(stdout, version())
			return cli.ExitOK
		case "check":
			return runCheck(args[1:], stdout, stderr)
		case "lint":
			return runLint(args[1:], stdin, stdout, stderr)
		case "config":
			return runConfig(args[1:], stdout, stderr)
		case "policy":
			return runPolicy(args[1:], stdout, stderr)
		case "issuer":
			return runIssuer(args[1:], stdout, stderr)
		case "verify":
			return runVerify(args[1:], stdin, stdout, stderr)
		case "bootstrap":
			return runBootstrap(args[1:], stdin, stdout, stderr)
		case "patches":
			return runPatches(args[1:], stdin, stdout, stderr)
		case "explain":
			return runExplain(stdout, stderr)
		case "migrate":
			return runMigrate(args[1:], stdin, stdout, stderr)
		case "rotate-plan":
			return runRotatePlan(args[1:], stdout, stderr)
		case "help", "-h", "--help":
			fmt.Fprint(stdout, usage)
			return cli.ExitOK
		}
	}
	return runRender(args, stdin, stdout, stderr)
}

// subcommandFirst moves the common flags a user wrote before the
// subcommand (`--config FILE policy`) after it, where its flag set reads
// them. Without a subcommand the arguments are the post-renderer's.
func subcommandFirst(args []string) []string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--config" || a == "-config":
			i++ // its value
		case strings.HasPrefix(a, "-"):
		case slices.Contains(subcommands, a):
			return append(append([]string{a}, args[:i]...), args[i+1:]...)
		default:
			return args
		}
	}
	return args
}

// wantsHelp: -h, -help or --help among a subcommand's flags (before any
// argument, where the flag package would read it).
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch {
		case a == "-h" || a == "-help" || a == "--help":
			return true
		case a == "--":
			return false
		}
	}
	return false
}

// subcommandUsage is the part of the usage text about one subcommand.
func subcommandUsage(name string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.SplitAfter(usage, "\n") {
		switch {
		case strings.HasPrefix(line, "  istio-vault-ca "+name+" ") || strings.HasPrefix(line, "  istio-vault-ca "+name+"\n"):
			in = true
		case !strings.HasPrefix(line, "      "):
			in = false
		}
		if in {
			b.WriteString(line)
		}
	}
	return "Usage:\n" + b.String() + "\nThe config is --config FILE, else $" + cli.EnvConfig + ", else ./" + cli.DefaultConfigFile + ".\nExit codes: 0 success, 1 drift, findings or a failed check, 2 bad input, config or usage.\n"
}

// version is the module version and commit the binary was built from, as
// the Go toolchain recorded them.
func version() string {
	v, rev, dirty := "(unknown)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	out := "istio-vault-ca " + v
	if rev != "" {
		out += " (commit " + rev
		if dirty {
			out += ", modified"
		}
		out += ")"
	}
	return out
}

func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *cli.Common) {
	return cli.NewFlags(name, usage, stderr)
}

func runRender(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, c := newFlags("istio-vault-ca", stderr)
	if err := fs.Parse(args); err != nil {
		return cli.ExitBadInput
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "istio-vault-ca: unexpected argument %q: manifests are read from stdin\n", fs.Arg(0))
		return cli.ExitBadInput
	}
	src, err := twopass.Open(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: reading stdin: %v\n", err)
		return cli.ExitBadInput
	}
	defer src.Close()
	return renderSource(src, c, stdout, stderr)
}

// renderSource runs the front end stdin asks for: the KRM function for a
// ResourceList, the post-renderer otherwise. A mapped stdin file cut short
// meanwhile fails the run as changed.
func renderSource(src *twopass.Source, c *cli.Common, stdout, stderr io.Writer) (code int) {
	defer src.Guard(func(err error) {
		fmt.Fprintf(stderr, "istio-vault-ca: %v\n", err)
		code = cli.ExitBadInput
	})()
	rl, err := isResourceList(src.Lines())
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: reading stdin: %v\n", err)
		return cli.ExitBadInput
	}
	if rl {
		return runFunction(src.Reader(), stdout, stderr)
	}
	_, t, err := cli.LoadTransformer(c, stderr)
	if err != nil {
		return cli.Fail(stderr, err)
	}
	return render(t, src, c.Verbose, stdout, stderr)
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs, c := newFlags("check", stderr)
	if err := fs.Parse(args); err != nil {
		return cli.ExitBadInput
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "istio-vault-ca check: name the manifest files to check")
		return cli.ExitBadInput
	}
	_, t, err := cli.LoadTransformer(c, stderr)
	if err != nil {
		return cli.Fail(stderr, err)
	}
	files, skipped, err := drift.Files(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca check: %v\n", err)
		return cli.ExitBadInput
	}
	for _, p := range skipped {
		fmt.Fprintf(stderr, "istio-vault-ca check: %s: not checked (a link to a directory, or not a regular file): name it directly\n", p)
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "istio-vault-ca check: no .yaml, .yml or .json file in %s\n", strings.Join(fs.Args(), ", "))
		return cli.ExitBadInput
	}
	var report, lintReport bytes.Buffer
	drifted, linted := false, false
	for _, file := range files {
		d, failed, err := checkFile(t, file, &lintReport)
		linted = linted || failed
		if err != nil {
			fmt.Fprintf(stderr, "istio-vault-ca: %s: %v\n", file, err)
			return cli.ExitBadInput
		}
		if d != "" {
			drifted = true
			report.WriteString(d)
		} else if c.Verbose {
			fmt.Fprintf(stderr, "istio-vault-ca: %s: converged\n", file)
		}
	}
	stderr.Write(lintReport.Bytes())
	if drifted {
		stdout.Write(report.Bytes())
		fmt.Fprintln(stderr, "istio-vault-ca: manifests have drifted from the config: re-render them (the unified diff istio-vault-ca check writes to standard output shows how)")
	}
	if linted {
		fmt.Fprintln(stderr, "istio-vault-ca: the lint found errors in the manifests (above): fix them, each line says how")
	}
	if drifted || linted {
		return cli.ExitFailed
	}
	return cli.ExitOK
}

func runConfig(args []string, stdout, stderr io.Writer) int {
	fs, c := newFlags("config", stderr)
	defaults := fs.Bool("defaults", false, "print every default, documented")
	if !cli.ParseNoArgs(fs, args, stderr, "") {
		return cli.ExitBadInput
	}
	if *defaults {
		stdout.Write(config.DefaultsYAML)
		return cli.ExitOK
	}
	cfg, err := cli.LoadConfig(c, stderr)
	if err != nil {
		return cli.Fail(stderr, err)
	}
	out, err := cfg.YAML()
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: %v\n", err)
		return cli.ExitBadInput
	}
	stdout.Write(out)
	return cli.ExitOK
}

func runPatches(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, c := newFlags("patches", stderr)
	if !cli.ParseNoArgs(fs, args, stderr, " (manifests are read from stdin)") {
		return cli.ExitBadInput
	}
	_, t, err := cli.LoadTransformer(c, stderr)
	if err != nil {
		return cli.Fail(stderr, err)
	}
	// Patches are a few lines a target: held in memory until the whole
	// stream has passed, so that a bad document means nothing on stdout.
	var out bytes.Buffer
	if err := t.Patches(stdin, &out); err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: %v\n", err)
		return cli.ExitBadInput
	}
	if c.Verbose {
		// One patch a target Deployment, as Patches writes them.
		if n := bytes.Count(append([]byte("\n"), out.Bytes()...), []byte("\nkind: Deployment\n")); n == 0 {
			fmt.Fprintln(stderr, "istio-vault-ca: no patch: the stream holds no target Deployment (istiod, or a gateway a selector picks)")
		} else {
			fmt.Fprintf(stderr, "istio-vault-ca: %d patch(es)\n", n)
		}
	}
	stdout.Write(out.Bytes())
	return cli.ExitOK
}

func runPolicy(args []string, stdout, stderr io.Writer) int {
	fs, c := newFlags("policy", stderr)
	output := fs.String("output", "hcl", "hcl, json, role (the Kubernetes-auth role's body) or commands (everything, as vault CLI commands)")
	roleName := fs.String("role", "", "with hcl, json or role: the role (name or path) whose policy or body to print; default istiod's")
	if !cli.ParseNoArgs(fs, args, stderr, "") {
		return cli.ExitBadInput
	}
	cfg, t, err := cli.LoadTransformer(c, stderr)
	if err != nil {
		return cli.Fail(stderr, err)
	}
	set := policy.For(cfg, t.Plans()...)
	if *output == "commands" {
		if *roleName != "" {
			fmt.Fprintln(stderr, "istio-vault-ca policy: --role picks one role's policy (hcl, json) or body (role); --output commands writes every policy and role: drop one of them")
			return cli.ExitBadInput
		}
		fmt.Fprint(stdout, set.Commands())
		return cli.ExitOK
	}
	role, err := set.RoleNamed(*roleName)
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca policy: --role: %v\n", err)
		return cli.ExitBadInput
	}
	var out strings.Builder
	switch *output {
	case "hcl":
		for _, p := range set.PoliciesOf(role) {
			out.WriteString(set.HCL(p))
		}
	case "json":
		for _, p := range set.PoliciesOf(role) {
			out.WriteString(p.JSON())
		}
	case "role":
		out.WriteString(role.JSON())
	default:
		fmt.Fprintf(stderr, "istio-vault-ca policy: --output must be hcl, json, role or commands, got %q\n", *output)
		return cli.ExitBadInput
	}
	fmt.Fprint(stdout, out.String())
	return cli.ExitOK
}
