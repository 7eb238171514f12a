package route

import (
	"fmt"
	"testing"
)

func TestScratch(t *testing.T) {
	r := New(catalog(t), testProviders()...)
	for _, q := range []string{
		"any new public endpoints detected?",
		"show me pod status in namespace production",
		"scan production for any new public endpoints or permission changes",
		"generate a plan to scale billing-worker from 4 to 2 replicas",
		"scale billing-worker to 2 replicas",
		"show me top 10 cost increases this week",
		"any cost anomalies since last check?",
		"are all production pods healthy?",
		"estimate monthly cost change for deploying 2 additional checkout-api pods",
		"list resources with no tags in us-east-1",
		"are all pods healthy in namespace production?",
		"are we wasting money?", "is everything ok?", "anything unusual?", "who has access?", "anything exposed?",
		"orphaned disks wasting money", "any aws resources exposed?",
	} {
		res := r.Route(t.Context(), q)
		fmt.Printf("%q confident=%v write=%v missing=%v amb=%v closest=%v\n", q, res.Confident, res.Write, res.Missing, res.Ambiguous, res.Closest)
		for _, rt := range res.Routes {
			fmt.Printf("   %s %v  (%s)\n", rt.Check, rt.Params, rt.Why)
		}
	}
}
