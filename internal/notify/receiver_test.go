package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// receiver is a real HTTP endpoint that records what it accepts. It verifies the
// signature when it has a secret, and answers failWith to the first fails requests.
type receiver struct {
	*httptest.Server
	secret []byte

	mu       sync.Mutex
	fails    int
	failWith int
	attempts int
	// accepted counts the notifications it accepted, by idempotency key.
	accepted map[string]int
	bodies   [][]byte
	problems []string
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	r := &receiver{secret: []byte(secret), failWith: http.StatusServiceUnavailable, accepted: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if r.fails > 0 {
		r.fails--
		http.Error(w, "down for maintenance", r.failWith)
		return
	}
	key := req.Header.Get(IdempotencyHeader)
	if key == "" {
		r.problems = append(r.problems, "no Idempotency-Key header")
	}
	if len(r.secret) > 0 && VerifySignature(r.secret, body, req.Header, time.Now()) != nil {
		r.problems = append(r.problems, "bad signature "+req.Header.Get(SignatureHeader))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.accepted[key]++
	r.bodies = append(r.bodies, body)
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) failNext(n int) {
	r.mu.Lock()
	r.fails = n
	r.mu.Unlock()
}

func (r *receiver) snapshot() (accepted map[string]int, bodies [][]byte, attempts int, problems []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	accepted = map[string]int{}
	for k, v := range r.accepted {
		accepted[k] = v
	}
	return accepted, append([][]byte(nil), r.bodies...), r.attempts, append([]string(nil), r.problems...)
}

// webhookPayloads decodes the bodies a webhook receiver accepted.
func webhookPayloads(t *testing.T, r *receiver) []webhookBody {
	t.Helper()
	_, bodies, _, _ := r.snapshot()
	out := make([]webhookBody, len(bodies))
	for i, b := range bodies {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("webhook body is not JSON: %v\n%s", err, b)
		}
	}
	return out
}
