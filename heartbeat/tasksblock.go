package heartbeat

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/yuin/goldmark/ast"
	"gopkg.in/yaml.v3"
)

// An OpenClaw tasks: block is a "tasks:" line followed by a list of YAML mappings,
// each a task with its own interval:
//
//	tasks:
//	- name: inbox-triage
//	  interval: 30m
//	  prompt: "Check for urgent unread messages."
//
// Each task is read as a plain-language item (its prompt) on its interval.
var (
	taskEntryStart = regexp.MustCompile(`^(name|interval|prompt)\s*:`)
	yamlErrorLine  = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// taskKeys are the keys of a task, in the order they are shown in messages.
var taskKeys = []string{"name", "interval", "prompt"}

// isTasksBlock reports whether list follows a "tasks:" paragraph and its first item
// is a YAML key: value line. A "tasks:" line before an ordinary list is left alone.
func (p *parser) isTasksBlock(list *ast.List) bool {
	prev := list.PreviousSibling()
	if prev == nil || prev.Kind() != ast.KindParagraph {
		return false
	}
	if label, _ := p.raw(prev); !strings.EqualFold(label, "tasks:") {
		return false
	}
	item := list.FirstChild()
	if item == nil || item.FirstChild() == nil {
		return false
	}
	first, _ := p.raw(item.FirstChild())
	return taskEntryStart.MatchString(first)
}

// tasksBlock reads a tasks: block's list as YAML and adds each task's prompt as a
// question on its interval. Problems are reported at the lines of the entries.
func (p *parser) tasksBlock(list *ast.List, stack []section, fileSchedule Schedule, keys map[string]int) {
	from, to := p.blockSpan(list)
	first := p.lineOf(from)
	fileLine := func(yamlLine int) int { return first + yamlLine - 1 }
	if _, inTasks := p.itemAt(first, "", stack, fileSchedule); inTasks {
		p.errorf(first, "a tasks: block holds plain-language prompts, not write tasks: move it out of the Tasks section")
		return
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(p.src[from:to], &doc); err != nil {
		if m := yamlErrorLine.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			p.errorf(fileLine(n), "tasks: block: %s; each task is indented name:, interval: and prompt: lines, and a prompt that holds \": \" is quoted", m[2])
			return
		}
		p.errorf(first, "tasks: block is not valid YAML: %v", err)
		return
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.SequenceNode {
		p.errorf(first, "tasks: block must be a list of tasks, each with name:, interval: and prompt:")
		return
	}
	names := map[string]int{}
	for _, entry := range doc.Content[0].Content {
		line := fileLine(entry.Line)
		fields, ok := p.taskFields(entry, fileLine)
		name, interval, prompt := fields["name"], fields["interval"], strings.Join(strings.Fields(fields["prompt"]), " ")
		if firstLine, dup := names[name]; dup && name != "" {
			p.errorf(line, "task name %q is already used at line %d; give each task its own name", name, firstLine)
			continue
		}
		names[name] = line
		if !ok {
			continue
		}
		var missing []string
		for _, k := range taskKeys {
			if strings.TrimSpace(fields[k]) == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			p.errorf(line, "task %q has no %s; each task has name:, interval: (such as 30m) and prompt:", name, strings.Join(missing, " or "))
			continue
		}
		sched, err := p.words.interval(interval)
		if err != nil {
			p.errorf(line, "task %q: interval: %v", name, err)
			continue
		}
		it, _ := p.itemAt(line, prompt, stack, fileSchedule)
		it.Schedule = sched
		p.addQuestion(it, keys)
	}
}

// taskFields reads one task's mapping; unknown keys and values that are not single
// values are reported.
func (p *parser) taskFields(entry *yaml.Node, fileLine func(int) int) (map[string]string, bool) {
	if entry.Kind != yaml.MappingNode {
		p.errorf(fileLine(entry.Line), "a task is name:, interval: and prompt: lines, not %q", entry.Value)
		return nil, false
	}
	fields := map[string]string{}
	ok := true
	for i := 0; i+1 < len(entry.Content); i += 2 {
		k, v := entry.Content[i], entry.Content[i+1]
		switch {
		case !slices.Contains(taskKeys, k.Value):
			p.errorf(fileLine(k.Line), "unknown task key %q; a task has %s", k.Value, strings.Join(taskKeys, ", "))
			ok = false
		case v.Kind != yaml.ScalarNode:
			p.errorf(fileLine(k.Line), "task %s: want a single value", k.Value)
			ok = false
		default:
			fields[k.Value] = v.Value
		}
	}
	return fields, ok
}

// blockSpan returns the byte offsets of the source a block covers: from the start of
// its first line to the end of its last.
func (p *parser) blockSpan(n ast.Node) (from, to int) {
	from, to = len(p.src), 0
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && c.Type() == ast.TypeBlock {
			if l := c.Lines(); l.Len() > 0 {
				from = min(from, l.At(0).Start)
				to = max(to, l.At(l.Len()-1).Stop)
			}
		}
		return ast.WalkContinue, nil
	})
	if to < from {
		return 0, 0
	}
	return p.lines[p.lineOf(from)-1], to
}
