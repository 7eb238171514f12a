package view

import (
	"io"
	"log/slog"
)

// NewLogger is the logger every command writes to w (stderr): text lines at level and
// above, with every string and error value cleaned, since errors may quote what a
// server said.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: cleanAttr}))
}

func cleanAttr(_ []string, a slog.Attr) slog.Attr {
	switch v := a.Value.Any().(type) {
	case string:
		a.Value = slog.StringValue(clean(v))
	case error:
		a.Value = slog.StringValue(clean(v.Error()))
	}
	return a
}
