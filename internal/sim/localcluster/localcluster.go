// Package localcluster runs a real Kubernetes control plane on loopback for
// integration tests and the local environment: etcd and kube-apiserver, plus
// kube-controller-manager on request with the controllers a rollout controller
// relies on (see ControllerManagerControllers). It installs the project's CRDs (the
// copy the binary embeds, so it works from any directory) and hands out an admin
// *rest.Config and kubeconfig.
//
// The binaries are built once by `make k8s-bins` (hack/build-k8s-bins.sh) into a
// cache folder outside the repository; see DefaultBinDir. Pods stay Pending: no
// kubelet or scheduler runs (the local environment's node agent plays that part).
//
// Every component listens on 127.0.0.1 on free ports and logs to
// <WorkDir>/<component>.log. Typical use in a test package:
//
//	func TestMain(m *testing.M) {
//		c, err := localcluster.Start(context.Background(), localcluster.Options{ControllerManager: true})
//		...
//		code := m.Run()
//		_ = c.Stop()
//		os.Exit(code)
//	}
package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Versions of the control-plane binaries, as pinned in hack/ and named in the
// cache folder.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.6.16"
)

// Names of the binaries in the bin directory.
const (
	EtcdBin              = "etcd"
	APIServerBin         = "kube-apiserver"
	ControllerManagerBin = "kube-controller-manager"
)

// DefaultStartTimeout bounds Start when Options.StartTimeout is zero. Generous,
// because the first start on a busy 2-core machine can be slow.
const DefaultStartTimeout = 2 * time.Minute

// DefaultBinDir is where `make k8s-bins` puts the binaries: $K8S_BINS if set,
// else ${ALBROLLOUTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/albrollouts}/k8s-v1.37.2-etcd-v3.6.16.
func DefaultBinDir() string {
	if d := os.Getenv("K8S_BINS"); d != "" {
		return d
	}
	cache := os.Getenv("ALBROLLOUTS_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				home = os.TempDir()
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "albrollouts")
	}
	return filepath.Join(cache, "k8s-"+KubernetesVersion+"-etcd-"+EtcdVersion)
}

// Options configure Start. The zero value is usable.
type Options struct {
	// BinDir holds etcd, kube-apiserver and kube-controller-manager; default DefaultBinDir().
	BinDir string
	// CRDDirs are directories of CRD YAML, installed recursively and waited for
	// until Established; missing directories are skipped. An empty non-nil slice
	// installs nothing from directories.
	CRDDirs []string
	// CRDs are CRD YAML files (multi-document allowed), installed like CRDDirs.
	// When CRDDirs and CRDs are both nil, the CRDs the binary embeds are installed
	// (package config: the Rollout CRD, the CRDs of Argo's other kinds and the
	// TargetGroupBinding CRD), whatever the working directory.
	CRDs [][]byte
	// ControllerManager also runs kube-controller-manager with
	// ControllerManagerControllers.
	ControllerManager bool
	// WorkDir receives certificates, the kubeconfig, etcd's data and the logs.
	// Default: a new temporary directory, removed by Stop (when Start fails it is
	// kept, without etcd's data, for the logs). A given WorkDir is always kept.
	WorkDir string
	// Log receives the components' output, each line prefixed with the
	// component's name. Default: discarded (it is always in WorkDir's logs).
	Log io.Writer
	// StartTimeout bounds Start; default DefaultStartTimeout.
	StartTimeout time.Duration
}

// Cluster is a running control plane. Stop it when done.
type Cluster struct {
	opts        Options
	ownsWorkDir bool
	secrets     *secrets
	apiURL      string
	kubeconfig  string
	restConfig  *rest.Config

	etcd, apiserver, controllerManager *process

	stopOnce sync.Once
	stopErr  error
}

// maxAttempts is how often Start tries again when a port it picked was taken by
// someone else between choosing and binding it.
const maxAttempts = 3

// Start runs the control plane, installs the CRDs and returns when the API
// server is ready (and the controller-manager is healthy, if requested). ctx
// bounds only the start-up; the cluster runs until Stop.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	o, err := withDefaults(o)
	if err != nil {
		return nil, err
	}
	if err := checkBinaries(o); err != nil {
		return nil, err
	}
	c := &Cluster{opts: o}
	if o.WorkDir == "" {
		dir, err := os.MkdirTemp("", "albrollouts-cluster-")
		if err != nil {
			return nil, fmt.Errorf("create work directory: %w", err)
		}
		c.opts.WorkDir, c.ownsWorkDir = dir, true
	} else if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("create work directory: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err = c.start(ctx)
		if err == nil {
			return c, nil
		}
		_ = c.stopProcesses()
		if !errors.Is(err, errPortInUse) || attempt == maxAttempts {
			break
		}
		// Someone took a port between picking and binding it: start afresh.
		if rmErr := os.RemoveAll(filepath.Join(c.opts.WorkDir, "etcd")); rmErr != nil {
			break
		}
	}
	// Keep the logs for a post-mortem, but not etcd's data (its WAL alone is 64 MB).
	c.ownsWorkDir = false
	_ = c.Stop()
	_ = os.RemoveAll(filepath.Join(c.opts.WorkDir, "etcd"))
	return nil, fmt.Errorf("start local control plane (logs kept in %s): %w", c.opts.WorkDir, err)
}

func withDefaults(o Options) (Options, error) {
	if o.BinDir == "" {
		o.BinDir = DefaultBinDir()
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.Log == nil {
		o.Log = io.Discard
	} else {
		// Several components write to it at once.
		o.Log = &syncWriter{w: o.Log}
	}
	return o, nil
}

func checkBinaries(o Options) error {
	need := []string{EtcdBin, APIServerBin}
	if o.ControllerManager {
		need = append(need, ControllerManagerBin)
	}
	var missing []string
	for _, b := range need {
		if st, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("control-plane binaries missing in %s: %s; run `make k8s-bins` (builds them once, takes several minutes) or set K8S_BINS to the folder holding them",
			o.BinDir, strings.Join(missing, ", "))
	}
	return nil
}

// errPortInUse marks a start that failed because a chosen port was taken.
var errPortInUse = errors.New("port already in use")

// start runs the components in order, each one ready before the next.
func (c *Cluster) start(ctx context.Context) error {
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, apiPort, cmPort := ports[0], ports[1], ports[2], ports[3]

	if c.secrets == nil {
		if c.secrets, err = writeSecrets(c.opts.WorkDir); err != nil {
			return err
		}
	}
	httpc, err := c.httpClient()
	if err != nil {
		return err
	}

	if err := c.startEtcd(ctx, httpc, etcdClient, etcdPeer); err != nil {
		return err
	}
	if err := c.startAPIServer(ctx, httpc, etcdClient, apiPort); err != nil {
		return err
	}
	if err := c.installCRDs(ctx); err != nil {
		return err
	}
	if c.opts.ControllerManager {
		if err := c.startControllerManager(ctx, httpc, cmPort); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) startEtcd(ctx context.Context, httpc *http.Client, clientPort, peerPort int) error {
	clientURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	args := []string{
		"--name=default",
		"--data-dir=" + filepath.Join(c.opts.WorkDir, "etcd"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		"--unsafe-no-fsync=true", // test data: durability is not needed, speed is
		"--log-level=warn",
	}
	p, err := c.run(EtcdBin, args)
	if err != nil {
		return err
	}
	c.etcd = p
	return waitHealthy(ctx, p, httpc, clientURL+"/health", "")
}

func (c *Cluster) startAPIServer(ctx context.Context, httpc *http.Client, etcdPort, port int) error {
	s := c.secrets
	c.apiURL = "https://127.0.0.1:" + strconv.Itoa(port)
	args := []string{
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(etcdPort),
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + s.certFile,
		"--tls-private-key-file=" + s.keyFile,
		"--cert-dir=" + filepath.Join(c.opts.WorkDir, "apiserver-certs"),
		"--token-auth-file=" + s.tokenFile,
		"--service-account-issuer=" + c.apiURL,
		"--service-account-key-file=" + s.saPubFile,
		"--service-account-signing-key-file=" + s.saKeyFile,
		"--service-cluster-ip-range=10.0.0.0/16", // room for thousands of Services (scale runs)
		"--authorization-mode=Node,RBAC",
		// As envtest does: pods need no service-account tokens.
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		// Keep the kubernetes Service's endpoints out of it: nothing may point at a
		// non-loopback address.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}
	p, err := c.run(APIServerBin, args)
	if err != nil {
		return err
	}
	c.apiserver = p
	if err := waitHealthy(ctx, p, httpc, c.apiURL+"/readyz", s.token); err != nil {
		return err
	}
	c.restConfig = &rest.Config{
		Host:            c.apiURL,
		BearerToken:     s.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.caCertPEM},
		// Tests create many objects quickly; client-go's default 5 QPS would throttle them.
		QPS:   200,
		Burst: 400,
	}
	c.kubeconfig = filepath.Join(c.opts.WorkDir, "kubeconfig")
	return writeKubeconfig(c.kubeconfig, c.apiURL, s)
}

func (c *Cluster) installCRDs(ctx context.Context) error {
	crds, err := c.crds()
	if err != nil || len(crds) == 0 {
		return err
	}
	scheme, err := crdScheme()
	if err != nil {
		return err
	}
	cl, err := client.New(c.restConfig, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return installCRDs(ctx, cl, crds)
}

// crds are the CRDs to install: from Options.CRDDirs and Options.CRDs, or the
// embedded ones when both are nil.
func (c *Cluster) crds() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	if c.opts.CRDDirs == nil && c.opts.CRDs == nil {
		return embeddedCRDs()
	}
	crds, err := readCRDs(c.opts.CRDDirs)
	if err != nil {
		return nil, err
	}
	for i, data := range c.opts.CRDs {
		got, err := crdsInYAML(fmt.Sprintf("Options.CRDs[%d]", i), data)
		if err != nil {
			return nil, err
		}
		crds = append(crds, got...)
	}
	return crds, nil
}

// ControllerManagerControllers returns the kube-controller-manager controllers Start
// runs: ReplicaSets become Pods (replicaset) and Deployments ReplicaSets
// (deployment); ready Pods become EndpointSlice endpoints (endpointslice) and v1
// Endpoints (endpoints, which Argo-era tools still read); deleting an owner deletes
// its dependents through ownerReferences, e.g. a Rollout's ReplicaSets and their
// Pods (garbage-collector); deleting a namespace deletes what is in it (namespace);
// PodDisruptionBudgets get their status (disruption: currentHealthy,
// disruptionsAllowed), which kube-apiserver's eviction subresource checks, so an
// eviction over budget is refused with 429 as on a real cluster. Jobs get their pods
// and their Complete or Failed condition (job-controller; the analysis job metric
// runs one per measurement).
// kube-apiserver refuses loopback addresses in both EndpointSlices and Endpoints, so
// pods on 127.x get neither; see docs/local-environment.md.
func ControllerManagerControllers() []string {
	return []string{
		"replicaset-controller",
		"deployment-controller",
		"endpointslice-controller",
		"endpoints-controller",
		"garbage-collector-controller",
		"namespace-controller",
		"disruption-controller",
		"job-controller",
	}
}

func (c *Cluster) startControllerManager(ctx context.Context, httpc *http.Client, port int) error {
	s := c.secrets
	args := []string{
		"--kubeconfig=" + c.kubeconfig,
		"--controllers=" + strings.Join(ControllerManagerControllers(), ","),
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port), // only for /healthz, which needs no authentication
		"--tls-cert-file=" + s.certFile,
		"--tls-private-key-file=" + s.keyFile,
		"--use-service-account-credentials=false",
	}
	p, err := c.run(ControllerManagerBin, args)
	if err != nil {
		return err
	}
	c.controllerManager = p
	return waitHealthy(ctx, p, httpc, "https://127.0.0.1:"+strconv.Itoa(port)+"/healthz", "")
}

func (c *Cluster) run(name string, args []string) (*process, error) {
	return startProcess(name, filepath.Join(c.opts.BinDir, name), args, c.opts.WorkDir, c.opts.Log)
}

// httpClient trusts the cluster's CA, for the readiness probes.
func (c *Cluster) httpClient() (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.secrets.caCertPEM) {
		return nil, errors.New("load the generated CA certificate")
	}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}, nil
}

// waitHealthy polls url until it answers 200, failing early (with the log's
// tail) if the process dies, and at the context's deadline.
func waitHealthy(ctx context.Context, p *process, httpc *http.Client, url, token string) error {
	var lastErr error
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		if p.exited() {
			if strings.Contains(tail(p.logPath, 50), "address already in use") {
				return false, fmt.Errorf("%w: %w", errPortInUse, p.diedError())
			}
			return false, p.diedError()
		}
		lastErr = probe(ctx, httpc, url, token)
		return lastErr == nil, nil
	})
	if err != nil && !p.exited() {
		return fmt.Errorf("%s not healthy at %s: %w (last answer: %v); last lines of %s:\n%s",
			p.name, url, err, lastErr, p.logPath, tail(p.logPath, 25))
	}
	return err
}

func probe(ctx context.Context, httpc *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. The listeners are
// held until all are chosen so the same port is not returned twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		defer func() { _ = l.Close() }()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func writeKubeconfig(path, server string, s *secrets) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: s.caCertPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: s.token}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "local"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// RESTConfig returns a copy of the admin (system:masters) client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// KubeconfigPath returns a kubeconfig file for kubectl and extra processes
// (admin user, namespace default).
func (c *Cluster) KubeconfigPath() string { return c.kubeconfig }

// WorkDir returns the directory with the logs (<component>.log), certificates
// and etcd's data.
func (c *Cluster) WorkDir() string { return c.opts.WorkDir }

// Stop stops the controller-manager, then the API server, then etcd (each with
// SIGTERM, then SIGKILL after a grace period), and removes a temporary WorkDir.
// It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		err := c.stopProcesses()
		if c.ownsWorkDir {
			if rmErr := os.RemoveAll(c.opts.WorkDir); rmErr != nil {
				err = errors.Join(err, fmt.Errorf("remove work directory: %w", rmErr))
			}
		}
		c.stopErr = err
	})
	return c.stopErr
}

// stopProcesses stops what runs, clients of the API server first: it waits for
// its watchers to go away before shutting down.
func (c *Cluster) stopProcesses() error {
	err := errors.Join(c.controllerManager.stop(), c.apiserver.stop(), c.etcd.stop())
	c.controllerManager, c.apiserver, c.etcd = nil, nil, nil
	return err
}
