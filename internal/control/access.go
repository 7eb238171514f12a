package control

// Group is the API group of clankerd's virtual resources: the team API authorizes
// every operation with a SubjectAccessReview of a verb on one of them, so who may do
// what is Kubernetes RBAC (contrib/kubernetes/clankerd-viewer.yaml, -proposer,
// -approver).
const Group = "clankerd.dev"

// Access is what a caller needs to perform an operation through the team API: Verb
// on Resource in Group.
type Access struct {
	Verb     string `json:"verb"`
	Resource string `json:"resource"`
}

// String is "VERB RESOURCE.clankerd.dev", as RBAC would name it.
func (a Access) String() string { return a.Verb + " " + a.Resource + "." + Group }

// apiAccess is what each served operation needs through the team API: the one table
// of who may do what (docs/team.md, "Who may do what", and the ClusterRoles follow
// it). An operation missing here is refused through the API (TestEveryServedOpHasAccess
// makes the omission deliberate), and so are those in daemonOnly.
var apiAccess = map[string]Access{
	OpStatus.name:      {"get", "status"},
	OpRuns.name:        {"list", "runs"},
	OpFindings.name:    {"list", "findings"},
	OpDiff.name:        {"list", "findings"},
	OpPlans.name:       {"list", "plans"},
	OpPlan.name:        {"get", "plans"},
	OpQueuePlan.name:   {"create", "plans"},
	OpApprove.name:     {"approve", "plans"},
	OpReject.name:      {"reject", "plans"},
	OpAudit.name:       {"list", "audit"},
	OpVerifyAudit.name: {"get", "audit"},
	OpMutes.name:       {"list", "mutes"},
	OpMute.name:        {"create", "mutes"},
	OpUnmute.name:      {"delete", "mutes"},
	OpBaselines.name:   {"list", "baselines"},
	OpAccept.name:      {"create", "baselines"},
	OpReset.name:       {"delete", "baselines"},
	OpChanges.name:     {"list", "changes"},
}

// daemonOnly are the served operations the team API refuses whoever asks: only the
// daemon records runs (its scheduler, through its in-process Local), so no remote
// caller can write receipts or findings of its choosing.
var daemonOnly = map[string]string{
	OpBeginRun.name:   "only the daemon records runs",
	OpEndRun.name:     "only the daemon records runs",
	OpAddReceipt.name: "only the daemon records runs",
}

// accessFor is what op needs through the team API; ok is false when the API never
// performs it.
func accessFor(op string) (Access, bool) {
	a, ok := apiAccess[op]
	return a, ok
}
