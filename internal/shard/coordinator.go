package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Labels and annotations of the shard objects.
const (
	LabelGroup        = "tmc.kcp.io/shard-group"
	AnnotationAddress = "tmc.kcp.io/status-address"
	tableKey          = "owners"
	weightsKey        = "weights"
)

// GoneUnit is the unit whose owner prunes the workspaces git no longer
// holds (it is assigned like a workspace of weight 1).
const GoneUnit = "~gone"

// Options configure a Coordinator.
type Options struct {
	// Client reaches the cluster tmc runs in; Namespace holds the Leases
	// and the ownership table.
	Client    kubernetes.Interface
	Namespace string
	// Group names the replicas' set: Leases <Group>-<Identity> labelled
	// tmc.kcp.io/shard-group=<Group>, and the ConfigMap <Group>-shards.
	Group string
	// Identity is this replica's name (the pod's).
	Identity string
	// Address is where this replica's status API answers (an annotation of
	// its Lease), so that every replica can show the whole fleet.
	Address string
	// LeaseDuration is how long a Lease lasts unrenewed (default 15s);
	// RenewDeadline how long this replica keeps working without a
	// renewal (default 2/3 of it); RetryPeriod how often it renews and
	// reconciles the table (default 2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Changed is called when this replica's owned set changes.
	Changed func()
	// Logf logs a line; nil discards.
	Logf func(format string, args ...any)
}

// Coordinator is one replica's part in sharding: it renews the replica's
// Lease, watches the others', and keeps the ownership table in step with
// Assign, one CAS write at a time.
type Coordinator struct {
	o Options

	mu        sync.Mutex
	units     []Unit
	inflight  map[string]int
	owned     map[string]bool
	lastRenew time.Time // of our Lease, on our clock
	lapsed    bool      // the Lease went unrenewed past RenewDeadline
	observed  map[string]observation
	view      View
	fence     context.Context
	cancel    context.CancelFunc
	deadline  *time.Timer     // fires RenewDeadline after the last renewal: the fence
	crash     bool            // tests: stop as kill -9 would, without leaving
	rounds    int             // table rounds run: the first only looks
	wasFree   map[string]bool // units nobody held in the last round
}

type observation struct {
	renew   string // the Lease's renewTime as last read
	seen    time.Time
	address string
}

// View is the fleet as this replica reads it: the live replicas, who owns
// what, and what nobody owns.
type View struct {
	// Replicas are the replicas with a Lease, sorted.
	Replicas []Replica `json:"replicas"`
	// Owners maps each unit (logicalCluster/name, or ~gone) to its owner; "" when nobody owns it.
	Owners map[string]string `json:"owners"`
	// Unowned are the units whose table entry is empty or names a replica whose Lease is not live.
	Unowned []string `json:"unowned"`
	// Desired is the assignment the live replicas converge on.
	Desired map[string]string `json:"desired"`
}

// Replica is one replica of the view.
type Replica struct {
	Identity string  `json:"identity"`
	Live     bool    `json:"live"`
	Address  string  `json:"address,omitempty"`
	Owned    int     `json:"owned"`
	Load     float64 `json:"load"`
}

// New makes a coordinator; Run starts it.
func New(o Options) (*Coordinator, error) {
	if o.Client == nil || o.Namespace == "" || o.Group == "" || o.Identity == "" {
		return nil, errors.New("shard: a client, a namespace, a group and an identity are required")
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = 15 * time.Second
	}
	if o.RenewDeadline <= 0 || o.RenewDeadline >= o.LeaseDuration {
		o.RenewDeadline = o.LeaseDuration * 2 / 3
	}
	if o.RetryPeriod <= 0 {
		o.RetryPeriod = min(2*time.Second, o.RenewDeadline/3)
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Changed == nil {
		o.Changed = func() {}
	}
	c := &Coordinator{o: o, inflight: map[string]int{}, owned: map[string]bool{}, observed: map[string]observation{}}
	c.fence, c.cancel = context.WithCancel(context.Background())
	c.cancel() // nothing owned until the first renewal
	return c, nil
}

// Identity is this replica's name.
func (c *Coordinator) Identity() string { return c.o.Identity }

// SetUnits gives the units of the current revision (GoneUnit is added).
func (c *Coordinator) SetUnits(units []Unit) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.units = append(slices.Clone(units), Unit{Key: GoneUnit, Weight: 1})
}

// Begin returns the units this replica may work on now and a context
// that ends when it may no longer (its Lease went unrenewed past the renew
// deadline); they stay this replica's until End, whatever the assignment
// says meanwhile (a hand-over waits for the work in flight).
func (c *Coordinator) Begin() (map[string]bool, context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	if c.lapsed || c.fence.Err() != nil {
		return out, c.fence
	}
	for k := range c.owned {
		out[k] = true
		c.inflight[k]++
	}
	return out, c.fence
}

// End marks the work Begin started as done.
func (c *Coordinator) End(units map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range units {
		if c.inflight[k]--; c.inflight[k] <= 0 {
			delete(c.inflight, k)
		}
	}
}

// View returns the fleet as last read.
func (c *Coordinator) View() View {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.view
	v.Owners, v.Desired = maps.Clone(v.Owners), maps.Clone(v.Desired)
	v.Replicas, v.Unowned = slices.Clone(v.Replicas), slices.Clone(v.Unowned)
	return v
}

// Owned returns the units this replica owns now.
func (c *Coordinator) Owned() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lapsed {
		return map[string]bool{}
	}
	return maps.Clone(c.owned)
}

func (c *Coordinator) leaseName() string { return c.o.Group + "-" + c.o.Identity }
func (c *Coordinator) tableName() string { return c.o.Group + "-shards" }

// Run renews the Lease and reconciles the table every RetryPeriod until
// ctx ends; then, once the work in flight is done (bounded by finish), it
// gives its units back and deletes its Lease, so that the others take over
// at once (a scale-down loses no time to the lease duration).
func (c *Coordinator) Run(ctx, finish context.Context) {
	t := time.NewTicker(c.o.RetryPeriod)
	defer t.Stop()
	for {
		c.step(ctx)
		select {
		case <-ctx.Done():
			if !c.crash {
				c.leave(finish)
			}
			return
		case <-t.C:
		}
	}
}

func (c *Coordinator) step(ctx context.Context) {
	err := c.renew(ctx, time.Now())
	if err != nil && ctx.Err() == nil {
		c.o.Logf("shard: renewing Lease %s/%s: %v", c.o.Namespace, c.leaseName(), err)
	}
	c.mu.Lock()
	recovering := c.lapsed && err == nil
	lapsed := c.lapsed && !recovering
	c.mu.Unlock()
	if lapsed {
		c.changed(map[string]bool{})
		return
	}
	if err := c.reconcile(ctx, recovering); err != nil && ctx.Err() == nil && !apierrors.IsConflict(err) {
		c.o.Logf("shard: ownership table: %v", err)
	}
}

// lapse stops all work: the Lease went unrenewed for RenewDeadline, so
// another replica may take over once LeaseDuration has passed.
func (c *Coordinator) lapse() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lapsed {
		return
	}
	c.lapsed = true
	c.owned = map[string]bool{}
	c.cancel()
	c.o.Logf("shard: Lease %s not renewed for %s: all work stopped", c.leaseName(), c.o.RenewDeadline)
	go c.o.Changed()
}

func (c *Coordinator) renew(ctx context.Context, now time.Time) error {
	leases := c.o.Client.CoordinationV1().Leases(c.o.Namespace)
	secs := int32(c.o.LeaseDuration.Seconds())
	mt := metav1.NewMicroTime(now)
	l, err := leases.Get(ctx, c.leaseName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: c.leaseName(), Namespace: c.o.Namespace,
			Labels: map[string]string{LabelGroup: c.o.Group}, Annotations: map[string]string{AnnotationAddress: c.o.Address}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &c.o.Identity, LeaseDurationSeconds: &secs, AcquireTime: &mt, RenewTime: &mt}}
		if _, err := leases.Create(ctx, l, metav1.CreateOptions{}); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		l.Spec.RenewTime, l.Spec.LeaseDurationSeconds, l.Spec.HolderIdentity = &mt, &secs, &c.o.Identity
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[AnnotationAddress] = c.o.Address
		if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.lastRenew = now
	if c.deadline == nil {
		c.deadline = time.AfterFunc(c.o.RenewDeadline, c.lapse)
	} else {
		c.deadline.Reset(c.o.RenewDeadline - time.Since(now))
	}
	c.mu.Unlock()
	return nil
}

type table struct {
	cm      *corev1.ConfigMap
	owners  map[string]string
	weights map[string]float64
}

func (c *Coordinator) readTable(ctx context.Context) (*table, error) {
	cms := c.o.Client.CoreV1().ConfigMaps(c.o.Namespace)
	cm, err := cms.Get(ctx, c.tableName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: c.tableName(), Namespace: c.o.Namespace,
			Labels: map[string]string{LabelGroup: c.o.Group}}, Data: map[string]string{tableKey: "{}"}}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			cm, err = cms.Get(ctx, c.tableName(), metav1.GetOptions{})
		}
	}
	if err != nil {
		return nil, err
	}
	t := &table{cm: cm, owners: map[string]string{}, weights: map[string]float64{}}
	if s := cm.Data[tableKey]; s != "" {
		if err := json.Unmarshal([]byte(s), &t.owners); err != nil {
			return nil, fmt.Errorf("ConfigMap %s: %s: %w", c.tableName(), tableKey, err)
		}
	}
	if s := cm.Data[weightsKey]; s != "" {
		_ = json.Unmarshal([]byte(s), &t.weights)
	}
	return t, nil
}

func (c *Coordinator) writeTable(ctx context.Context, t *table) error {
	owners, _ := json.Marshal(t.owners)
	weights, _ := json.Marshal(t.weights)
	cm := t.cm.DeepCopy()
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[tableKey], cm.Data[weightsKey] = string(owners), string(weights)
	_, err := c.o.Client.CoreV1().ConfigMaps(c.o.Namespace).Update(ctx, cm, metav1.UpdateOptions{}) // CAS on resourceVersion
	return err
}

// live reads every Lease of the group and returns the replicas whose Lease
// changed within LeaseDuration of our own clock (as client-go's leader
// election judges a Lease: by when we saw it change, never by the clock of
// whoever wrote it).
func (c *Coordinator) live(ctx context.Context) (map[string]bool, map[string]string, error) {
	list, err := c.o.Client.CoordinationV1().Leases(c.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelGroup + "=" + c.o.Group})
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	live, addr := map[string]bool{}, map[string]string{}
	seen := map[string]bool{}
	for _, l := range list.Items {
		if l.Spec.HolderIdentity == nil {
			continue
		}
		id := *l.Spec.HolderIdentity
		seen[id] = true
		renew := ""
		if l.Spec.RenewTime != nil {
			renew = l.Spec.RenewTime.UTC().Format(time.RFC3339Nano)
		}
		ob, ok := c.observed[id]
		if !ok || ob.renew != renew {
			ob = observation{renew: renew, seen: now}
		}
		ob.address = l.Annotations[AnnotationAddress]
		c.observed[id] = ob
		d := c.o.LeaseDuration
		if l.Spec.LeaseDurationSeconds != nil {
			d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
		}
		if now.Sub(ob.seen) < d || (id == c.o.Identity && !c.lapsed) {
			live[id] = true
		}
		addr[id] = ob.address
	}
	for id := range c.observed {
		if !seen[id] {
			delete(c.observed, id) // a Lease deleted: that replica left
		}
	}
	return live, addr, nil
}

// reconcile brings this replica's entries of the table in step with the
// assignment: it gives back what is no longer its own (once no work on it
// is in flight) and takes what is, when nobody live holds it. Every write
// is one compare-and-swap; a conflict waits for the next round.
//
// The table is read before the Leases: a replica whose Lease lapsed and
// came back writes the table before it works again (force), so a takeover
// decided on the lapsed Lease either lands before that write (and the
// replica sees it) or conflicts with it (and the next round sees the Lease
// renewed).
func (c *Coordinator) reconcile(ctx context.Context, force bool) error {
	t, err := c.readTable(ctx)
	if err != nil {
		return err
	}
	live, addr, err := c.live(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	units := slices.Clone(c.units)
	inflight := maps.Clone(c.inflight)
	c.mu.Unlock()
	for i, u := range units {
		if w, ok := t.weights[u.Key]; ok { // measured by its owner: every replica uses the same
			units[i].Weight = w
		}
	}
	known := map[string]bool{}
	for _, u := range units {
		known[u.Key] = true
	}
	desired := Assign(units, slices.Sorted(maps.Keys(live)), t.owners)
	me := c.o.Identity
	dirty := false
	c.mu.Lock()
	c.rounds++
	first := c.rounds == 1
	c.mu.Unlock()
	if first {
		// The first round only looks: replicas started together see each
		// other's Leases before any claims (else the first up would take
		// every unit, and hand most of them over a moment later).
		desired = map[string]string{}
	}
	for k, owner := range t.owners {
		if owner != me {
			continue
		}
		if (!known[k] || desired[k] != me) && inflight[k] == 0 {
			delete(t.owners, k) // hand over: our work on it is done
			dirty = true
		}
	}
	c.mu.Lock()
	wasFree := c.wasFree
	c.wasFree = map[string]bool{}
	for _, u := range units {
		if t.owners[u.Key] == "" {
			c.wasFree[u.Key] = true
		}
	}
	c.mu.Unlock()
	for _, u := range units {
		if desired[u.Key] != me {
			continue
		}
		// A unit its owner gave back is taken a round after it was seen
		// free, never in the round it was freed: the old owner has long
		// stopped showing it by then. One whose holder's Lease expired is
		// taken at once (the lease duration was the wait).
		if holder := t.owners[u.Key]; holder != me && ((holder == "" && wasFree[u.Key]) || (holder != "" && !live[holder])) {
			t.owners[u.Key] = me
			dirty = true
		}
	}
	for k := range t.weights {
		if !known[k] {
			delete(t.weights, k)
			dirty = true
		}
	}
	if dirty || force {
		if err := c.writeTable(ctx, t); err != nil {
			return err
		}
	}
	owned := map[string]bool{}
	for k, owner := range t.owners {
		if owner == me && known[k] {
			owned[k] = true
		}
	}
	c.mu.Lock()
	if c.lapsed && !force {
		c.mu.Unlock()
		return nil // lapsed meanwhile: the next round recovers
	}
	c.lapsed = false
	if c.fence.Err() != nil {
		c.fence, c.cancel = context.WithCancel(context.Background())
	}
	c.view = c.buildView(units, live, addr, t.owners, desired)
	c.mu.Unlock()
	c.changed(owned)
	return nil
}

func (c *Coordinator) buildView(units []Unit, live map[string]bool, addr, owners, desired map[string]string) View {
	v := View{Owners: map[string]string{}, Desired: desired, Unowned: []string{}}
	count, load := map[string]int{}, map[string]float64{}
	for _, u := range units {
		o := owners[u.Key]
		if o != "" && !live[o] {
			o = ""
		}
		v.Owners[u.Key] = o
		if o == "" {
			v.Unowned = append(v.Unowned, u.Key)
			continue
		}
		count[o]++
		load[o] += max(u.Weight, 1)
	}
	slices.Sort(v.Unowned)
	for _, id := range slices.Sorted(maps.Keys(addr)) {
		v.Replicas = append(v.Replicas, Replica{Identity: id, Live: live[id], Address: addr[id], Owned: count[id], Load: load[id]})
	}
	return v
}

func (c *Coordinator) changed(owned map[string]bool) {
	c.mu.Lock()
	same := maps.Equal(owned, c.owned)
	if !same {
		c.owned = owned
	}
	c.mu.Unlock()
	if !same {
		c.o.Logf("shard: %s owns %d units", c.o.Identity, len(owned))
		c.o.Changed()
	}
}

// SetWeights records units' measured sizes (target clusters × objects)
// in the table, for every replica's assignment — those that differ by more
// than a fifth from what it holds, in one write.
func (c *Coordinator) SetWeights(ctx context.Context, weights map[string]float64) error {
	for range 3 {
		t, err := c.readTable(ctx)
		if err != nil {
			return err
		}
		dirty := false
		for key, w := range weights {
			if old, ok := t.weights[key]; ok && w > 0 && old > 0 && w/old < 1.2 && old/w < 1.2 {
				continue
			}
			t.weights[key] = w
			dirty = true
		}
		if !dirty {
			return nil
		}
		if err = c.writeTable(ctx, t); !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

// leave gives this replica's units back and deletes its Lease, once the
// work in flight is done.
func (c *Coordinator) leave(finish context.Context) {
	for {
		c.mu.Lock()
		busy := len(c.inflight)
		c.mu.Unlock()
		if busy == 0 || finish.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 5 {
		t, err := c.readTable(ctx)
		if err != nil {
			break
		}
		for k, o := range t.owners {
			if o == c.o.Identity {
				delete(t.owners, k)
			}
		}
		if err := c.writeTable(ctx, t); err == nil || !apierrors.IsConflict(err) {
			break
		}
	}
	_ = c.o.Client.CoordinationV1().Leases(c.o.Namespace).Delete(ctx, c.leaseName(), metav1.DeleteOptions{})
	c.mu.Lock()
	c.owned = map[string]bool{}
	c.cancel()
	c.mu.Unlock()
	c.o.Logf("shard: %s left: units given back, Lease deleted", c.o.Identity)
}
