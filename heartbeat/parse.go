package heartbeat

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	mdparser "github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"

	"github.com/clankerd/clankerd/checks"
)

// MaxFileSize is the largest heartbeat file accepted.
const MaxFileSize = 2 << 20

// maxIndent bounds leading indentation: deeper nesting than this is not a checklist a
// person wrote, and it makes markdown parsing slow.
const maxIndent = 256

// Load reads and parses heartbeat files. The problems of every file are returned
// together as Errors; an item that appears in two files (same identity) is one too.
func Load(paths []string, cat Catalog) ([]*File, error) {
	var files []*File
	var errs Errors
	seen := map[string]string{}
	for _, path := range paths {
		src, err := readFile(path)
		if err != nil {
			errs = append(errs, Diagnostic{File: path, Msg: err.Error()})
			continue
		}
		f, err := Parse(path, src, cat)
		if err != nil {
			var fe Errors
			if errors.As(err, &fe) {
				errs = append(errs, fe...)
			} else {
				errs = append(errs, Diagnostic{File: path, Msg: err.Error()})
			}
			continue
		}
		for _, it := range f.Items {
			if first, dup := seen[it.Key]; dup {
				errs = append(errs, Diagnostic{File: it.File, Line: it.Line, Msg: fmt.Sprintf("the same item is already at %s; remove one of them", first)})
			}
			seen[it.Key] = it.Pos()
		}
		files = append(files, f)
	}
	if len(errs) > 0 {
		return files, errs
	}
	return files, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no such file; write a heartbeat there (see docs/heartbeat.md) or pass another path")
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("is a directory; pass the HEARTBEAT.md file inside it")
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("file is %.1f MiB, over the %d MiB limit for a heartbeat; split it into several files", float64(st.Size())/(1<<20), MaxFileSize>>20)
	}
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// parser holds the state of one Parse.
type parser struct {
	cat   Catalog
	specs map[string]catalogEntry // lookups cached for this parse
	file  *File
	src   []byte
	lines []int // byte offset of the start of each line
	words scheduleWords
	errs  Errors
}

func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, Diagnostic{File: p.file.Path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// lineOf returns the 1-based line of a byte offset.
func (p *parser) lineOf(offset int) int {
	return sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > offset })
}

// Parse parses one heartbeat file. Every problem is collected and returned as Errors.
func Parse(path string, src []byte, cat Catalog) (*File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	sum := sha256.Sum256(src)
	f := &File{Path: path, AbsPath: abs, Digest: hex.EncodeToString(sum[:]), Defaults: map[string]string{}}
	p := &parser{cat: cat, file: f, specs: map[string]catalogEntry{}}
	if err := p.checkText(src); err != nil {
		return nil, Errors{{File: path, Line: lineAt(src, err.offset), Msg: err.msg}}
	}
	p.src = bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
	p.src = bytes.ReplaceAll(p.src, []byte("\r"), []byte("\n"))
	p.lines = []int{0}
	for i, b := range p.src {
		if b == '\n' {
			p.lines = append(p.lines, i+1)
		}
	}
	p.frontMatter()
	p.body(*p.words.fileSchedule)
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
		return nil, p.errs
	}
	return f, nil
}

type textError struct {
	offset int
	msg    string
}

// checkText refuses what is not a text file people write.
func (p *parser) checkText(src []byte) *textError {
	if len(src) > MaxFileSize {
		return &textError{0, fmt.Sprintf("file is %.1f MiB, over the %d MiB limit for a heartbeat; split it into several files", float64(len(src))/(1<<20), MaxFileSize>>20)}
	}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return &textError{i, "not a text file (it contains a NUL byte); a heartbeat is markdown"}
	}
	if !utf8.Valid(src) {
		i := 0
		for i < len(src) {
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		return &textError{i, "not valid UTF-8 text; save the file as UTF-8"}
	}
	start := 0
	for i := 0; i <= len(src); i++ {
		if i == len(src) || src[i] == '\n' {
			line := src[start:i]
			indent := len(line) - len(bytes.TrimLeft(line, " \t>-*+"))
			if indent > maxIndent {
				return &textError{start, fmt.Sprintf("nested more than %d levels deep; a heartbeat is a flat checklist", maxIndent)}
			}
			start = i + 1
		}
	}
	return nil
}

func lineAt(src []byte, offset int) int {
	return bytes.Count(src[:min(offset, len(src))], []byte("\n")) + 1
}

// section is a heading on the stack of open headings.
type section struct {
	level    int
	text     string
	schedule *Schedule
	tasks    bool
}

// body walks the markdown after the front matter.
func (p *parser) body(fileSchedule Schedule) {
	// Only the block structure matters: items are read from their raw source lines, so
	// no inline parsing is done at all.
	md := mdparser.NewParser(mdparser.WithBlockParsers(mdparser.DefaultBlockParsers()...))
	doc := md.Parse(text.NewReader(p.src))
	var stack []section
	keys := map[string]int{}
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			for len(stack) > 0 && stack[len(stack)-1].level >= n.Level {
				stack = stack[:len(stack)-1]
			}
			stack = append(stack, p.heading(n, stack))
			return ast.WalkSkipChildren, nil
		case *ast.List:
			if p.isTasksBlock(n) {
				p.tasksBlock(n, stack, fileSchedule, keys)
				return ast.WalkSkipChildren, nil
			}
		case *ast.ListItem:
			p.listItem(n, stack, fileSchedule, keys)
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		p.errorf(0, "reading the markdown: %v", err)
	}
}

func (p *parser) heading(n *ast.Heading, stack []section) section {
	raw, line := p.raw(n)
	s := section{level: n.Level, text: strings.TrimSpace(backticked.ReplaceAllString(raw, "")), tasks: isTasksHeading(raw)}
	if len(stack) > 0 && stack[len(stack)-1].tasks {
		s.tasks = true
	}
	if n.Level == 1 && p.file.Title == "" {
		p.file.Title = strings.TrimSpace(raw)
	}
	sched, err := p.words.find(raw)
	switch {
	case err == nil:
		s.schedule = &sched
	case !errors.Is(err, errNoSchedule):
		p.errorf(line, "heading %q: %v", strings.TrimSpace(raw), err)
	}
	return s
}

var firstWord = regexp.MustCompile(`^\W*(\w+)`)

func isTasksHeading(raw string) bool {
	m := firstWord.FindStringSubmatch(raw)
	return m != nil && strings.EqualFold(m[1], "tasks")
}

// raw returns the source text of a block's lines joined by spaces, and its first line.
func (p *parser) raw(n ast.Node) (string, int) {
	lines := n.Lines()
	if lines.Len() == 0 {
		return "", 0
	}
	parts := make([]string, lines.Len())
	for i := range lines.Len() {
		seg := lines.At(i)
		parts[i] = strings.TrimSpace(string(seg.Value(p.src)))
	}
	return strings.Join(parts, " "), p.lineOf(lines.At(0).Start)
}

// stripCheckbox removes a GFM task-list box ("[ ] ", "[x] ") from an item.
func stripCheckbox(s string) string {
	if len(s) >= 4 && s[0] == '[' && (s[1] == ' ' || s[1] == 'x' || s[1] == 'X') && s[2] == ']' && (s[3] == ' ' || s[3] == '\t') {
		return s[4:]
	}
	return s
}

func (p *parser) listItem(n *ast.ListItem, stack []section, fileSchedule Schedule, keys map[string]int) {
	first := n.FirstChild()
	if first == nil || (first.Kind() != ast.KindParagraph && first.Kind() != ast.KindTextBlock) {
		return
	}
	raw, line := p.raw(first)
	raw = strings.TrimSpace(stripCheckbox(raw))
	if raw == "" {
		return
	}
	nested := false
	for a := n.Parent(); a != nil; a = a.Parent() {
		if a.Kind() == ast.KindListItem {
			nested = true
			break
		}
	}
	it, tasks := p.itemAt(line, raw, stack, fileSchedule)
	id, params, isCheck, err := splitItem(raw)
	if err != nil {
		p.errorf(line, "%v", err)
		return
	}
	if !isCheck {
		if nested {
			return // a note under an item
		}
		if tasks {
			p.errorf(line, "plain text in a Tasks section: write the task id in backticks, such as `k8s.deployment.scale` deployment=NS/NAME replicas=N")
			return
		}
		p.addQuestion(it, keys)
		return
	}
	binder, kind, ok := p.lookup(id)
	if !ok {
		msg := fmt.Sprintf("unknown check %q", id)
		if s := p.cat.Suggest(id); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, ", ") + "?"
		}
		p.errorf(line, "%s (see `clankerd lint --list`)", msg)
		return
	}
	if kind == checks.KindCheck && tasks {
		p.errorf(line, "%s is a check, not a write task: move it out of the Tasks section", id)
		return
	}
	if fix, ok := params["fix"]; ok && kind == checks.KindCheck {
		delete(params, "fix")
		if _, fixKind, known := p.lookup(fix); !known || fixKind != checks.KindTask {
			p.errorf(line, "%s: fix=%s is not a write task (see `clankerd lint --list`)", id, fix)
			return
		}
		it.Fix = fix
	}
	bound, err := binder.Bind(params, p.file.Defaults)
	if err != nil {
		for _, e := range unwrapAll(err) {
			p.errorf(line, "%s: %v", id, e)
		}
		return
	}
	it.ID, it.Params, it.Kind = id, bound, ItemKindOf(kind)
	it.Key = fileItemKey(p.file.AbsPath, id, bound.Identity())
	p.add(it, keys)
}

// itemAt starts the item written at line as text: the file's settings, the nearest
// heading above it (and whether that is in a Tasks section) and the schedule of the
// nearest heading that has one, else the file's.
func (p *parser) itemAt(line int, text string, stack []section, fileSchedule Schedule) (it Item, inTasks bool) {
	it = Item{
		File: p.file.Path, Line: line, Text: text,
		Schedule: fileSchedule, ActiveHours: p.file.ActiveHours, Jitter: p.file.Jitter,
	}
	for i := len(stack) - 1; i >= 0; i-- {
		if it.Section == "" {
			it.Section = stack[i].text
			inTasks = stack[i].tasks
		}
		if stack[i].schedule != nil {
			it.Schedule = *stack[i].schedule
			break
		}
	}
	return it, inTasks
}

// addQuestion adds a plain-language item, with the notice that it is not routed yet.
func (p *parser) addQuestion(it Item, keys map[string]int) {
	it.Kind = ItemQuestion
	it.Key = questionKey(p.file.AbsPath, it.Text)
	p.file.Notices = append(p.file.Notices, Diagnostic{File: p.file.Path, Line: it.Line, Msg: fmt.Sprintf("not routed yet: %q is plain language; write a check id in backticks to run it (see `clankerd lint --list`)", it.Text), Unrouted: true})
	p.add(it, keys)
}

type catalogEntry struct {
	binder *checks.Binder
	kind   checks.Kind
	ok     bool
}

func (p *parser) lookup(id string) (*checks.Binder, checks.Kind, bool) {
	e, cached := p.specs[id]
	if !cached {
		var spec checks.Spec
		spec, e.kind, e.ok = p.cat.Lookup(id)
		if e.ok {
			e.binder = spec.Binder()
		}
		p.specs[id] = e
	}
	return e.binder, e.kind, e.ok
}

func (p *parser) add(it Item, keys map[string]int) {
	if first, dup := keys[it.Key]; dup {
		p.errorf(it.Line, "same check and parameters as line %d; remove one or change a parameter", first)
		return
	}
	keys[it.Key] = it.Line
	p.file.Items = append(p.file.Items, it)
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// idLike reports whether inline code looks like a check id rather than prose.
func idLike(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// paramKey returns the parameter name at the start of s: [a-z][a-z0-9_]*.
func paramKey(s string) string {
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || i > 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == '_')) {
		i++
	}
	return s[:i]
}

// splitItem reads "`id` key=value key="quoted value"". isCheck is false for plain text
// (no leading inline code, or inline code with spaces in it).
func splitItem(raw string) (id string, params map[string]string, isCheck bool, err error) {
	if !strings.HasPrefix(raw, "`") {
		return "", nil, false, nil
	}
	ticks := len(raw) - len(strings.TrimLeft(raw, "`"))
	fence := strings.Repeat("`", ticks)
	end := strings.Index(raw[ticks:], fence)
	if end < 0 {
		return "", nil, false, fmt.Errorf("unclosed %s in %q", fence, raw)
	}
	id = strings.TrimSpace(raw[ticks : ticks+end])
	if !idLike(id) {
		return "", nil, false, nil
	}
	params, err = splitParams(raw[ticks+end+ticks:])
	return id, params, true, err
}

// splitParams reads whitespace-separated key=value pairs; values may be double-quoted
// with Go escapes.
func splitParams(s string) (map[string]string, error) {
	params := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return params, nil
		}
		key := paramKey(s)
		if key == "" || len(s) == len(key) || s[len(key)] != '=' {
			tok, _, _ := strings.Cut(s, " ")
			return nil, fmt.Errorf("unexpected %q: parameters are key=value (quote values with spaces: key=\"a b\")", tok)
		}
		s = s[len(key)+1:]
		var value string
		if strings.HasPrefix(s, `"`) {
			end := closingQuote(s)
			if end < 0 {
				return nil, fmt.Errorf("parameter %s: unterminated quoted value %s", key, s)
			}
			v, err := strconv.Unquote(s[:end+1])
			if err != nil {
				return nil, fmt.Errorf("parameter %s: bad quoted value %s: %v", key, s[:end+1], err)
			}
			value, s = v, s[end+1:]
			if s != "" && s[0] != ' ' && s[0] != '\t' {
				return nil, fmt.Errorf("parameter %s: put a space after the closing quote", key)
			}
		} else {
			value, s, _ = strings.Cut(s, " ")
			value = strings.TrimRight(value, "\t")
		}
		if _, dup := params[key]; dup {
			return nil, fmt.Errorf("parameter %s is given twice", key)
		}
		params[key] = value
	}
}

// closingQuote returns the index of the quote that ends the quoted string at s[0].
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}
