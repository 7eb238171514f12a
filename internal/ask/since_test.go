package ask

import (
	"testing"
	"time"
)

func TestChangesSince(t *testing.T) {
	now := time.Date(2026, 12, 2, 15, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		q    string
		want time.Time
	}{
		{"any new public endpoints?", now.Add(-ChangesWindow)},
		{"any permission changes since yesterday?", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"what changed today?", time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)},
		{"what changed in the last 3 days?", now.Add(-72 * time.Hour)},
		{"new rolebindings in the past 2 hours", now.Add(-2 * time.Hour)},
		{"what changed this week", now.Add(-7 * 24 * time.Hour)},
	} {
		if got := changesSince(c.q, now); !got.Equal(c.want) {
			t.Errorf("changesSince(%q) = %s, want %s", c.q, got, c.want)
		}
	}
}
