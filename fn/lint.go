package fn

import (
	"errors"
	"strconv"

	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/lint"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
)

// lintTag is the results' tag that holds a lint finding's ID.
const lintTag = "lint"

// lintResults lints the items as they are written (after the transformer):
// each finding a result with its severity, the item, the field and the
// file the orchestrator read the item from. A result carries no line: the
// item's lines are the ResourceList's, not its file's. An item's aliases
// and merge keys are read expanded, as the stream's lint reads them, in a
// copy (the item is written as it is); an item that cannot be (a duplicate
// key, an alias bomb) is not linted, and a result at information level
// says why. Items of kinds no check reads are passed over.
func lintResults(items []*yaml.RNode) Results {
	var rs Results
	lim := transform.NewLimits()
	for _, item := range items {
		id := identity(item)
		if id.Kind != "" && !lint.Reads(id.Kind) {
			continue
		}
		rn, err := lim.Expanded(item.YNode())
		if err != nil {
			rs = append(rs, &Result{Severity: string(lint.Info), Message: "not linted: " + err.Error(), ResourceRef: &id})
			continue
		}
		for _, f := range lint.Resource(rn) {
			r := &Result{Severity: string(f.Severity), Message: f.ID + ": " + f.Message, ResourceRef: &id,
				Tags: map[string]string{lintTag: f.ID}}
			if f.Field != "" {
				r.Field = &Field{Path: f.Field}
			}
			if p, i, e := kioutil.GetFileAnnotations(item); e == nil && p != "" {
				index, _ := strconv.Atoi(i)
				r.File = &File{Path: p, Index: index}
			}
			rs = append(rs, r)
		}
	}
	return rs
}

// ExitCode is what a run that returned err exits with: 0 without an
// error, 1 when its only errors are lint findings (the list was written
// as the config asks, and the manifests hold a known pitfall), 2 for
// anything else (a bad config or resource: the results say which).
func ExitCode(err error) int {
	if err == nil {
		return cli.ExitOK
	}
	var rs Results
	if !errors.As(err, &rs) {
		return cli.ExitBadInput
	}
	for _, r := range rs {
		if r.Severity == severityError && r.Tags[lintTag] == "" {
			return cli.ExitBadInput
		}
	}
	return cli.ExitFailed
}
