package heartbeat

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/clankerd/clankerd/checks"
)

// DefaultSchedule applies to items under no heading with a schedule when the front
// matter sets none.
const DefaultSchedule = "every 30m"

// DefaultMorning and DefaultEvening are the times of day a heading's "(morning)" and
// "(evening)" stand for when the front matter's morning: and evening: set none.
const (
	DefaultMorning = "09:00"
	DefaultEvening = "18:00"
)

// scheduleForms is shown when a schedule cannot be read.
const scheduleForms = "write `every 5 minutes`, `every 30m`, `hourly`, `daily at 08:30`, `weekdays at 08:30`, `mondays at 09:00`, or a cron spec in backticks such as `0 2 * * *` or `@every 10m`"

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

var (
	backticked   = regexp.MustCompile("`([^`]*)`")
	cronLike     = regexp.MustCompile(`^(@\S+.*|(\S+\s+){4}\S+)$`)
	clock        = `(\d{1,2}):(\d{2})\s*(am|pm)?`
	everyUnit    = regexp.MustCompile(`\bevery\s+(\d+)\s*(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?)\b`)
	everyOne     = regexp.MustCompile(`\bevery\s+(second|minute|hour|day)\b`)
	everyDur     = regexp.MustCompile(`\bevery\s+(\d[0-9a-z.]*)\b`)
	dailyAt      = regexp.MustCompile(`\b(?:daily|nightly|every\s+day)\s+at\s+` + clock)
	weekdaysAt   = regexp.MustCompile(`\bweekdays?\s+at\s+` + clock)
	weekendsAt   = regexp.MustCompile(`\bweekends?\s+at\s+` + clock)
	dayNameAt    = regexp.MustCompile(`\b(mon|tues|wednes|thurs|fri|satur|sun)days?\s+at\s+` + clock)
	bareAt       = regexp.MustCompile(`\bat\s+` + clock)
	hourlyWord   = regexp.MustCompile(`\bhourly\b`)
	dailyWord    = regexp.MustCompile(`\bdaily\b`)
	weeklyWord   = regexp.MustCompile(`\bweekly\b`)
	everyWord    = regexp.MustCompile(`\bevery\b`)
	nightlyAlone = regexp.MustCompile(`\bnightly\b`)
	continuous   = regexp.MustCompile(`^\s*continuous(ly)?\s*(\(.*)?$|\b(every|each)\s+heartbeat\b`)
	refined      = regexp.MustCompile(`\b(daily|weekly|weekdays?|weekends?)\s*\(([^)]*)\)`)
	refineDay    = regexp.MustCompile(`\b(mon|tues?|wed|wednes|thu|thur|thurs|fri|sat|satur|sun)(day)?s?\b`)
	refineTime   = regexp.MustCompile(`\b(morning|evening)s?\b`)
	refineClock  = regexp.MustCompile(`\b` + clock)
	clockOnly    = regexp.MustCompile(`^` + clock + `$`)
)

var dayNumbers = map[string]int{"sun": 0, "mon": 1, "tues": 2, "wednes": 3, "thurs": 4, "fri": 5, "satur": 6}

// shortDays maps the short weekday names a heading's parentheses may use to dayNumbers'.
var shortDays = map[string]string{"tue": "tues", "wed": "wednes", "thu": "thurs", "thur": "thurs", "sat": "satur"}

// scheduleWords is what schedule words are read against: the file's time zone, the
// times of day its "(morning)" and "(evening)" stand for, and its default schedule,
// which "continuous" and "every heartbeat" mean.
type scheduleWords struct {
	loc              *time.Location
	morning, evening int // minutes after midnight
	// fileSchedule is nil while the default schedule itself is read.
	fileSchedule *Schedule
}

// defaultWords reads schedules in loc with the default morning and evening.
func defaultWords(loc *time.Location) scheduleWords {
	if loc == nil {
		loc = time.Local
	}
	morning, _ := clockMinutes(clockOnly.FindStringSubmatch(DefaultMorning)[1:])
	evening, _ := clockMinutes(clockOnly.FindStringSubmatch(DefaultEvening)[1:])
	return scheduleWords{loc: loc, morning: morning, evening: evening}
}

// errNoSchedule: the text holds no schedule (free-text headings).
var errNoSchedule = errors.New("no schedule in the text")

// ParseSchedule reads a schedule phrase (or a cron spec) in loc. Wall-clock schedules
// are evaluated in loc; interval schedules do not depend on it.
func ParseSchedule(text string, loc *time.Location) (Schedule, error) {
	return defaultWords(loc).parse(text)
}

// parse reads a schedule phrase (or a cron spec); text without one is an error.
func (sw scheduleWords) parse(text string) (Schedule, error) {
	s, err := sw.find(text)
	if errors.Is(err, errNoSchedule) {
		return Schedule{}, fmt.Errorf("%q is not a schedule: %s", strings.TrimSpace(text), scheduleForms)
	}
	return s, err
}

// find looks for a schedule anywhere in text (a heading): a cron spec in
// backticks first, then words. It returns errNoSchedule when there is none, and
// another error when there is something that looks like one but cannot be read.
func (sw scheduleWords) find(text string) (Schedule, error) {
	loc := sw.loc
	for _, m := range backticked.FindAllStringSubmatch(text, -1) {
		spec := strings.TrimSpace(m[1])
		if cronLike.MatchString(spec) {
			return cronSchedule(text, spec, loc)
		}
	}
	if cronLike.MatchString(strings.TrimSpace(text)) && (strings.HasPrefix(strings.TrimSpace(text), "@") || strings.ContainsAny(text, "*")) {
		return cronSchedule(text, strings.TrimSpace(text), loc)
	}
	words := strings.ToLower(backticked.ReplaceAllString(text, " "))
	if continuous.MatchString(words) {
		if sw.fileSchedule == nil {
			return Schedule{}, errors.New("\"continuous\" and \"every heartbeat\" mean the file's own schedule; write an interval here, such as every 30m")
		}
		s := *sw.fileSchedule
		s.Text = strings.TrimSpace(text)
		return s, nil
	}
	spec, err := sw.wordsToSpec(words)
	if err != nil {
		return Schedule{}, err
	}
	return cronSchedule(strings.TrimSpace(text), spec, loc)
}

// wordsToSpec turns schedule words into a cron spec.
func (sw scheduleWords) wordsToSpec(w string) (string, error) {
	if m := refined.FindStringSubmatchIndex(w); m != nil {
		// "weekly (monday) at 09:00": a time after the parentheses refines them too.
		inner := w[m[4]:m[5]]
		if at := bareAt.FindString(w[m[1]:]); at != "" {
			inner += " " + at
		}
		if spec, err := sw.refine(w[m[2]:m[3]], inner); spec != "" || err != nil {
			return spec, err
		}
	}
	if m := weekdaysAt.FindStringSubmatch(w); m != nil {
		return atClock(m[1:], "* * 1-5")
	}
	if m := weekendsAt.FindStringSubmatch(w); m != nil {
		return atClock(m[1:], "* * 0,6")
	}
	if m := dayNameAt.FindStringSubmatch(w); m != nil {
		return atClock(m[2:], "* * "+strconv.Itoa(dayNumbers[m[1]]))
	}
	if m := dailyAt.FindStringSubmatch(w); m != nil {
		return atClock(m[1:], "* * *")
	}
	if m := everyUnit.FindStringSubmatch(w); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n <= 0 {
			return "", fmt.Errorf("%q: the interval must be a positive number", m[0])
		}
		return intervalSpec(time.Duration(n) * unitOf(m[2]))
	}
	if m := everyOne.FindStringSubmatch(w); m != nil {
		return intervalSpec(unitOf(m[1]))
	}
	if m := everyDur.FindStringSubmatch(w); m != nil {
		d, err := checks.ParseDuration(m[1])
		if err != nil || d <= 0 {
			return "", fmt.Errorf("%q is not a schedule: %s", strings.TrimSpace(m[0]), scheduleForms)
		}
		return intervalSpec(d)
	}
	switch {
	case everyWord.MatchString(w):
		return "", fmt.Errorf("cannot read the schedule after \"every\": %s", scheduleForms)
	case hourlyWord.MatchString(w):
		return "0 * * * *", nil
	case bareAt.MatchString(w):
		return "", fmt.Errorf("%q needs a day: write \"daily at HH:MM\", \"weekdays at HH:MM\" or \"mondays at HH:MM\"", strings.TrimSpace(bareAt.FindString(w)))
	case dailyWord.MatchString(w):
		return "0 0 * * *", nil
	case weeklyWord.MatchString(w):
		return "0 0 * * 0", nil
	case nightlyAlone.MatchString(w):
		return "", errors.New("\"nightly\" needs a time: write \"nightly at 02:00\" or a cron spec in backticks such as `0 2 * * *`")
	}
	return "", errNoSchedule
}

func unitOf(word string) time.Duration {
	switch {
	case strings.HasPrefix(word, "s"):
		return time.Second
	case strings.HasPrefix(word, "m"):
		return time.Minute
	case strings.HasPrefix(word, "h"):
		return time.Hour
	}
	return 24 * time.Hour
}

// intervalSpec prefers a wall-clock-aligned cron spec (every 5 minutes fires at :00,
// :05, ...) and falls back to @every for intervals that do not divide an hour or day.
func intervalSpec(d time.Duration) (string, error) {
	switch {
	case d < time.Second || d%time.Second != 0:
		return "", fmt.Errorf("interval %s is too short or not whole seconds: use at least 1s", d)
	case d%time.Minute != 0:
		return "@every " + d.String(), nil
	case d < time.Hour && time.Hour%d == 0:
		if d == time.Minute {
			return "* * * * *", nil
		}
		return fmt.Sprintf("*/%d * * * *", d/time.Minute), nil
	case d%time.Hour == 0 && d < 24*time.Hour && (24*time.Hour)%d == 0:
		if d == time.Hour {
			return "0 * * * *", nil
		}
		return fmt.Sprintf("0 */%d * * *", d/time.Hour), nil
	case d == 24*time.Hour:
		return "0 0 * * *", nil
	}
	return "@every " + d.String(), nil
}

// refine reads the parentheses after daily, weekly, weekdays or weekends: a weekday
// (weekly only) and a time of day (morning, evening or HH:MM), either optional. It
// returns "" when the parentheses name neither, so the word alone decides.
func (sw scheduleWords) refine(freq, inner string) (string, error) {
	days := refineDay.FindAllStringSubmatch(inner, -1)
	times := refineTime.FindAllStringSubmatch(inner, -1)
	clocks := refineClock.FindAllStringSubmatch(inner, -1)
	if len(days)+len(times)+len(clocks) == 0 {
		return "", nil
	}
	what := fmt.Sprintf("%s (%s)", freq, strings.TrimSpace(inner))
	dow := "*"
	switch {
	case len(days) > 1:
		return "", fmt.Errorf("%q names more than one weekday: write one, such as \"weekly (monday)\", or a cron spec in backticks such as `0 9 * * 1,4`", what)
	case len(days) == 1:
		day := days[0][1]
		if long, ok := shortDays[day]; ok {
			day = long
		}
		if freq != "weekly" {
			return "", fmt.Errorf("%q: a weekday in parentheses refines \"weekly\": write \"weekly (%sday)\" or \"%sdays at 09:00\"", what, day, day)
		}
		dow = strconv.Itoa(dayNumbers[day])
	case freq == "weekly":
		dow = "0"
	case strings.HasPrefix(freq, "weekday"):
		dow = "1-5"
	case strings.HasPrefix(freq, "weekend"):
		dow = "0,6"
	}
	at := 0
	switch {
	case len(times)+len(clocks) > 1:
		return "", fmt.Errorf("%q names more than one time of day: write one, such as \"daily (morning)\" or \"daily (08:30)\"", what)
	case len(times) == 1 && times[0][1] == "morning":
		at = sw.morning
	case len(times) == 1:
		at = sw.evening
	case len(clocks) == 1:
		var err error
		if at, err = clockMinutes(clocks[0][1:]); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d %d * * %s", at%60, at/60, dow), nil
}

// atClock builds "M H <rest>" from an HH:MM [am|pm] match.
func atClock(m []string, rest string) (string, error) {
	at, err := clockMinutes(m)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d %d %s", at%60, at/60, rest), nil
}

// clockMinutes reads an HH:MM [am|pm] match as minutes after midnight.
func clockMinutes(m []string) (int, error) {
	h, _ := strconv.Atoi(m[0])
	min, _ := strconv.Atoi(m[1])
	switch m[2] {
	case "am", "pm":
		if h < 1 || h > 12 {
			return 0, fmt.Errorf("%s:%s %s is not a time", m[0], m[1], m[2])
		}
		h %= 12
		if m[2] == "pm" {
			h += 12
		}
	}
	if h > 23 || min > 59 {
		return 0, fmt.Errorf("%s:%s is not a time of day (00:00-23:59)", m[0], m[1])
	}
	return h*60 + min, nil
}

// cronSchedule parses spec, in loc when it has a wall-clock meaning.
func cronSchedule(text, spec string, loc *time.Location) (Schedule, error) {
	full := spec
	if !strings.HasPrefix(spec, "@every") && !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") {
		full = "CRON_TZ=" + loc.String() + " " + spec
	}
	sched, err := cronParser.Parse(full)
	if err != nil {
		return Schedule{}, fmt.Errorf("cron spec %q: %v; %s", spec, err, scheduleForms)
	}
	return Schedule{Text: text, Spec: full, next: sched.Next}, nil
}

// interval reads a bare duration ("30m", "2h", "1d") as an interval schedule.
func (sw scheduleWords) interval(text string) (Schedule, error) {
	d, err := checks.ParseDuration(text)
	if err != nil || d <= 0 {
		return Schedule{}, fmt.Errorf("%q is not an interval: write a duration such as 30m, 2h or 1d", text)
	}
	spec, err := intervalSpec(d)
	if err != nil {
		return Schedule{}, err
	}
	return cronSchedule("every "+strings.TrimSpace(text), spec, sw.loc)
}
