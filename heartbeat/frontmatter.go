package heartbeat

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clankerd/clankerd/checks"
)

// The front-matter keys the parser itself reads; parameters add theirs through
// Catalog.FrontMatterKeys.
var ownKeys = []string{"active_hours", "evening", "jitter", "morning", "notify", "schedule", "timezone"}

var activeHoursPattern = regexp.MustCompile(`^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$`)

// frontMatter reads the YAML between the leading "---" lines, fills in the file's
// settings and the words its schedules are read with (p.words, including the file's
// default schedule), and blanks the front matter out of p.src (keeping its newlines,
// so line numbers stay right).
func (p *parser) frontMatter() {
	p.file.Location = time.Local
	p.words = defaultWords(time.Local)
	yamlText, end := p.splitFrontMatter()
	scheduleText, scheduleLine := DefaultSchedule, 0
	if yamlText != nil {
		var doc yaml.Node
		if err := yaml.Unmarshal(yamlText, &doc); err != nil {
			p.errorf(2, "front matter is not valid YAML: %v", err)
		} else if len(doc.Content) > 0 {
			if v, line, ok := p.frontMatterKeys(doc.Content[0]); ok {
				scheduleText, scheduleLine = v, line
			}
		}
		for i := 0; i < end; i++ {
			if p.src[i] != '\n' {
				p.src[i] = ' '
			}
		}
	}
	p.words.loc = p.file.Location
	sched, err := p.words.parse(scheduleText)
	if err != nil {
		p.errorf(scheduleLine, "front matter schedule: %v", err)
	}
	p.words.fileSchedule = &sched
}

// splitFrontMatter returns the YAML text and the offset where the front matter ends,
// or nil when the file has none.
func (p *parser) splitFrontMatter() ([]byte, int) {
	if !bytes.HasPrefix(p.src, []byte("---\n")) {
		return nil, 0
	}
	rest := p.src[4:]
	for off := 0; off < len(rest); {
		nl := bytes.IndexByte(rest[off:], '\n')
		line := rest[off:]
		if nl >= 0 {
			line = rest[off : off+nl]
		}
		if t := string(bytes.TrimRight(line, " \t")); t == "---" || t == "..." {
			end := 4 + off + len(line)
			return rest[:off], end
		}
		if nl < 0 {
			break
		}
		off += nl + 1
	}
	p.errorf(1, "front matter starts with --- but has no closing --- line")
	return nil, 0
}

// frontMatterKeys applies every key of the mapping and returns the schedule value and
// its line when one is set. YAML lines are offset by the opening "---" line.
func (p *parser) frontMatterKeys(m *yaml.Node) (schedule string, scheduleLine int, hasSchedule bool) {
	if m.Kind != yaml.MappingNode {
		p.errorf(m.Line+1, "front matter must be key: value lines")
		return "", 0, false
	}
	valid := append(slices.Clone(ownKeys), p.cat.FrontMatterKeys()...)
	slices.Sort(valid)
	valid = slices.Compact(valid)
	var jitterLine int
	var jitterText, activeText string
	var activeLine int
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		line := k.Line + 1
		if !slices.Contains(valid, k.Value) {
			p.errorf(line, "unknown front matter key %q; valid keys: %s", k.Value, strings.Join(valid, ", "))
			continue
		}
		if k.Value == "notify" {
			p.file.Notify = withFileLines(v)
			continue
		}
		if v.Kind != yaml.ScalarNode {
			p.errorf(line, "front matter %s: want a single value", k.Value)
			continue
		}
		switch k.Value {
		case "timezone":
			loc, err := time.LoadLocation(v.Value)
			if err != nil || v.Value == "" {
				p.errorf(line, "front matter timezone: unknown time zone %q; use an IANA name such as Europe/Berlin, America/New_York or UTC", v.Value)
				continue
			}
			p.file.Location = loc
		case "active_hours":
			activeText, activeLine = v.Value, line
		case "schedule":
			schedule, scheduleLine, hasSchedule = v.Value, line, true
		case "jitter":
			jitterText, jitterLine = v.Value, line
		case "morning":
			p.words.morning = p.timeOfDay(line, k.Value, v.Value, p.words.morning)
		case "evening":
			p.words.evening = p.timeOfDay(line, k.Value, v.Value, p.words.evening)
		default:
			p.file.Defaults[k.Value] = v.Value
		}
	}
	if jitterText != "" {
		d, err := checks.ParseDuration(jitterText)
		if err != nil {
			p.errorf(jitterLine, "front matter jitter: %v", err)
		}
		p.file.Jitter = d
	}
	if activeText != "" {
		ah, err := parseActiveHours(activeText, p.file.Location)
		if err != nil {
			p.errorf(activeLine, "front matter active_hours: %v", err)
		}
		p.file.ActiveHours = ah
	}
	return schedule, scheduleLine, hasSchedule
}

// timeOfDay reads a front-matter HH:MM value as minutes after midnight; a bad value is
// reported and old is kept.
func (p *parser) timeOfDay(line int, key, value string, old int) int {
	m := clockOnly.FindStringSubmatch(strings.ToLower(strings.TrimSpace(value)))
	if m == nil {
		p.errorf(line, "front matter %s: %q is not a time of day; write HH:MM (24-hour), such as \"08:00\"", key, value)
		return old
	}
	at, err := clockMinutes(m[1:])
	if err != nil {
		p.errorf(line, "front matter %s: %v", key, err)
		return old
	}
	return at
}

func parseActiveHours(s string, loc *time.Location) (*ActiveHours, error) {
	m := activeHoursPattern.FindStringSubmatch(strings.TrimSpace(s))
	bad := fmt.Errorf("%q is not HH:MM-HH:MM (24-hour clock, such as \"08:00-20:00\" or \"22:00-06:00\")", s)
	if m == nil {
		return nil, bad
	}
	var n [4]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	if n[0] > 23 || n[2] > 24 || n[1] > 59 || n[3] > 59 || (n[2] == 24 && n[3] != 0) {
		return nil, bad
	}
	a := &ActiveHours{Start: n[0]*60 + n[1], End: n[2]*60 + n[3], Location: loc}
	if a.Start == a.End {
		return nil, fmt.Errorf("%q is an empty window; leave active_hours out to run around the clock", s)
	}
	return a, nil
}

// withFileLines shifts the lines of a front-matter YAML node and its children by the
// opening "---" line, so that they are line numbers in the file.
func withFileLines(n *yaml.Node) *yaml.Node {
	n.Line++
	for _, c := range n.Content {
		withFileLines(c)
	}
	return n
}
