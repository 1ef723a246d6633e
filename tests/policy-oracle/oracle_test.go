// Differential test of ktrail's audit policy engine against kube-apiserver's own code
// (k8s.io/apiserver pkg/audit/policy, its loader, RequestInfoFactory and audit event
// construction). It generates random policies, requests and policy files, asks the real
// code what kube-apiserver decides, runs `ktrail policy check` / `ktrail policy lint` on the
// same inputs, and fails on the first disagreements, printing the seed that reproduces them.
//
//	go test ./... -args -ktrail PATH [-seed N] [-policies 200] [-events 100] [-files 400]
package policyoracle

import (
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"testing"
	"time"

	"k8s.io/klog/v2"
)

var (
	ktrailBin   = flag.String("ktrail", os.Getenv("KTRAIL_BIN"), "path to the ktrail binary")
	seedFlag    = flag.Int64("seed", 0, "random seed (0: pick one and print it)")
	numPolicies = flag.Int("policies", 200, "random policies to check")
	numEvents   = flag.Int("events", 100, "random requests per policy")
	numFiles    = flag.Int("files", 400, "random or mutated policy files to load")
	maxReports  = flag.Int("max-reports", 12, "disagreements printed per test")
	keepDir     = flag.String("keep", "", "write the failing inputs under this directory")
	stats       = flag.Bool("stats", false, "log why kube-apiserver refused the random files")
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The loader warns through klog on lenient fallbacks; the test compares outcomes only.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

func seed(t *testing.T) int64 {
	s := *seedFlag
	if s == 0 {
		s = time.Now().UnixNano()
	}
	t.Logf("seed %d (rerun with -args -seed %d)", s, s)
	t.Cleanup(func() {
		if t.Failed() {
			fmt.Fprintf(os.Stderr, "%s failed with seed %d: reproduce with tests/policy-oracle/run.sh KTRAIL -seed %d\n",
				t.Name(), s, s)
		}
	})
	return s
}

func needKtrail(t *testing.T) string {
	if *ktrailBin == "" {
		t.Fatal("no ktrail binary: pass -args -ktrail PATH or set KTRAIL_BIN")
	}
	return *ktrailBin
}

// reporter prints the first disagreements in full and counts the rest.
type reporter struct {
	t       *testing.T
	count   int
	byClass map[string]int
}

func newReporter(t *testing.T) *reporter { return &reporter{t: t, byClass: map[string]int{}} }

func (r *reporter) fail(class, format string, args ...any) {
	r.t.Helper()
	r.count++
	r.byClass[class]++
	if r.byClass[class] <= *maxReports {
		r.t.Errorf("[%s] "+format, append([]any{class}, args...)...)
	}
}

func (r *reporter) summary(total int, what string) {
	if r.count == 0 {
		r.t.Logf("%d %s: all agree with kube-apiserver", total, what)
		return
	}
	r.t.Errorf("%d of %d %s disagree with kube-apiserver; by kind: %v", r.count, total, what, r.byClass)
}

func newRand(t *testing.T) *rand.Rand { return rand.New(rand.NewSource(seed(t))) }
