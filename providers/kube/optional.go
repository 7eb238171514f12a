package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/clankerd/clankerd/checks"
)

// APIs that clusters may or may not serve (CRDs), and the reads of what only some
// checks need. These are read with the REST client as JSON into small structs that
// keep only what the checks look at, once per round through checks.Memo; the daemon
// lists them once per round too (no informer: a CRD may come and go).

// secretsRole is the opt-in role that lets clankerd list Secrets.
const secretsRole = "contrib/kubernetes/clankerd-secrets.yaml"

// served reports whether the apiserver serves resource in groupVersion, asked of
// discovery once per round.
func served(ctx context.Context, c *conn, groupVersion, resource string) (bool, error) {
	resources, err := checks.Memo(ctx, "k8s/"+c.name+"/discovery/"+groupVersion, func(ctx context.Context) ([]string, error) {
		l, err := c.client.Discovery().ServerResourcesForGroupVersion(groupVersion)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, c.apiError("discovering", groupVersion, err)
		}
		names := make([]string, 0, len(l.APIResources))
		for _, r := range l.APIResources {
			names = append(names, r.Name)
		}
		return names, nil
	})
	return slices.Contains(resources, resource), err
}

// jsonList is one page of a LIST read as JSON.
type jsonList[T any] struct {
	Metadata metav1.ListMeta `json:"metadata"`
	Items    []T             `json:"items"`
}

// listJSON reads every object of a resource served at /apis/GROUP/VERSION/RESOURCE,
// paginated, decoding each page into T (which names only the fields a check reads)
// and dropping managed fields and annotations at once.
func listJSON[T any, PT interface {
	*T
	metav1.Object
}](ctx context.Context, c *conn, groupVersion, resource string) ([]*T, error) {
	path := "/apis/" + groupVersion + "/" + resource
	return checks.Memo(ctx, "k8s/"+c.name+path, func(ctx context.Context) ([]*T, error) {
		var out []*T
		opts := metav1.ListOptions{Limit: pageSize}
		for {
			raw, err := c.client.CoreV1().RESTClient().Get().AbsPath(path).
				VersionedParams(&opts, scheme.ParameterCodec).
				SetHeader("Accept", "application/json").
				Do(ctx).Raw()
			if err != nil {
				return nil, c.apiError("listing", resource+"."+groupVersion, statusError(raw, err))
			}
			var page jsonList[T]
			if err := json.Unmarshal(raw, &page); err != nil {
				return nil, fmt.Errorf("decoding the list of %s in context %q: %w", resource, c.name, err)
			}
			for i := range page.Items {
				o := PT(&page.Items[i])
				o.SetManagedFields(nil)
				o.SetAnnotations(nil)
				out = append(out, &page.Items[i])
			}
			if page.Metadata.Continue == "" {
				return out, nil
			}
			opts.Continue = page.Metadata.Continue
		}
	})
}

// metadataListJSON asks the apiserver for names and labels only: no Secret or
// ConfigMap data is sent.
const metadataListJSON = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"

// objectNames returns "namespace/name" of every object of a core kind (configmaps,
// secrets) in namespace ns ("" = all), read as metadata only, one paginated LIST per
// round shared by every check that asks (there is no watch for it in the daemon).
// Listing Secrets is opt-in (secretsRole); a forbidden LIST of them says so.
func objectNames(ctx context.Context, c *conn, resource, ns string) (map[string]bool, error) {
	return checks.Memo(ctx, "k8s/"+c.name+"/"+resource+"/names/"+ns, func(ctx context.Context) (map[string]bool, error) {
		names := map[string]bool{}
		err := listMetadata(ctx, c, resource, ns, "", func(o *metav1.PartialObjectMetadata) {
			names[o.Namespace+"/"+o.Name] = true
		})
		if err != nil {
			return nil, err
		}
		return names, nil
	})
}

// listMetadata calls each with the metadata of every object of a core kind in
// namespace ns ("" = all) whose fields match fieldSelector ("" = every object),
// paginated; no data leaves the apiserver. A forbidden LIST of Secrets names the
// opt-in role (secretsRole).
func listMetadata(ctx context.Context, c *conn, resource, ns, fieldSelector string, each func(*metav1.PartialObjectMetadata)) error {
	opts := metav1.ListOptions{Limit: pageSize, FieldSelector: fieldSelector}
	for {
		raw, err := c.client.CoreV1().RESTClient().Get().Namespace(ns).Resource(resource).
			VersionedParams(&opts, scheme.ParameterCodec).
			SetHeader("Accept", metadataListJSON).
			Do(ctx).Raw()
		if err != nil {
			err = statusError(raw, err)
			if resource == "secrets" {
				return c.secretsError(err)
			}
			return c.apiError("listing", resource+" (metadata only)", err)
		}
		var page metav1.PartialObjectMetadataList
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("decoding the metadata of %s in context %q: %w", resource, c.name, err)
		}
		for i := range page.Items {
			each(&page.Items[i])
		}
		if page.Continue == "" {
			return nil
		}
		opts.Continue = page.Continue
	}
}

// secretsError explains a failed LIST of Secrets; forbidden means the opt-in role is
// not bound.
func (c *conn) secretsError(err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("listing secrets in context %q (%s): forbidden by RBAC%s; this check needs list on secrets, which clankerd-read does not grant; opt in by binding the ClusterRole clankerd-secrets-read in %s: %w", c.name, c.server, missingPermission(err), secretsRole, err)
	}
	return c.apiError("listing", "secrets", err)
}

// statusError is the apiserver's own explanation of a failed JSON request, which the
// protobuf-configured REST client reports only as "unknown (get ...)".
func statusError(body []byte, err error) error {
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.Message != "" {
		return &apierrors.StatusError{ErrStatus: st}
	}
	return err
}
