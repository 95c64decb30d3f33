// Package wiring is the one rule set: from a VaultCA config it derives what
// every target must carry — the injector annotations, the environment of the
// CA container, the volume path — and the Vault paths those annotations read.
// Targets (Deployment, IstioOperator, ...) only decide where to write a Plan;
// the policy is built from the same Files, so the two cannot drift.
package wiring

import (
	"errors"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

// Annotation prefix of the Vault Agent Injector.
const Prefix = "vault.hashicorp.com/"

// IstiodContainer is the istiod container that loads the CA.
const IstiodContainer = "discovery"

// Env names set on the CA container.
const (
	EnvRootCADir  = "ROOT_CA_DIR"
	EnvAutoReload = "AUTO_RELOAD_PLUGIN_CERTS"
	// EnvMultiRoot lets istiod (1.20 and later) load and publish a root
	// file of more than one root, and take a changed one while it runs
	// (pilot/pkg/bootstrap handleEvent: without it a new root is refused).
	EnvMultiRoot = "ISTIO_MULTIROOT_MESH"
	// EnvInjectStatus holds the injector's status annotation of the pod,
	// through the downward API: InjectedStatus in a pod the injector
	// mutated, empty in one it did not. ROOT_CA_DIR is built from it.
	EnvInjectStatus = "VAULT_AGENT_INJECT_STATUS"
)

// StatusAnnotation is the annotation the Vault Agent Injector sets on a pod
// in the same patch that adds the agent and its volume, with the value
// InjectedStatus (vault-k8s agent-inject/agent/agent.go, Patch: it is the
// only status it writes). The injector's webhook defaults to failurePolicy
// Ignore, so a pod can be created without that patch: injector down or
// slow, a selector that misses the pod.
const (
	StatusAnnotation = Prefix + "agent-inject-status"
	InjectedStatus   = "injected"
)

// The guard: istiod's plugged-in CA code (pilot/pkg/bootstrap/istio_ca.go,
// createIstioCA) exits when some of the bundle's files are in ROOT_CA_DIR
// ("incomplete signing CA bundle detected"), but with none of them it
// silently becomes a self-signed CA, publishing its own root. So
// ROOT_CA_DIR is never a directory that can be empty: it is
// <secretVolumePath>/$(VAULT_AGENT_INJECT_STATUS). In an injected pod that
// is <secretVolumePath>/injected, where the injector mounts the agent's
// volume (secret-volume-path) and the agent renders the files. In a pod
// the injector did not mutate it is <secretVolumePath>/, where the tool
// mounts a volume of its own holding one of the bundle's file names: istiod
// exits, naming the incomplete bundle, and publishes nothing. The same file
// is in a directory named $(VAULT_AGENT_INJECT_STATUS): should ROOT_CA_DIR
// ever come before the variable in the container's env, Kubernetes leaves
// the reference unexpanded, and istiod finds that file there.
const (
	GuardVolume     = "istio-vault-ca-guard"
	GuardAnnotation = "istio-vault-ca.dev/guard"
)

// Guard is the volume the tool gives istiod's container, mounted read-only
// at MountPath (spec.secretVolumePath): a downwardAPI volume whose Items
// each hold the GuardAnnotation of the pod, which says what happened.
type Guard struct {
	Volume, MountPath string
	Items             []GuardItem
}

// GuardItem is one file of the guard volume, and the downward-API field it
// holds.
type GuardItem struct{ Path, FieldPath string }

// Part is the role a file plays in the CA bundle, or in a gateway's
// certificate.
type Part string

const (
	PartKey   Part = "key"
	PartCert  Part = "cert"
	PartChain Part = "chain"
	PartRoot  Part = "root"
	// PartCA is a gateway's CA certificates (its ca.crt), which verify
	// clients and need not have issued the gateway's own certificate.
	PartCA Part = "ca"
)

// File is one file the agent renders into the secret volume.
type File struct {
	Name string // file name in the volume, e.g. ca-key.pem
	// Part is what the file holds; empty for a PKI-issued gateway bundle,
	// which holds certificate, chain and key at once.
	Part Part
	// Certificate is the gateway certificate the file belongs to, so that
	// verify checks a key against its own certificate; empty for istiod.
	Certificate string
	// SecretRead is the file's own read: the one its secret annotation names.
	SecretRead
	// ExtraRoots are the further reads of istiod's root file
	// (spec.rootRotation.extraRoots), whose PEMs follow its own.
	ExtraRoots []SecretRead
	Template   string // the agent template
	Perms      string // file mode; empty for the agent's default
}

// SecretRead is one Vault read a file's template makes.
type SecretRead struct {
	APIPath string // the Vault API path the template reads
	// Keys lead from the response's data to the PEM the template reads:
	// [field] for KV v1, ["data", field] for KV v2, ["certificate"] for PKI.
	Keys []string
	// KVVersion is the version of the KV engine the file is read from, 0
	// for a file from another engine.
	KVVersion int
	// Capability is what the policy must grant on APIPath: read, or
	// update for a PKI issue request.
	Capability string
	// Requests are the requests the template makes when they are more
	// than APIPath's Capability: the generate and the sign of a minted
	// intermediate, each with the arguments the policy pins.
	Requests []PathCapability
	// Reach is every Vault path that reads, changes or signs with what the
	// read returns, APIPath among them: a KV v2 secret's metadata, delete,
	// destroy and undelete paths, or (a prefix, ending in /) the whole mount
	// of a CA. Another plan given any of them would get at this file.
	Reach []string
}

// Reads are all the reads of the file's template: its own, then the extra
// roots'.
func (f File) Reads() []SecretRead { return append([]SecretRead{f.SecretRead}, f.ExtraRoots...) }

// Capabilities a file needs on its APIPath.
const (
	Read   = "read"
	Update = "update"
)

// Pair is one annotation or environment variable, kept in a fixed order so
// output is stable and diffable. FieldPath, for a variable only, takes its
// value from the pod's downward API (valueFrom.fieldRef) instead of Value.
type Pair struct{ Name, Value, FieldPath string }

// Placed reports whether a variable must stay in the container's own env
// list, in the plan's order: it comes from the downward API, or it refers
// to an earlier variable, which Kubernetes expands only for variables
// defined before it.
func (v Pair) Placed() bool { return v.FieldPath != "" || strings.Contains(v.Value, "$(") }

// FieldRef is the downward-API path of a pod annotation.
func FieldRef(annotation string) string { return "metadata.annotations['" + annotation + "']" }

// Plan is everything a target writes for one config.
type Plan struct {
	Files       []File
	Annotations []Pair
	Env         []Pair
	// VolumePath is where the plan's mounts go in the container, and
	// VolumeSetting the config field that set it, for error messages.
	// FilesDir is where the injector mounts the agent's volume and the
	// agent renders the files: VolumePath itself for a gateway,
	// VolumePath/injected for istiod, whose Guard is at VolumePath.
	VolumePath, VolumeSetting, FilesDir string
	// Guard is istiod's guard volume; nil for a gateway, whose proxy
	// does not run a CA.
	Guard *Guard
	// Container is the container that reads the files.
	Container string
	// ServiceAccounts and Namespaces are the identities the Vault role
	// binds: a workload running as another is refused, since its agent
	// could not log in and the pod would hang in Init.
	ServiceAccounts []string
	Namespaces      []string
	// Override replaces conflicting values in installer inputs instead of
	// refusing them.
	Override bool
	// Role and AuthPath are the Kubernetes-auth login of the plan's agent,
	// Policy the Vault policy that role gets (holding only this plan's
	// paths), and VaultNamespace the Vault Enterprise namespace of all three.
	Role, AuthPath, Policy, VaultNamespace string
	// Setting is the config field the plan comes from (spec.istiod,
	// spec.gateways[0]), for messages that say what to change.
	Setting string
	// Selector picks the workloads of a gateway plan by pod labels; nil
	// for istiod, which is found by its own rule.
	Selector map[string]string
	// Audience, when set, is the token audience the plan's role requires
	// instead of spec.vault.audience: cert-manager's for its issuer.
	Audience string
	// CSR is set in the istioCSR mode (istiocsr.go): the plan has no
	// files to render, no annotations and no guard; ServiceAccounts and
	// Namespaces are the issuer's.
	CSR *CSR
}

// fileNames maps each part to its file name in a layout; a part a layout
// does not have is absent.
var fileNames = map[config.FileLayout][]struct {
	Part Part
	Name string
}{
	config.LayoutIstio:         {{PartKey, "ca-key.pem"}, {PartCert, "ca-cert.pem"}, {PartChain, "cert-chain.pem"}, {PartRoot, "root-cert.pem"}},
	config.LayoutKubernetesTLS: {{PartKey, "tls.key"}, {PartCert, "tls.crt"}, {PartRoot, "ca.crt"}},
}

// ForIstiod builds the plan for istiod from a loaded (validated) config.
func ForIstiod(cfg *config.VaultCA) (*Plan, error) {
	s := cfg.Spec
	if plan, ok := planSources[reflect.TypeOf(s.Source.Selected())]; ok {
		return plan(cfg, s.Source.Selected()), nil
	}
	p := &Plan{VolumePath: s.SecretVolumePath, VolumeSetting: "spec.secretVolumePath", FilesDir: path.Join(s.SecretVolumePath, InjectedStatus),
		Container:       IstiodContainer,
		ServiceAccounts: s.Istiod.BoundServiceAccounts(), Namespaces: s.Istiod.Namespaces,
		Override: s.OnConflict == config.ConflictOverride, Role: s.Vault.Role, AuthPath: s.Vault.AuthPath,
		Policy: s.Vault.Policy, VaultNamespace: s.Vault.Namespace, Setting: "spec.istiod"}
	src, ok := bundleSources[reflect.TypeOf(s.Source.Selected())]
	if !ok {
		return nil, errors.New("spec.source sets no source")
	}
	for _, f := range fileNames[s.FileLayout] {
		file, err := src(s, s.Source.Selected(), f.Part)
		if err != nil {
			return nil, err
		}
		file.Name, file.Part = f.Name, f.Part
		if f.Part == PartKey {
			file.Perms = s.Agent.KeyPerms
		}
		p.Files = append(p.Files, file)
	}
	if err := addExtraRoots(s, p.Files); err != nil {
		return nil, err
	}
	p.Guard = guard(s.SecretVolumePath, p.Files)
	p.Annotations = append(annotations(s, p, agentSettings{role: s.Vault.Role, authPath: s.Vault.AuthPath, initOnly: !s.Rotation}),
		Pair{Name: GuardAnnotation, Value: guardText(s.SecretVolumePath, p.FilesDir)})
	p.Env = []Pair{
		{Name: EnvInjectStatus, FieldPath: FieldRef(StatusAnnotation)},
		{Name: EnvRootCADir, Value: s.SecretVolumePath + "/$(" + EnvInjectStatus + ")"},
	}
	if s.Rotation {
		p.Env = append(p.Env, Pair{Name: EnvAutoReload, Value: "true"})
	}
	// Any spec.rootRotation, even without extra roots: a root field that
	// holds both roots itself needs it as well.
	if s.RootRotation != nil {
		p.Env = append(p.Env, Pair{Name: EnvMultiRoot, Value: "true"})
	}
	return p, nil
}

// guard is istiod's guard volume at dir: the text of the guard annotation
// under the layout's key and certificate file names (ca-key.pem and
// ca-cert.pem, tls.key and tls.crt), at the top and in the unexpanded
// directory. The pinned istiod exits on any part of a bundle without the
// rest. istiods before Istio 1.27 (istio/istio#55696) looked only for
// ca-key.pem and self-signed without it: they find one, cannot parse it,
// and exit too; for the kubernetes-tls layout, which they may not read,
// the guard holds ca-key.pem as well.
func guard(dir string, files []File) *Guard {
	var names []string
	for _, part := range []Part{PartKey, PartCert} {
		for _, f := range files {
			if f.Part == part {
				names = append(names, f.Name)
			}
		}
	}
	if !slices.Contains(names, legacyKeyFile) {
		names = append(names, legacyKeyFile)
	}
	field := FieldRef(GuardAnnotation)
	g := &Guard{Volume: GuardVolume, MountPath: dir}
	for _, under := range []string{"", "$(" + EnvInjectStatus + ")/"} {
		for _, n := range names {
			g.Items = append(g.Items, GuardItem{Path: under + n, FieldPath: field})
		}
	}
	return g
}

// legacyKeyFile is the key file istiods before 1.27 looked for alone.
const legacyKeyFile = "ca-key.pem"

// guardText is the guard annotation, and so the guard files' content: what
// someone who finds either needs to know.
func guardText(dir, filesDir string) string {
	return "istio-vault-ca: in a pod the Vault Agent Injector mutated, the Vault agent renders istiod's CA into " + filesDir +
		" and ROOT_CA_DIR points there. This pod's ROOT_CA_DIR is " + dir + "/$(" + EnvInjectStatus + "): where the injector did not mutate the pod" +
		" (its webhook unreachable, or not matching the pod; failurePolicy Ignore creates the pod anyway) that is " + dir +
		", which holds this text under the CA's key and certificate file names (again under a directory named $(" + EnvInjectStatus + ")," +
		" should the variable not expand), so istiod exits (\"incomplete signing CA bundle detected\"; before Istio 1.27, a key it cannot parse)" +
		" rather than become a self-signed CA. Make the injector mutate istiod's pods, then delete this pod."
}

// agentSettings are what differs between the agents of istiod and of a gateway.
type agentSettings struct {
	role, authPath string
	// initOnly: the agent only runs before the workload starts.
	initOnly bool
}

func annotations(s config.Spec, p *Plan, as agentSettings) []Pair {
	a := []Pair{
		{Name: Prefix + "agent-inject", Value: "true"},
		// The files must exist before the workload starts: with an empty
		// ROOT_CA_DIR istiod silently becomes a self-signed CA.
		{Name: Prefix + "agent-init-first", Value: "true"},
		{Name: Prefix + "agent-pre-populate-only", Value: strconv.FormatBool(as.initOnly)},
		{Name: Prefix + "agent-inject-containers", Value: p.Container},
		{Name: Prefix + "role", Value: as.role},
		{Name: Prefix + "auth-path", Value: as.authPath},
	}
	if s.Vault.Namespace != "" {
		a = append(a, Pair{Name: Prefix + "namespace", Value: s.Vault.Namespace})
	}
	if s.Vault.Address != "" {
		a = append(a, Pair{Name: Prefix + "service", Value: s.Vault.Address})
	}
	// The injector mounts the Secret at /vault/tls in every agent container
	// it adds, init and sidecar; ca-cert (defaulted by config) names the
	// file, since the injector sets none itself.
	if s.Vault.TLSSecret != "" {
		a = append(a, Pair{Name: Prefix + "tls-secret", Value: s.Vault.TLSSecret})
	}
	if s.Vault.CACert != "" {
		a = append(a, Pair{Name: Prefix + "ca-cert", Value: s.Vault.CACert})
	}
	if d := s.Agent.StaticSecretRenderInterval; d != "" {
		a = append(a, Pair{Name: Prefix + "template-static-secret-render-interval", Value: d})
	}
	if s.Vault.TLSSkipVerify {
		a = append(a, Pair{Name: Prefix + "tls-skip-verify", Value: "true"})
	}
	a = append(a,
		Pair{Name: Prefix + "secret-volume-path", Value: p.FilesDir},
		// The agent writes the files as this user; it must be istiod's,
		// or istiod cannot read a key that is not world-readable.
		Pair{Name: Prefix + "agent-run-as-user", Value: strconv.FormatInt(*s.Agent.RunAsUser, 10)},
		Pair{Name: Prefix + "agent-run-as-group", Value: strconv.FormatInt(*s.Agent.RunAsGroup, 10)},
	)
	for _, f := range p.Files {
		a = append(a,
			Pair{Name: Prefix + "agent-inject-secret-" + f.Name, Value: f.APIPath},
			Pair{Name: Prefix + "agent-inject-template-" + f.Name, Value: f.Template},
		)
		if f.Capability == Read {
			a = append(a, Pair{Name: Prefix + "error-on-missing-key-" + f.Name, Value: "true"})
		}
		if f.Perms != "" {
			a = append(a, Pair{Name: Prefix + "agent-inject-perms-" + f.Name, Value: f.Perms})
		}
	}
	return a
}

// APIPaths is every Vault path the plan reads or writes, each once, in
// file order, with the capability it needs: the input of the policy.
func (p *Plan) APIPaths() []PathCapability {
	var out []PathCapability
	seen := map[string]bool{}
	for _, f := range p.Files {
		for _, read := range f.Reads() {
			for _, r := range read.requests() {
				if !seen[r.Path] {
					seen[r.Path] = true
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// requests are the requests a read makes: its own, or the several of a
// minted intermediate.
func (f SecretRead) requests() []PathCapability {
	if f.Requests != nil {
		return f.Requests
	}
	return []PathCapability{{Path: f.APIPath, Capability: f.Capability}}
}

// RolePath is the Kubernetes-auth role the plan's agent logs in with, as
// Vault names it and `istio-vault-ca policy --role` takes it.
func (p *Plan) RolePath() string { return p.AuthPath + "/role/" + p.Role }

// PathCapability is one path rule of a policy. Params, when set, are
// the only arguments a write may carry, each required and (unless empty)
// with exactly that value; nil leaves the arguments free.
type PathCapability struct {
	Path, Capability string
	Params           Params
}

// SharedPaths are the Vault paths of this plan that reach what q's files
// hold (File.Reach). Between a gateway and istiod there must be none: the
// gateway's policy would grant it istiod's CA material, or the power to
// destroy it or to sign with it.
func (p *Plan) SharedPaths(q *Plan) []string {
	var out []string
	for _, a := range p.APIPaths() {
		ap := path.Clean(a.Path)
		if slices.ContainsFunc(q.Files, func(f File) bool { return reaches(ap, f) }) {
			out = append(out, a.Path)
		}
	}
	return out
}

func reaches(apiPath string, f File) bool {
	for _, read := range f.Reads() {
		for _, r := range append([]string{read.APIPath}, read.Reach...) {
			if prefix, ok := strings.CutSuffix(r, "/"); ok {
				if apiPath == prefix || strings.HasPrefix(apiPath, r) {
					return true
				}
			} else if apiPath == r {
				return true
			}
		}
	}
	return false
}

// ForGateway builds the plan of one gateway selection: its certificates
// rendered into MountPath for the proxy container.
// index is the gateway's place in spec.gateways, for messages.
func ForGateway(cfg *config.VaultCA, index int) (*Plan, error) {
	s := cfg.Spec
	g := s.Gateways[index]
	at := "spec.gateways[" + strconv.Itoa(index) + "]"
	p := &Plan{VolumePath: g.MountPath, VolumeSetting: at + ".mountPath", FilesDir: g.MountPath, Container: g.Container,
		ServiceAccounts: g.ServiceAccounts, Namespaces: g.Namespaces,
		Override: s.OnConflict == config.ConflictOverride, Selector: g.Selector, Role: g.Role, AuthPath: g.AuthPath,
		Policy: g.Policy, VaultNamespace: s.Vault.Namespace, Setting: at}
	initOnly := !*g.Rotation
	for j, c := range g.Certificates {
		src, ok := certificateSources[reflect.TypeOf(c.Selected())]
		if !ok {
			return nil, fmt.Errorf("%s.certificates[%d] sets no source", at, j)
		}
		files, renews, err := src(c.Name, c.Selected(), s.Agent.KeyPerms)
		if err != nil {
			return nil, err
		}
		if renews {
			initOnly = false // the agent stays to renew the certificate
		}
		p.Files = append(p.Files, files...)
	}
	p.Annotations = annotations(s, p, agentSettings{role: g.Role, authPath: g.AuthPath, initOnly: initOnly})
	return p, nil
}
