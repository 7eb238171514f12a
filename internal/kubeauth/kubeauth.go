// Package kubeauth is the team API's use of Kubernetes identity: it authenticates
// bearer tokens with TokenReviews and authorizes operations with
// SubjectAccessReviews on clankerd's virtual resources (API group clankerd.dev), both
// cached briefly; and it builds the CLI's transport to a team server from the user's
// kubeconfig credentials.
package kubeauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clankerd/clankerd/internal/control"
)

// DefaultTTL is how long a reviewed token and an access decision are reused: a
// revoked token or binding stops working within it.
const DefaultTTL = 10 * time.Second

// maxEntries bounds each cache; past it, expired entries are dropped, and then all.
const maxEntries = 4096

// Authenticator reviews bearer tokens with the TokenReview API. Tokens are cached by
// their sha256 for TTL once accepted; the token itself is never kept or logged.
type Authenticator struct {
	Client kubernetes.Interface
	// Audiences the token must be for (TokenReview spec.audiences); empty is the
	// apiserver's own.
	Audiences []string
	// TTL is how long an accepted token is reused (DefaultTTL when zero).
	TTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	cache ttlCache[[sha256.Size]byte, control.Caller]
}

var _ control.Authenticator = (*Authenticator)(nil)

// Authenticate returns who holds token. A token the cluster does not accept is an
// error wrapping control.ErrUnauthenticated; a review that could not be made is
// another error.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (control.Caller, error) {
	if a.Client == nil {
		return control.Caller{}, errors.New("kubeauth: the Authenticator needs a Kubernetes client")
	}
	key := sha256.Sum256([]byte(token))
	now := clock(a.Now)
	if c, ok := a.cache.get(key, now); ok {
		return c, nil
	}
	review, err := a.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: a.Audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		return control.Caller{}, fmt.Errorf("creating a TokenReview: %w (the daemon's Kubernetes identity needs create on tokenreviews: bind it to the ClusterRole system:auth-delegator)", err)
	}
	st := review.Status
	if !st.Authenticated || st.User.Username == "" {
		why := st.Error
		if why == "" {
			why = "the cluster does not accept it"
		}
		return control.Caller{}, fmt.Errorf("%w: the bearer token was refused by the TokenReview: %s", control.ErrUnauthenticated, why)
	}
	c := control.Caller{User: st.User.Username, Groups: slices.Clone(st.User.Groups), UID: st.User.UID}
	a.cache.put(key, c, now, ttl(a.TTL))
	return c, nil
}

// Authorizer decides with the SubjectAccessReview API whether a caller may use a
// verb on one of clankerd's virtual resources (cluster-wide: bind the ClusterRoles
// with ClusterRoleBindings). Decisions, allowed or denied, are cached for TTL;
// errors are not.
type Authorizer struct {
	Client kubernetes.Interface
	// TTL is how long a decision is reused (DefaultTTL when zero).
	TTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	cache ttlCache[string, bool]
}

var _ control.Authorizer = (*Authorizer)(nil)

// Authorize reports whether c may do what a names, in API group control.Group.
func (z *Authorizer) Authorize(ctx context.Context, c control.Caller, a control.Access) (bool, error) {
	if z.Client == nil {
		return false, errors.New("kubeauth: the Authorizer needs a Kubernetes client")
	}
	groups := slices.Clone(c.Groups)
	slices.Sort(groups)
	key := strings.Join([]string{c.User, c.UID, strings.Join(groups, "\x01"), a.Verb, a.Resource}, "\x00")
	now := clock(z.Now)
	if allowed, ok := z.cache.get(key, now); ok {
		return allowed, nil
	}
	review, err := z.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User: c.User, Groups: c.Groups, UID: c.UID,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: control.Group, Resource: a.Resource, Verb: a.Verb},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("creating a SubjectAccessReview: %w (the daemon's Kubernetes identity needs create on subjectaccessreviews: bind it to the ClusterRole system:auth-delegator)", err)
	}
	if review.Status.EvaluationError != "" && !review.Status.Allowed {
		// RBAC answered, but part of the authorizer chain failed: a denial then may be
		// wrong, so it is not cached.
		return false, nil
	}
	allowed := review.Status.Allowed && !review.Status.Denied
	z.cache.put(key, allowed, now, ttl(z.TTL))
	return allowed, nil
}

func clock(now func() time.Time) time.Time {
	if now == nil {
		return time.Now()
	}
	return now()
}

func ttl(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTTL
	}
	return d
}

// ttlCache maps keys to values until they expire, bounded by maxEntries.
type ttlCache[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[K]cached[V]
}

type cached[V any] struct {
	v       V
	expires time.Time
}

func (c *ttlCache[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[K, V]) put(k K, v V, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[K]cached[V]{}
	}
	if len(c.entries) >= maxEntries {
		for key, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, key)
			}
		}
		if len(c.entries) >= maxEntries {
			clear(c.entries)
		}
	}
	c.entries[k] = cached[V]{v, now.Add(ttl)}
}
