package chart

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"
)

// Charts that draw randomness (randAlphaNum, uuidv4, …) would render new
// bytes every time — the perpetual diff — and saved plans could never match.
// tmc draws every "random" value from a keyed stream instead: HMAC-SHA256
// over the release, namespace, target cluster, template, function,
// arguments and the call's ordinal within that template. The same inputs
// give the same bytes; a value changes only when its own template or call
// changes, not when another template adds a call.
//
// The key is the operator's (EnvKeyFile), so a generated password cannot be
// derived from the repo alone. Without a key the stream is keyed with a
// public constant, and a drawn value may then only land in objects tmc
// does not apply (test hooks): one in an applied object is an error naming
// the template and the function.
//
// Functions that generate keys, certificates, salts or IVs (genCA,
// genPrivateKey, genSelfSignedCert, genSignedCert, bcrypt, htpasswd,
// encryptAES, …) are refused: their output cannot be drawn from a stream
// with the standard library, and a key in git-rendered output would be
// plaintext in every plan anyway. now is fixed at the Unix epoch.

// unkeyed is the public key of the stream when the operator set none.
var unkeyed = []byte("tmc chart randomness without an operator key")

// Epoch is what now returns in a chart.
var Epoch = time.Unix(0, 0).UTC()

type random struct {
	key      []byte
	keyed    bool
	base     string
	mu       sync.Mutex
	template string
	counts   map[string]int
	drawn    map[string]string // unkeyed values → "template: function"
}

func newRandom(req *Request) *random {
	r := &random{key: req.Key, keyed: len(req.Key) > 0, base: req.Release + "\x00" + req.Namespace + "\x00" + req.Cluster, counts: map[string]int{}, drawn: map[string]string{}}
	if !r.keyed {
		r.key = unkeyed
	}
	return r
}

func (r *random) at(name string) {
	r.mu.Lock()
	r.template = name
	r.mu.Unlock()
}

// stream returns n bytes for one call of fn with args.
func (r *random) stream(fn string, args string, n int) ([]byte, string) {
	r.mu.Lock()
	k := r.template + "\x00" + fn + "\x00" + args
	r.counts[k]++
	seed := fmt.Sprintf("%s\x00%s\x00%d", r.base, k, r.counts[k])
	where := r.template
	r.mu.Unlock()
	out := make([]byte, 0, n+sha256.Size)
	for block := uint64(0); len(out) < n; block++ {
		m := hmac.New(sha256.New, r.key)
		m.Write([]byte(seed))
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], block)
		m.Write(b[:])
		out = m.Sum(out)
	}
	return out[:n], where
}

func (r *random) note(v, where, fn string) {
	if r.keyed || len(v) < 4 {
		return
	}
	r.mu.Lock()
	r.drawn[v] = where + ": " + fn
	r.mu.Unlock()
}

func (r *random) chars(fn, alphabet string) func(int) (string, error) {
	return func(n int) (string, error) {
		if n < 0 || n > MaxRepeat {
			return "", fmt.Errorf("%s %d: between 0 and %d", fn, n, MaxRepeat)
		}
		b, where := r.stream(fn, fmt.Sprint(n), n)
		var s strings.Builder
		for _, x := range b {
			s.WriteByte(alphabet[int(x)%len(alphabet)])
		}
		r.note(s.String(), where, fn)
		return s.String(), nil
	}
}

// check refuses unkeyed random values in what tmc applies.
func (r *random) check(ms []Manifest) error {
	if r.keyed || len(r.drawn) == 0 {
		return nil
	}
	for _, v := range slices.Sorted(maps.Keys(r.drawn)) {
		for _, m := range ms {
			if strings.Contains(m.Content, v) {
				return fmt.Errorf("%s draws a random value that lands in an object tmc applies (from %s); without an operator key it would be derivable from the repo alone: set %s on tmc to a file with a secret key, or take the value from a Secret the chart does not generate", r.drawn[v], m.Template, EnvKeyFile)
			}
		}
	}
	return nil
}

const (
	alpha     = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits    = "0123456789"
	printable = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
)

// funcs are the template functions tmc replaces in Helm's and sprig's set.
func funcs(st *state, r *random) template.FuncMap {
	refuse := func(name, why string) any {
		return func(...any) (string, error) {
			return "", fmt.Errorf("%s %s at render time: tmc renders charts deterministically, offline and the same on every run; %s", name, why, "create it with cert-manager or keep it in a Secret, and pass its name in values")
		}
	}
	m := template.FuncMap{
		"__tmc_at": func(name string) string {
			st.at(name)
			r.at(name)
			return ""
		},
		"lookup": func(apiVersion, kind, namespace, name string) (map[string]any, error) {
			return nil, fmt.Errorf("lookup %s %s %s/%s: tmc renders charts without a cluster (a render touches no cluster); pass what the chart looks up in values", apiVersion, kind, namespace, name)
		},
		"now":          func() time.Time { return Epoch },
		"randAlphaNum": r.chars("randAlphaNum", alpha+digits),
		"randAlpha":    r.chars("randAlpha", alpha),
		"randNumeric":  r.chars("randNumeric", digits),
		"randAscii":    r.chars("randAscii", printable),
		"randBytes": func(n int) (string, error) {
			if n < 0 || n > MaxRepeat {
				return "", fmt.Errorf("randBytes %d: between 0 and %d", n, MaxRepeat)
			}
			b, where := r.stream("randBytes", fmt.Sprint(n), n)
			s := base64.StdEncoding.EncodeToString(b)
			r.note(s, where, "randBytes")
			return s, nil
		},
		"randInt": func(lo, hi int) int {
			if hi <= lo {
				return lo
			}
			b, _ := r.stream("randInt", fmt.Sprint(lo, hi), 8)
			return lo + int(binary.BigEndian.Uint64(b)%uint64(hi-lo))
		},
		"uuidv4": func() string {
			b, where := r.stream("uuidv4", "", 16)
			b[6] = b[6]&0x0f | 0x40
			b[8] = b[8]&0x3f | 0x80
			s := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
			r.note(s, where, "uuidv4")
			return s
		},
		"shuffle": func(s string) string {
			rs := []rune(s)
			b, _ := r.stream("shuffle", s, 8*len(rs))
			for i := len(rs) - 1; i > 0; i-- {
				j := int(binary.BigEndian.Uint64(b[8*i:]) % uint64(i+1))
				rs[i], rs[j] = rs[j], rs[i]
			}
			return string(rs)
		},
		"until": func(n int) ([]int, error) {
			if n > MaxUntil || n < -MaxUntil {
				return nil, fmt.Errorf("until %d: at most %d items", n, MaxUntil)
			}
			out := []int{}
			for i := 0; i < n; i++ {
				out = append(out, i)
			}
			return out, nil
		},
		"untilStep": func(start, stop, step int) ([]int, error) {
			if step == 0 || (stop-start)/step > MaxUntil {
				return nil, fmt.Errorf("untilStep %d %d %d: at most %d items, a step other than 0", start, stop, step, MaxUntil)
			}
			out := []int{}
			for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
				out = append(out, i)
			}
			return out, nil
		},
		"repeat": func(n int, s string) (string, error) {
			if n < 0 || n*len(s) > MaxRepeat {
				return "", fmt.Errorf("repeat %d of %d bytes: more than %d KiB", n, len(s), MaxRepeat>>10)
			}
			return strings.Repeat(s, n), nil
		},
	}
	for _, name := range []string{"genPrivateKey", "genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey", "buildCustomCert"} {
		m[name] = refuse(name, "generates a key or certificate")
	}
	for _, name := range []string{"bcrypt", "htpasswd", "encryptAES"} {
		m[name] = refuse(name, "draws a salt or an IV")
	}
	return m
}
