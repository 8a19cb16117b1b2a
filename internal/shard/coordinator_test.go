package shard

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kcp-dev/tmc/test/harness"
)

type replica struct {
	c      *Coordinator
	cancel context.CancelFunc
	done   chan struct{}
}

func startReplica(t *testing.T, cs kubernetes.Interface, id string, units []Unit) *replica {
	t.Helper()
	c, err := New(Options{Client: cs, Namespace: "default", Group: "tmc-test", Identity: id, Address: id + ":8080",
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.SetUnits(units)
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{c: c, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); c.Run(ctx, context.Background()) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// watchOwners samples every replica's own word on what it owns, until
// stop, and fails the test when two replicas say they own one unit at once.
func watchOwners(t *testing.T, reps func() []*replica, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		by := map[string]string{}
		for _, r := range reps() {
			for k := range r.c.Owned() {
				if o, ok := by[k]; ok {
					t.Errorf("%s is owned by %s and %s at once", k, o, r.c.Identity())
				}
				by[k] = r.c.Identity()
			}
		}
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < timeout {
		ok, s := cond()
		if ok {
			return time.Since(start)
		}
		last = s
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %s", what, last)
	return 0
}

// TestShardOwnershipNeverTwoOwners: three coordinators over a real API
// server share 30 workspaces; every unit gets exactly one owner; a replica
// that stops renewing (kill -9) loses its units to the others within the
// lease duration and a few rounds, and stops claiming them itself first;
// a fourth replica takes about a quarter; one that leaves gracefully hands
// over at once; at no sample do two replicas say they own one unit.
func TestShardOwnershipNeverTwoOwners(t *testing.T) {
	cs := harness.StartT(t, "home").Get("home").Clientset
	var units []Unit
	for i := range 30 {
		units = append(units, Unit{Key: fmt.Sprintf("root/ws-%02d", i), Weight: float64(1 + i%4)})
	}
	var mu sync.Mutex
	var reps []*replica
	all := func() []*replica { mu.Lock(); defer mu.Unlock(); return append([]*replica(nil), reps...) }
	add := func(id string) *replica {
		r := startReplica(t, cs, id, units)
		mu.Lock()
		reps = append(reps, r)
		mu.Unlock()
		return r
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go watchOwners(t, all, stop, &wg)
	defer func() { close(stop); wg.Wait() }()

	a, b, _ := add("a"), add("b"), add("c")
	owners := func() (map[string]int, int) {
		count, owned := map[string]int{}, 0
		for _, r := range all() {
			n := len(r.c.Owned())
			count[r.c.Identity()] = n
			owned += n
		}
		return count, owned
	}
	waitFor(t, "every unit owned", 20*time.Second, func() (bool, string) {
		c, n := owners()
		v := a.c.View()
		return n == len(units)+1 && len(v.Unowned) == 0, fmt.Sprint(c, v.Unowned)
	})
	if c, _ := owners(); c["a"] < 5 || c["b"] < 5 || c["c"] < 5 {
		t.Errorf("three replicas, 31 units, shares %v", c)
	}

	// kill -9 b: it stops renewing and, at its renew deadline, working.
	lost := b.c.Owned()
	b.c.crash = true
	b.cancel()
	<-b.done
	took := waitFor(t, "b's units taken over", 20*time.Second, func() (bool, string) {
		c, n := owners()
		v := a.c.View()
		return n-c["b"] == len(units)+1 && c["b"] == 0 && len(v.Unowned) == 0, fmt.Sprint(c, v.Unowned)
	})
	t.Logf("b's %d units taken over %s after the kill (lease 3s)", len(lost), took.Round(100*time.Millisecond))
	// The bound is the lease duration, a renew deadline for the round that
	// sees it lapse and a second of scheduling slack on a loaded machine.
	if took > 3*time.Second+2*time.Second+time.Second {
		t.Errorf("took %s, more than the lease duration and a few rounds", took)
	}
	mu.Lock()
	reps = []*replica{reps[0], reps[2]}
	mu.Unlock()

	// A new replica takes about its share. The assignment balances load
	// (the units' weights), not counts: d is done when it carries at least
	// Floor × the mean load of the three, and it never carries more than
	// Slack × the mean.
	weight := map[string]float64{GoneUnit: 1}
	total := 1.0
	for _, u := range units {
		weight[u.Key] = u.Weight
		total += u.Weight
	}
	loadOf := func(r *replica) float64 {
		l := 0.0
		for k := range r.c.Owned() {
			l += weight[k]
		}
		return l
	}
	mean := total / 3
	d := add("d")
	waitFor(t, "d takes its share", 20*time.Second, func() (bool, string) {
		c, n := owners()
		return n == len(units)+1 && loadOf(d) >= Floor*mean, fmt.Sprintf("%v, d's load %.0f of a mean %.1f", c, loadOf(d), mean)
	})
	if l := loadOf(d); l > Slack*mean {
		t.Errorf("d carries a load of %.0f, more than %.2f × the mean %.1f", l, Slack, mean)
	}

	// A graceful leave hands over without waiting for the lease.
	d.cancel()
	<-d.done
	took = waitFor(t, "d's units taken over", 10*time.Second, func() (bool, string) {
		c, n := owners()
		return n-c["d"] == len(units)+1, fmt.Sprint(c)
	})
	// Not waiting for the lease to lapse is the point: under its duration.
	if took >= 3*time.Second {
		t.Errorf("a graceful leave took %s to hand over, as long as the lease", took)
	}
}
