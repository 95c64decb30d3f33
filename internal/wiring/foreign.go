package wiring

import (
	"slices"
	"strings"
)

// Injector annotations that change where or how the injector writes a
// file, or what else lands beside the files, would undo the plan while its
// own annotations all look right: the key written elsewhere (istiod then
// silently self-signs), printed into the agent's log, the Vault token
// written into the volume, the agent's config or container replaced. A
// target carrying one is refused, so a drift check cannot call it converged.
var (
	// foreignPerFile are prefixes followed by a file name: only the plan's
	// own files are refused (another secret's settings are not ours).
	foreignPerFile = []string{
		"agent-inject-file-",          // writes the file under another name
		"agent-inject-command-",       // runs a command after rendering, e.g. cat the key
		"agent-inject-template-file-", // takes the template from a file instead of ours
		"secret-volume-path-",         // writes the file into another directory
	}
	// foreignWhole are annotations that change every file, with the value
	// that leaves the plan intact ("" for none).
	foreignWhole = map[string]string{
		"agent-configmap":            "",      // the whole agent config from a ConfigMap, not our templates
		"agent-inject-token":         "false", // the Vault token into the volume beside the key
		"agent-template-left-delim":  "",      // our templates' {{ would be written out as text
		"agent-template-right-delim": "",
		"agent-json-patch":           "", // rewrites the agent container (user, command, mounts)
		"agent-init-json-patch":      "",
		"agent-run-as-same-user":     "false", // the agent takes the workload's uid, not the one the key is written for
		"agent-set-security-context": "true",  // no securityContext: the agent runs as its image's user
	}
)

// ForeignAnnotation says why an existing annotation on a target would undo
// the plan, or "" if it does not.
func (p *Plan) ForeignAnnotation(name, value string) string {
	short, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return ""
	}
	if harmless, found := foreignWhole[short]; found && value != harmless {
		return "changes how the injector writes every file the tool renders"
	}
	for _, prefix := range foreignPerFile {
		if file, ok := strings.CutPrefix(short, prefix); ok && slices.ContainsFunc(p.Files, func(f File) bool { return f.Name == file }) {
			return "changes where or how the injector writes " + file
		}
	}
	return ""
}
