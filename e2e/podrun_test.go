package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podRun does for one pod the API server holds what the kubelet would,
// without containers: a directory for each of its volumes, filled as the
// kubelet fills it (projected service-account tokens from the TokenRequest
// API, bound to the pod; ConfigMaps and Secrets read from the API server),
// and processes started from its containers' command, args, env and
// securityContext. A container's paths are mapped onto those directories:
// in its args and env, and through a root directory (the process's working
// directory, as / is a container's) where each mountPath is a link to its
// volume, for the programs that open paths relative to it.
type podRun struct {
	cp   *controlPlane
	pod  *corev1.Pod
	dir  string
	vols map[string]string // volume name -> directory
	// patterns are mountPattern's, by container name.
	patterns map[string]*regexp.Regexp
}

// runPod prepares the pod's volumes; a volume the kubelet could not mount
// fails the test.
func (cp *controlPlane) runPod(t *testing.T, pod *corev1.Pod) *podRun {
	t.Helper()
	r, err := cp.mountPod(t, pod)
	if err != nil {
		t.Fatalf("pod %s: the kubelet would not start it: %v", pod.Name, err)
	}
	return r
}

// mountPod prepares the pod's volumes, or says, in the words of the
// kubelet's FailedMount event, which one the kubelet could not mount: a
// Secret or ConfigMap that does not exist and is not optional (the pod
// then stays in ContainerCreating).
func (cp *controlPlane) mountPod(t *testing.T, pod *corev1.Pod) (*podRun, error) {
	t.Helper()
	// Not t.TempDir: its parent is private to root, and the pod's processes
	// run as the pod's uids, which must reach their volumes.
	dir, err := os.MkdirTemp("", "pod-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	r := &podRun{cp: cp, pod: pod, dir: dir, vols: map[string]string{}}
	for _, v := range pod.Spec.Volumes {
		vd := filepath.Join(dir, "volumes", v.Name)
		must(t, os.MkdirAll(vd, 0o755))
		r.vols[v.Name] = vd
		switch {
		case v.EmptyDir != nil:
			// The kubelet makes an emptyDir writable by every uid of the pod.
			must(t, os.Chmod(vd, 0o777))
		case v.ConfigMap != nil:
			data, ok, err := r.apiData(t, false, v.ConfigMap.Name, v.ConfigMap.Optional)
			if err != nil {
				return nil, mountError(v.Name, err)
			}
			if ok {
				r.writeData(t, vd, data, v.ConfigMap.Items)
				chmodAll(t, vd, v.ConfigMap.DefaultMode)
			}
		case v.Secret != nil:
			data, ok, err := r.apiData(t, true, v.Secret.SecretName, v.Secret.Optional)
			if err != nil {
				return nil, mountError(v.Name, err)
			}
			if ok {
				r.writeData(t, vd, data, v.Secret.Items)
				chmodAll(t, vd, v.Secret.DefaultMode)
			}
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if err := r.project(t, vd, src); err != nil {
					return nil, mountError(v.Name, err)
				}
			}
		case v.DownwardAPI != nil:
			r.downwardAPI(t, vd, v.DownwardAPI.Items)
		default:
			t.Fatalf("pod %s: volume %s is of a kind the test cannot provide", pod.Name, v.Name)
		}
	}
	return r, nil
}

// mountError is the kubelet's FailedMount message for a volume.
func mountError(volume string, err error) error {
	return fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", volume, err)
}

// chmodAll gives a volume's files their defaultMode (0644 when unset).
func chmodAll(t *testing.T, dir string, mode *int32) {
	t.Helper()
	if mode == nil {
		return
	}
	must(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chmod(p, os.FileMode(*mode))
	}))
}

// downwardAPI fills a downwardAPI volume: each item a file of the field
// it names, mode 0644 (the volume's default) and in a directory of its own
// where its path has one.
func (r *podRun) downwardAPI(t *testing.T, dir string, items []corev1.DownwardAPIVolumeFile) {
	t.Helper()
	for _, it := range items {
		if it.FieldRef == nil {
			t.Fatalf("downward API item %s: only fieldRef is provided", it.Path)
		}
		p := filepath.Join(dir, it.Path)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(r.field(t, it.FieldRef.FieldPath)), 0o644))
	}
}

// apiData is the data of a ConfigMap, or of a Secret, in the pod's
// namespace. ok is false for one that does not exist and is optional (the
// kubelet leaves its volume empty); for one that does not exist and is not
// optional, err is the kubelet's `secret "name" not found`, as it would
// not start the pod.
func (r *podRun) apiData(t *testing.T, secret bool, name string, optional *bool) (data map[string][]byte, ok bool, notFound error) {
	t.Helper()
	ctx := context.Background()
	var err error
	if secret {
		var s *corev1.Secret
		if s, err = r.cp.client.CoreV1().Secrets(r.pod.Namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
			data = s.Data
		}
	} else {
		var cm *corev1.ConfigMap
		if cm, err = r.cp.client.CoreV1().ConfigMaps(r.pod.Namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
			data = map[string][]byte{}
			for k, v := range cm.Data {
				data[k] = []byte(v)
			}
		}
	}
	if apierrors.IsNotFound(err) {
		if optional != nil && *optional {
			return nil, false, nil
		}
		kind := "configmap"
		if secret {
			kind = "secret"
		}
		return nil, false, fmt.Errorf("%s %q not found", kind, name)
	}
	must(t, err)
	return data, true, nil
}

func (r *podRun) writeData(t *testing.T, dir string, data map[string][]byte, items []corev1.KeyToPath) {
	t.Helper()
	if len(items) == 0 {
		for k, v := range data {
			must(t, os.WriteFile(filepath.Join(dir, k), v, 0o644))
		}
		return
	}
	for _, it := range items {
		if v, ok := data[it.Key]; ok {
			p := filepath.Join(dir, it.Path)
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			must(t, os.WriteFile(p, v, 0o644))
		}
	}
}

// project fills one source of a projected volume.
func (r *podRun) project(t *testing.T, dir string, src corev1.VolumeProjection) error {
	t.Helper()
	switch {
	case src.ServiceAccountToken != nil:
		sa := serviceAccount{Namespace: r.pod.Namespace, Name: r.pod.Spec.ServiceAccountName}
		var aud []string
		if a := src.ServiceAccountToken.Audience; a != "" {
			aud = []string{a}
		}
		tok := r.cp.tokenForSeconds(t, sa, r.pod, src.ServiceAccountToken.ExpirationSeconds, aud...)
		f := filepath.Join(dir, src.ServiceAccountToken.Path)
		must(t, os.WriteFile(f, []byte(tok), 0o644))
		// As the kubelet: when every container runs as one uid, the token
		// is that uid's, mode 0600 (projected.go, FsUserFrom).
		if uid, ok := r.sharedUID(); ok && os.Geteuid() == 0 {
			must(t, os.Chown(f, uid, -1))
			must(t, os.Chmod(f, 0o600))
		}
	case src.ConfigMap != nil:
		data, ok, err := r.apiData(t, false, src.ConfigMap.Name, src.ConfigMap.Optional)
		if err != nil {
			return err
		}
		if ok {
			r.writeData(t, dir, data, src.ConfigMap.Items)
		}
	case src.Secret != nil:
		data, ok, err := r.apiData(t, true, src.Secret.Name, src.Secret.Optional)
		if err != nil {
			return err
		}
		if ok {
			r.writeData(t, dir, data, src.Secret.Items)
		}
	case src.DownwardAPI != nil:
		r.downwardAPI(t, dir, src.DownwardAPI.Items)
	}
	return nil
}

// sharedUID is the uid every container of the pod runs as, if there is one.
func (r *podRun) sharedUID() (int, bool) {
	uid := -2
	for _, cs := range [][]corev1.Container{r.pod.Spec.InitContainers, r.pod.Spec.Containers} {
		for i := range cs {
			u, _ := runAs(r.pod, &cs[i])
			if u < 0 || (uid != -2 && u != uid) {
				return 0, false
			}
			uid = u
		}
	}
	return uid, uid >= 0
}

// field is a downward-API field of the pod. The pod never runs on a node:
// its IPs are loopback.
func (r *podRun) field(t *testing.T, path string) string {
	t.Helper()
	p := r.pod
	switch path {
	case "metadata.name":
		return p.Name
	case "metadata.namespace":
		return p.Namespace
	case "metadata.uid":
		return string(p.UID)
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName
	case "spec.nodeName":
		return "e2e-node"
	case "status.podIP", "status.hostIP":
		return "127.0.0.1"
	}
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return p.Labels[strings.TrimSuffix(k, "']")]
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return p.Annotations[strings.TrimSuffix(k, "']")]
	}
	t.Fatalf("downward API field %s is not provided by the test", path)
	return ""
}

// env is a container's environment as the kubelet resolves it
// (pkg/kubelet/kubelet_pods.go, makeEnvironmentVariables): in order, a
// value's $(VAR) references expanded from the variables defined before it,
// then its paths mapped.
func (r *podRun) env(t *testing.T, c *corev1.Container) []string {
	t.Helper()
	if len(c.EnvFrom) > 0 {
		t.Fatalf("container %s: envFrom is not provided by the test", c.Name)
	}
	var out []string
	defined := map[string]string{}
	for _, e := range c.Env {
		v := expandVars(e.Value, defined)
		if f := e.ValueFrom; f != nil {
			switch {
			case f.FieldRef != nil:
				v = r.field(t, f.FieldRef.FieldPath)
			case f.ResourceFieldRef != nil:
				v = resourceValue(c, f.ResourceFieldRef)
			case f.ConfigMapKeyRef != nil:
				v = r.keyRef(t, c, e.Name, false, f.ConfigMapKeyRef.Name, f.ConfigMapKeyRef.Key, f.ConfigMapKeyRef.Optional)
			case f.SecretKeyRef != nil:
				v = r.keyRef(t, c, e.Name, true, f.SecretKeyRef.Name, f.SecretKeyRef.Key, f.SecretKeyRef.Optional)
			}
		}
		defined[e.Name] = v
		out = append(out, e.Name+"="+r.mapPaths(c, v))
	}
	return out
}

// keyRef is the value of an env variable from a key of a ConfigMap or
// Secret; a missing key that is not optional fails the test, where the
// kubelet would refuse to start the container.
func (r *podRun) keyRef(t *testing.T, c *corev1.Container, env string, secret bool, name, key string, optional *bool) string {
	t.Helper()
	data, _, err := r.apiData(t, secret, name, optional)
	if err != nil {
		t.Fatalf("container %s: env %s: %v: the kubelet would not start it (CreateContainerConfigError)", c.Name, env, err)
	}
	v, found := data[key]
	if !found && (optional == nil || !*optional) {
		t.Fatalf("container %s: env %s refers to a missing key: the kubelet would not start it", c.Name, env)
	}
	return string(v)
}

// expandVars is Kubernetes' expansion of a variable's value
// (third_party/forked/golang/expansion): $(NAME) becomes the value of a
// variable defined before, and stays as written for any other name; $$ is
// a $.
func expandVars(s string, defined map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := defined[name]; ok {
					b.WriteString(v)
				} else {
					b.WriteString(s[i : i+3+end])
				}
				i += 2 + end
				continue
			}
			b.WriteByte('$')
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// resourceValue is a resourceFieldRef as the kubelet computes it: the
// quantity divided by the divisor (1 by default), rounded up. A limit that
// is not set is the node's allocatable (this machine's: 2 CPUs, 24 GiB); a
// request that is not set is 0.
func resourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector) string {
	kind, name, _ := strings.Cut(ref.Resource, ".")
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		if kind == "requests" {
			return "0"
		}
		if name == "cpu" {
			q = resource.MustParse("2")
		} else {
			q = resource.MustParse("24Gi")
		}
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	if name == "cpu" {
		return fmt.Sprint((q.MilliValue() + div.MilliValue() - 1) / div.MilliValue())
	}
	return fmt.Sprint((q.Value() + div.Value() - 1) / div.Value())
}

// mountDirs maps each of a container's mountPaths to its volume directory.
func (r *podRun) mountDirs(c *corev1.Container) map[string]string {
	m := map[string]string{}
	for _, vm := range c.VolumeMounts {
		d := r.vols[vm.Name]
		if vm.SubPath != "" {
			d = filepath.Join(d, vm.SubPath)
		}
		m[vm.MountPath] = d
	}
	return m
}

// mapPaths rewrites every path in s that lies under one of the container's
// mountPaths to the volume's directory on this machine. A mountPath is
// matched whole: it starts the string or follows a character no path holds
// (= : , quote, space, ...), and ends the string or is followed by / or such
// a character (so /etc/cacerts does not match /etc/cacerts-vault). One
// pass: a rewritten path is never read again, whatever its directory.
func (r *podRun) mapPaths(c *corev1.Container, s string) string {
	re, dirs := r.mountPattern(c)
	if re == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		start, end := m[4], m[5] // the mountPath, without the character before it
		if end < len(s) && strings.IndexByte(pathChars, s[end]) >= 0 {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(dirs[s[start:end]])
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// pathChars are the characters a path holds besides / (the class
// mountPattern's expression excludes, with /).
const pathChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

// mountPattern matches the container's mountPaths, the longest first, each
// after the start or a character no path holds; built once per container.
func (r *podRun) mountPattern(c *corev1.Container) (*regexp.Regexp, map[string]string) {
	dirs := r.mountDirs(c)
	if len(dirs) == 0 {
		return nil, nil
	}
	if re, ok := r.patterns[c.Name]; ok {
		return re, dirs
	}
	var mps []string
	for mp := range dirs {
		mps = append(mps, regexp.QuoteMeta(mp))
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	re := regexp.MustCompile(`(^|[^A-Za-z0-9_./-])(` + strings.Join(mps, "|") + `)`) // not a path character, nor /
	if r.patterns == nil {
		r.patterns = map[string]*regexp.Regexp{}
	}
	r.patterns[c.Name] = re
	return re, dirs
}

// rootDir is the container's root as its process sees it: the working
// directory, with each mountPath a link to its volume. A mount below
// another is linked inside the outer one's volume, where the kubelet makes
// its mountpoint (pkg/volume/util/nested_volumes.go, MakeNestedMountpoints,
// for the volumes of API data a runtime cannot write), so outer ones are
// linked first.
func (r *podRun) rootDir(t *testing.T, c *corev1.Container) string {
	t.Helper()
	root := filepath.Join(r.dir, "root-"+c.Name)
	dirs := r.mountDirs(c)
	mps := make([]string, 0, len(dirs))
	for mp := range dirs {
		mps = append(mps, mp)
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) < len(mps[j]) })
	for _, mp := range mps {
		link := filepath.Join(root, mp)
		must(t, os.MkdirAll(filepath.Dir(link), 0o755))
		must(t, os.Symlink(dirs[mp], link))
	}
	must(t, os.MkdirAll(root, 0o755))
	return root
}

// command is a process for a container: its command and args (the image's
// entrypoint when there is no command), with paths mapped, its resolved
// env, run as the uid and gid of its securityContext (the container's, or
// the pod's) in its root directory. binaries maps the names a container
// runs (vault, pilot-discovery) to the binaries built for the test; a
// directory holding links of those names goes first on PATH.
func (r *podRun) command(t *testing.T, ctx context.Context, c *corev1.Container, entrypoint []string, binaries map[string]string, extraArgs ...string) *exec.Cmd {
	t.Helper()
	argv := c.Command
	if len(argv) == 0 {
		argv = entrypoint
	}
	argv = append(append(append([]string{}, argv...), c.Args...), extraArgs...)
	for i := range argv {
		argv[i] = r.mapPaths(c, argv[i])
	}
	bin := filepath.Join(r.dir, "bin-"+c.Name)
	must(t, os.MkdirAll(bin, 0o755))
	for name, p := range binaries {
		must(t, os.Symlink(p, filepath.Join(bin, name)))
	}
	if p, ok := binaries[argv[0]]; ok {
		argv[0] = p
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = r.rootDir(t, c)
	cmd.Env = append([]string{"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin", "HOME=" + cmd.Dir}, r.env(t, c)...)
	// A process group of its own, ended as one: the agent runs under the
	// injector's /bin/sh -ec, and killing only the shell would leave the
	// agent running (and a failed init looking like an exit).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if uid, gid := runAs(r.pod, c); uid >= 0 && os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(max(gid, 0))}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runAs is the uid and gid a container runs as (-1 when neither it nor
// the pod sets one: the image's user, which the test cannot know).
func runAs(pod *corev1.Pod, c *corev1.Container) (uid, gid int) {
	uid, gid = -1, -1
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			uid = int(*psc.RunAsUser)
		}
		if psc.RunAsGroup != nil {
			gid = int(*psc.RunAsGroup)
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = int(*sc.RunAsUser)
		}
		if sc.RunAsGroup != nil {
			gid = int(*sc.RunAsGroup)
		}
	}
	return uid, gid
}

// mappedVaultConfig rewrites the agent config the injector put in a
// container's VAULT_CONFIG (base64 JSON) so its paths are this machine's.
func (r *podRun) mappedVaultConfig(t *testing.T, c *corev1.Container) string {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == "VAULT_CONFIG" {
			raw, err := base64.StdEncoding.DecodeString(e.Value)
			must(t, err)
			var cfg any
			must(t, json.Unmarshal(raw, &cfg))
			mapped, err := json.Marshal(r.mapJSON(c, cfg))
			must(t, err)
			return base64.StdEncoding.EncodeToString(mapped)
		}
	}
	t.Fatalf("container %s has no VAULT_CONFIG", c.Name)
	return ""
}

func (r *podRun) mapJSON(c *corev1.Container, v any) any {
	switch x := v.(type) {
	case string:
		return r.mapPaths(c, x)
	case []any:
		for i := range x {
			x[i] = r.mapJSON(c, x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = r.mapJSON(c, x[k])
		}
	}
	return v
}
