package heartbeat

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/clankerd/clankerd/checks"
)

// An item's key is its identity in the history: receipts, findings and pending plans
// are kept by it. Keys are built here and only here; other packages compare them and
// never take them apart.

// Origins of items that are not written in a heartbeat file, as their File shows them.
const (
	// OriginAsk: a check or task a question (`clankerd ask`) routed to.
	OriginAsk = "ask"
	// OriginAgent: a check or task an agent named over MCP.
	OriginAgent = "mcp"
	// OriginScan: a check `clankerd scan` runs, once per check and scope.
	OriginScan = "scan"
)

// fixMarker joins a check item's key and a finding's fingerprint into the key of the
// fix plans that finding queues.
const fixMarker = "/fix/"

// ItemKindOf is the kind of item that runs a check or task of kind k.
func ItemKindOf(k checks.Kind) ItemKind {
	if k == checks.KindTask {
		return ItemTask
	}
	return ItemCheck
}

// fileItemKey is the key of an item written in the file at abs: it hashes the file,
// the check id and the parameters' identity, so moving the line keeps it and changing
// what is checked makes a new item.
func fileItemKey(abs, id, identity string) string {
	sum := sha256.Sum256([]byte(abs + "\x00" + id + "\x00" + identity))
	return hex.EncodeToString(sum[:])[:16]
}

// questionKey is the key of a plain-language item: its normalized text in the file.
func questionKey(abs, text string) string {
	return fileItemKey(abs, "?", strings.ToLower(strings.Join(strings.Fields(text), " ")))
}

// NewItem is the item that runs check or task id with params for an origin other than
// a heartbeat file (OriginAsk, OriginAgent, OriginScan), with the trust of whoever chose it. text
// is what was asked, if anything. Two calls with the same origin, id and parameters
// make the same item, so their runs share one history (trust is not part of what is
// checked). The key is a hash: parameters (a URL with a password in it) never show in
// receipts, notifications or the commands they suggest.
func NewItem(origin string, trust Trust, id string, kind checks.Kind, params checks.Params, text string) Item {
	key := origin + "-" + fileItemKey(origin, id, params.Identity())
	return Item{Key: key, File: origin, Kind: ItemKindOf(kind), ID: id, Params: params, Text: text, Trust: trust}
}

// RoutedTo is the check item a router made of the plain-language item it: same line,
// section and schedule, the question kept as its text.
func (it Item) RoutedTo(id string, params checks.Params) Item {
	c := it
	c.Kind, c.ID, c.Params, c.Routed = ItemCheck, id, params, true
	c.Key = fileItemKey(it.Key, id, params.Identity())
	return c
}

// FixKey is the key under which the fix plan for the item's finding fingerprint is
// queued: at most one such plan is pending per finding.
func (it Item) FixKey(fingerprint string) string { return it.Key + fixMarker + fingerprint }

// OwnerKey is the key of the item an item key belongs to: the check item that found the
// problem for a fix plan's key, the key itself otherwise.
func OwnerKey(key string) string {
	if i := strings.Index(key, fixMarker); i >= 0 {
		return key[:i]
	}
	return key
}

// IsFixKey reports whether key is the key a fix plan is queued under (Item.FixKey).
func IsFixKey(key string) bool { return strings.Contains(key, fixMarker) }
