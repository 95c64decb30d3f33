package wiring

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Injector annotations that change where or how the injector writes a
// file, what else lands beside the files, or which Vault the agent talks to
// and how, would undo the plan while its own annotations all look right:
// the key written elsewhere or a second time with another mode (istiod then
// silently self-signs, or the key is readable), printed into the agent's
// log, the Vault token written into the volume, the agent's config or
// container replaced, no agent at all, the agent sent to a plain-HTTP
// Vault. A target carrying one is refused, so a drift check cannot call it
// converged. Annotation keys are matched as the injector matches them: its
// prefix and the annotation names case-sensitively (it looks them up in
// the pod's map), secret names case-insensitively (it lowercases them).
var (
	// perSecret are prefixes followed by a secret's raw name: the injector
	// collects a secret from every agent-inject-secret-, -template- and
	// -template-file- name and renders it to its lowercased name, with the
	// other settings of the same raw name. On a target only the plan's own
	// annotations may carry one, the tool writes them. Longer prefixes
	// first, so a name is cut at the right place.
	perSecret = []string{
		"agent-inject-template-file-", // takes the template from a file instead of ours
		"agent-inject-template-",
		"agent-inject-secret-",
		"agent-inject-file-",         // writes the file under another name
		"agent-inject-command-",      // runs a command after rendering, e.g. cat the key
		"agent-inject-perms-",        // the file's mode
		"secret-volume-path-",        // writes the file into another directory
		"error-on-missing-key-",      // renders an empty file when a field is missing
		"agent-template-left-delim-", // our templates' {{ would be written out as text
		"agent-template-right-delim-",
	}
	// whole are annotations that undo the plan for every file, with what
	// they do and the one value that leaves the plan intact ("" for none).
	whole = map[string]struct{ does, harmless string }{
		"agent-configmap":            {"replaces the agent's whole config, the tool's templates included", ""},
		"agent-inject-token":         {"writes the agent's Vault token into the volume beside the key", "false"},
		"agent-template-left-delim":  {"changes the template delimiters, so the tool's templates would be written out as text", ""},
		"agent-template-right-delim": {"changes the template delimiters, so the tool's templates would be written out as text", ""},
		"agent-json-patch":           {"rewrites the agent container (user, command, mounts)", ""},
		"agent-init-json-patch":      {"rewrites the agent container (user, command, mounts)", ""},
		"agent-run-as-same-user":     {"runs the agent as the workload's uid, not the one the files are written for", "false"},
		"agent-set-security-context": {"drops the agent's securityContext, so it runs as its image's user", "true"},
		"agent-pre-populate":         {"leaves out the init agent, so the workload starts with an empty secret volume (istiod then silently becomes a self-signed CA)", "true"},
		// The cache's listener is plain HTTP on 127.0.0.1:8200 with no
		// authentication: with the agent's own token forced onto every
		// request, any process that reaches the pod's loopback (the node's,
		// with hostNetwork) reads istiod's CA path through it.
		"agent-cache-use-auto-auth-token": {"lets any process on the pod's loopback read Vault with the agent's token, through the cache's unauthenticated listener", "false"},
		"agent-enable-quit":               {"lets any process on the pod's loopback stop the agent, and with it the renewal of the files", "false"},
	}
	// connection are annotations that change which Vault the agent talks
	// to and how it logs in, refused unless the plan writes them itself
	// (it then overwrites them): with the config field that sets them, the
	// config's own checks (no plain HTTP, a warning for tlsSkipVerify) are
	// not bypassed. harmless is the injector's default, which changes
	// nothing.
	connection = map[string]struct{ does, field, harmless string }{
		"service":                 {"points the agent at a Vault address the config does not set", "spec.vault.address", ""},
		"tls-skip-verify":         {"turns off the agent's verification of Vault's certificate, which the config does not ask for", "spec.vault.tlsSkipVerify", "false"},
		"ca-cert":                 {"makes the agent trust a CA for Vault that the config does not name", "spec.vault.caCert", ""},
		"namespace":               {"logs the agent in to a Vault namespace the config does not set", "spec.vault.namespace", ""},
		"agent-request-namespace": {"reads the files from a Vault namespace the config does not set", "spec.vault.namespace", ""},
		"proxy-address":           {"sends the agent's Vault traffic through a proxy", "", ""},
		"auth-type":               {"logs the agent in with another auth method than the Kubernetes one the Vault role is bound to", "", "kubernetes"},
		"tls-secret":              {"mounts a Secret the config does not name into the agent, for its TLS to Vault", "spec.vault.tlsSecret", ""},
		"tls-server-name":         {"changes the agent's TLS to Vault", "", ""},
		"client-cert":             {"changes the agent's TLS to Vault", "", ""},
		"client-key":              {"changes the agent's TLS to Vault", "", ""},
		"ca-key":                  {"changes the agent's TLS to Vault", "", ""},
		"auth-config-":            {"changes the agent's Kubernetes login", "", ""}, // a prefix: auth-config-<parameter>
	}
)

// Foreign is why an existing annotation on a target would undo the plan,
// and what else may be done than removing it.
type Foreign struct{ Why, instead string }

// Remedy is what to do about the annotation: remove (the annotation, or
// the patch that sets it), or what the plan accepts instead.
func (f *Foreign) Remedy(remove string) string {
	if f.instead == "" {
		return remove + " (istio-vault-ca decides where and how its files are written)"
	}
	return remove + f.instead
}

// ForeignAnnotation says why an existing annotation on a target would undo
// the plan, or nil if it does not. The plan's own annotations are never
// foreign: the tool overwrites them (or reconciles them in an installer's
// other maps), so its output passes its own check.
func (p *Plan) ForeignAnnotation(name, value string) *Foreign {
	short, ok := strings.CutPrefix(name, Prefix)
	if !ok || slices.ContainsFunc(p.Annotations, func(a Pair) bool { return a.Name == name }) {
		return nil
	}
	if short == "agent-inject-status" {
		return p.foreignStatus(value)
	}
	if w, found := whole[short]; found {
		if w.harmless == "" {
			return &Foreign{Why: w.does}
		}
		if value != w.harmless {
			return &Foreign{Why: fmt.Sprintf("is %q: only %q is accepted, since anything meaning otherwise %s", value, w.harmless, w.does), instead: fmt.Sprintf(", or set it to %q", w.harmless)}
		}
		return nil
	}
	for _, prefix := range perSecret {
		raw, ok := strings.CutPrefix(short, prefix)
		if !ok {
			continue
		}
		i := slices.IndexFunc(p.Files, func(f File) bool { return strings.ToLower(raw) == strings.ToLower(f.Name) })
		switch {
		case i >= 0 && raw == p.Files[i].Name:
			return &Foreign{Why: "changes where or how the injector writes " + raw}
		case i >= 0:
			return &Foreign{Why: fmt.Sprintf("is a second secret the injector also writes as %s (it lowercases secret names), with settings of its own", p.Files[i].Name)}
		}
		return &Foreign{Why: fmt.Sprintf("is for another secret, %q, that the injector would render beside the tool's files with the same agent, which can read the CA key: only the files istio-vault-ca renders may be injected into this workload", raw)}
	}
	c, found := connection[short]
	if !found && strings.HasPrefix(short, "auth-config-") {
		c, found = connection["auth-config-"], true
	}
	if found {
		if c.harmless != "" && value == c.harmless {
			return nil
		}
		f := &Foreign{Why: c.does}
		if c.field != "" {
			f.instead = " and set " + c.field + " in the config instead"
		}
		return f
	}
	return nil
}

// foreignStatus says what the injector's status annotation, set on a target
// to value, would do. The injector (vault-k8s agent-inject/agent/agent.go,
// ShouldInject) skips a pod whose status is "injected" and mutates one with
// any other value, setting it to "injected" in the same patch; a pod it does
// not mutate keeps the value, and istiod's ROOT_CA_DIR, built from it
// (EnvInjectStatus), is then <VolumePath>/<value>.
func (p *Plan) foreignStatus(value string) *Foreign {
	const statusRemedy = " (the injector sets it itself)"
	const own = "is the injector's own record of having mutated the pod, which only the injector may write"
	if value == InjectedStatus {
		why := fmt.Sprintf("is %q, which tells the injector the pod is already mutated, so it adds no agent and no secret volume", value)
		if p.Guard != nil {
			why += fmt.Sprintf(": istiod's ROOT_CA_DIR is then %s, where nothing is mounted, and istiod becomes a self-signed CA", p.FilesDir)
		} else {
			why += ": the gateway gets none of its certificate files"
		}
		return &Foreign{Why: why, instead: statusRemedy}
	}
	if p.Guard == nil {
		return &Foreign{Why: fmt.Sprintf("is %q: it %s (it mutates the pod and sets it to %q)", value, own, InjectedStatus), instead: statusRemedy}
	}
	dir := p.VolumePath + "/" + value
	if clean := path.Clean(dir); clean == path.Clean(p.VolumePath) || clean == path.Join(p.VolumePath, "$("+EnvInjectStatus+")") {
		return &Foreign{Why: fmt.Sprintf("is %q: it %s, and from which istiod's ROOT_CA_DIR is built", value, own), instead: statusRemedy}
	}
	return &Foreign{Why: fmt.Sprintf("is %q: the injector still mutates the pod and sets it to %q, but in a pod it does not mutate (its webhook unreachable, or not matching the pod; failurePolicy Ignore creates the pod anyway) the value stays, and istiod's ROOT_CA_DIR, built from it, is %s, which the guard volume does not hold: istiod becomes a self-signed CA instead of exiting",
		value, InjectedStatus, dir), instead: statusRemedy}
}
