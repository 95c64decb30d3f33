package lint

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// What istiod does with its plugged-in CA files changed from release to
// release; each fact is checked against the version of istiod's image:
//
//   - AUTO_RELOAD_PLUGIN_CERTS arrived in Istio 1.12 ("Added support to
//     istiod to notice cacerts file changes via the AUTO_RELOAD_PLUGIN_CERTS
//     environment variable", 1.12.0 change notes, istio#31522); before it,
//     istiod read the files once, at start.
//   - It was turned on by default in 1.18 (1.18.0 change notes,
//     istio#43104) and removed in 1.19 (1.19.0 change notes: "Removed the
//     AUTO_RELOAD_PLUGIN_CERTS feature flag"): istiod has watched the
//     files ever since.
//   - A plugged-in root can be rotated only from 1.20 ("Added support for
//     plugged root cert rotation", 1.20.0 change notes), with
//     ISTIO_MULTIROOT_MESH=true on istiod: pilot/pkg/bootstrap/istio_ca.go,
//     handleEvent, ignores a new root-cert.pem without it ("Multi root is
//     disabled, updating new ROOT-CA not supported"), and takes one only
//     when the old and new bundles are a subset of each other.
//   - The 1.27 betas reloaded the files only when the root or the CRL
//     changed, so a new intermediate went unnoticed: istio#55696 added the
//     early return, istio#57271 (opened 2025-08-05, during the betas)
//     removed it. That PR says it has no user-facing change, so no release
//     note names the first patch release that carries it: the betas are
//     flagged, as Istio's history was read for issue 21.
var (
	firstReload    = minor(12)
	reloadDefault  = minor(18)
	reloadAlways   = minor(19)
	firstMultiRoot = minor(20)
	betaNoReload   = minor(27)
)

// Env names read on istiod's container.
const (
	envAutoReload = wiring.EnvAutoReload
	envMultiRoot  = wiring.EnvMultiRoot
)

// istiodVersion checks the settings of istiod's CA container (discovery)
// that depend on its version against the version its image's tag names.
// Rotation is on when the manifest keeps the Vault agent running beside
// istiod (agent-pre-populate-only false: istio-vault-ca writes it with
// spec.rotation) or sets AUTO_RELOAD_PLUGIN_CERTS; more than one root when
// ISTIO_MULTIROOT_MESH is true (istio-vault-ca sets it with extra roots).
// Without either, the version does not matter and nothing is said.
func istiodVersion(r *resource) []Finding {
	t := podTemplateOf(r)
	if t == nil {
		return nil
	}
	var discovery *container
	for _, c := range t.containers() {
		if c.name == wiring.IstiodContainer {
			discovery = &c
		}
	}
	if discovery == nil {
		return nil
	}
	env := discovery.env()
	reload, reloadSet := env[envAutoReload]
	_, prePopulateOnly, ok := t.annotation(vaultPrefix + "agent-pre-populate-only")
	initOnly, err := strconv.ParseBool(prePopulateOnly)
	rotation := reloadSet || t.injects() && ok && err == nil && !initOnly
	multiRoot := isTrue(env[envMultiRoot])
	if !rotation && !multiRoot {
		return nil
	}

	imageKey, imageNode := yamlnode.Field(discovery.node, "image")
	image := yamlnode.Value(imageNode)
	field := discovery.path + ".image"
	v, why := imageVersion(image)
	if why != "" {
		subject := "istiod's image " + strconv.Quote(image)
		if image == "" {
			subject = "istiod's image"
		}
		return []Finding{at(orNode(imageKey, discovery.node), IDIstiodVersionUnknown, Info, field,
			"%s %s: the checks of its reload and multi-root settings against Istio's version were not made; name the version in the tag to have them made", subject, why)}
	}

	var fs []Finding
	switch {
	case rotation && v.less(firstReload):
		fs = append(fs, at(orNode(imageKey, discovery.node), IDIstiodNoReload, Error, field,
			"istiod %s reads its CA files only when it starts (AUTO_RELOAD_PLUGIN_CERTS arrived in Istio 1.12): a rotated CA reaches it only with a restart; upgrade istiod, or restart it after every rotation", v))
	case rotation && v.less(reloadAlways) && !reloadOn(reload, reloadSet, v):
		fs = append(fs, at(orNode(reload.node, orNode(imageKey, discovery.node)), IDIstiodReloadOff, Error, discovery.path+".env["+envAutoReload+"]",
			"istiod %s reloads its CA files only with AUTO_RELOAD_PLUGIN_CERTS=true (opt-in before Istio 1.18, on by default in 1.18, always on since 1.19): a rotated CA does not reach it; set %s to \"true\" on the %s container", v, envAutoReload, wiring.IstiodContainer))
	case rotation && v.isBeta(betaNoReload):
		fs = append(fs, at(orNode(imageKey, discovery.node), IDIstiod127Beta, Error, field,
			"istiod %s, a 1.27 beta or release candidate, reloads its CA files only when the root or the CRL changes (fixed by istio#57271): a new intermediate does not reach it; use Istio 1.27.0 or later", v))
	}
	if multiRoot && v.less(firstMultiRoot) {
		mr := env[envMultiRoot]
		fs = append(fs, at(mr.node, IDMultiRootBefore120, Error, discovery.path+".env["+envMultiRoot+"]",
			"istiod %s cannot rotate a plugged-in root (Istio 1.20 and later can, with %s=true): workloads would stop trusting each other when the root changes; upgrade istiod to 1.20 or later before adding a root", v, envMultiRoot))
	}
	return fs
}

// reloadOn reports whether istiod of version v reloads its files: as the
// variable says, else by the version's default. A value from a ConfigMap
// or a Secret the lint cannot read counts as on.
func reloadOn(e envVar, set bool, v version) bool {
	switch {
	case !set:
		return !v.less(reloadDefault)
	case e.valueFrom:
		return true
	}
	return isTrue(e)
}

// orNode is n, or else where a finding about what n would be points.
func orNode(n, otherwise *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return otherwise
}

// isTrue: a variable istiod reads as true (strconv.ParseBool, as Istio's
// pkg/env reads a bool).
func isTrue(e envVar) bool {
	b, err := strconv.ParseBool(e.value)
	return err == nil && b
}

// version is an Istio release: every one so far is 1.x, so the minor
// orders them; pre is what follows the patch ("beta.1", "distroless").
type version struct {
	minor, patch int
	pre          string
	text         string
}

func minor(m int) version { return version{minor: m} }

func (v version) String() string { return v.text }

func (v version) less(w version) bool { return v.minor < w.minor }

// isBeta reports whether v is a beta or a release candidate of the
// release w: no source shows which 1.27.0 candidate first carried
// istio#57271 (opened during the betas, with no release note), so the
// candidates are flagged with the betas.
func (v version) isBeta(w version) bool {
	return v.minor == w.minor && v.patch == 0 && (strings.HasPrefix(v.pre, "beta") || strings.HasPrefix(v.pre, "rc"))
}

// istioTag is a tag Istio publishes its images under: 1.22.0,
// 1.22.0-distroless, 1.27.0-beta.1, 1.28-alpha.<commit>.
// A leading v (v1.22.0, as some mirrors tag) is read as the version.
var istioTag = regexp.MustCompile(`^v?1\.(\d+)(?:\.(\d+))?(?:-(.+))?$`)

// imageVersion is the Istio version an image reference names by its tag
// (istio/pilot:1.18.2, hub.example.com/istio-release/pilot:1.22.0-distroless),
// or why it names none.
func imageVersion(image string) (version, string) {
	ref, _, pinned := strings.Cut(image, "@")
	tag := ""
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		tag = ref[i+1:]
	}
	switch {
	case image == "":
		return version{}, "is not set"
	case tag == "" && pinned:
		return version{}, "is pinned by digest, which names no version"
	case tag == "":
		return version{}, "has no tag (latest), which names no version"
	}
	m := istioTag.FindStringSubmatch(tag)
	if m == nil {
		return version{}, fmt.Sprintf("has the tag %q, which is not an Istio version", tag)
	}
	v := version{pre: m[3], text: tag}
	v.minor, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		v.patch, _ = strconv.Atoi(m[2])
	}
	return v, ""
}
