package wiring

import (
	"fmt"
	"slices"
	"strconv"
)

// RunAs is what a workload's container runs as, from its securityContext
// (the container's, else the pod's); nil where neither sets it.
type RunAs struct{ User, Group *int64 }

// GroupReadableKeyPerms is the key mode for a proxy that reads its key
// through its group: owner and group may read, others nothing.
const GroupReadableKeyPerms = "0440"

// ForWorkload is a gateway plan with an agent identity and key mode that
// the workload's proxy can read, worked out from what it runs as:
//   - unset: the config's agent identity (the proxy image runs as 1337);
//   - a non-root uid: the agent writes as that uid (and its group, if set),
//     so the key's owner bits serve the proxy;
//   - uid 0 (the 1.20 gateway chart, all capabilities dropped, so root has
//     no DAC override and reads only what owner, group or others bits give
//     it): the agent keeps the config's non-root uid and writes as the
//     proxy's group, with the key group-readable (0440). Others never read.
//
// The plan itself is shared by every document, so a changed one is a copy.
func (p *Plan) ForWorkload(w RunAs) (*Plan, error) {
	if w.User == nil {
		return p, nil
	}
	user, group, perms := *w.User, w.Group, ""
	if user == 0 {
		if group == nil || *group == 0 {
			return nil, fmt.Errorf("runs as root in group %s: the agent would have to run as root too for the proxy to read its key; set runAsGroup (the proxy's group, 1337 in Istio's images) on the container", groupName(group))
		}
		agentUser, err := strconv.ParseInt(p.Annotation("agent-run-as-user"), 10, 64)
		if err != nil || agentUser == 0 {
			return nil, fmt.Errorf("runs as root, and spec.agent.runAsUser is 0: the agent must not run as root; set spec.agent.runAsUser to a non-root uid")
		}
		user, perms = agentUser, GroupReadableKeyPerms
	}
	q := *p
	q.Annotations = slices.Clone(p.Annotations)
	q.set("agent-run-as-user", strconv.FormatInt(user, 10))
	if group != nil {
		q.set("agent-run-as-group", strconv.FormatInt(*group, 10))
	}
	if perms != "" {
		q.Files = slices.Clone(p.Files)
		for i, f := range q.Files {
			if f.Perms != "" {
				q.Files[i].Perms = perms
				q.set("agent-inject-perms-"+f.Name, perms)
			}
		}
	}
	return &q, nil
}

func groupName(g *int64) string {
	if g == nil {
		return "unset (0)"
	}
	return strconv.FormatInt(*g, 10)
}

// Annotation is the value of one of the plan's injector annotations, named
// without the injector's prefix.
func (p *Plan) Annotation(name string) string {
	for _, a := range p.Annotations {
		if a.Name == Prefix+name {
			return a.Value
		}
	}
	return ""
}

// set replaces the value of one of the plan's annotations.
func (p *Plan) set(name, value string) {
	for i := range p.Annotations {
		if p.Annotations[i].Name == Prefix+name {
			p.Annotations[i].Value = value
		}
	}
}
