// Command rsspages attributes the resident pages of a running Go binary's own
// mappings (its text, read-only data and data) to the packages and modules whose
// symbols lie on them, so that a daemon's file-backed RSS can be traced to what made
// the process touch it.
//
//	rsspages [-top N] [-pkg PATH] PID BINARY
//
// BINARY must be the file the process runs, built with its symbol table (not -s).
// It reads /proc/PID/maps and /proc/PID/pagemap, so it needs the right to read the
// process's memory map (the same user, or root). A resident page's bytes are shared
// among the symbols on it; bytes that no symbol covers are counted as "(no symbol)".
// The kernel maps whole page-cache folios and fault-around neighbours, so a page is
// resident because something on it, or near it, was touched.
package main

import (
	"bufio"
	"cmp"
	"debug/buildinfo"
	"debug/elf"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const pageSize = 4096

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rsspages", flag.ContinueOnError)
	fs.SetOutput(stderr)
	top := fs.Int("top", 25, "packages to list")
	pkg := fs.String("pkg", "", "also list the resident symbols of this package")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stderr, "usage: rsspages [-top N] [-pkg PATH] PID BINARY")
		return 2
	}
	pid, err := strconv.Atoi(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "rsspages: PID %q is not a number\n", fs.Arg(0))
		return 2
	}
	r, err := attribute(pid, fs.Arg(1), *pkg)
	if err != nil {
		fmt.Fprintln(stderr, "rsspages:", err)
		return 1
	}
	r.print(stdout, *top)
	return 0
}

// symbol is a named address range of the binary.
type symbol struct {
	start, end uint64
	name, pkg  string
}

// report is the resident bytes per package and per module.
type report struct {
	pkg      string
	bySym    map[string]float64 // of pkg
	total    uint64
	bySeg    map[string]uint64
	byPkg    map[string]float64
	byModule map[string]float64
}

// attribute reads which of the binary's pages the process has resident and shares
// them among the symbols on them.
func attribute(pid int, path, pkg string) (*report, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	syms, err := symbols(abs)
	if err != nil {
		return nil, err
	}
	modules, err := modulePaths(abs)
	if err != nil {
		return nil, err
	}
	mappings, err := binaryMappings(pid, abs)
	if err != nil {
		return nil, err
	}
	pagemap, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return nil, fmt.Errorf("opening the page map of process %d (run as its user or root): %w", pid, err)
	}
	defer pagemap.Close()

	r := &report{pkg: pkg, bySeg: map[string]uint64{}, byPkg: map[string]float64{}, byModule: map[string]float64{}, bySym: map[string]float64{}}
	for _, m := range mappings {
		present, err := residentPages(pagemap, m.start, m.end)
		if err != nil {
			return nil, err
		}
		for _, va := range present {
			r.total += pageSize
			r.bySeg[m.perms] += pageSize
			for s, n := range share(syms, va, va+pageSize) {
				r.byPkg[s.pkg] += n
				r.byModule[moduleOf(s.pkg, modules)] += n
				if s.pkg == pkg {
					r.bySym[s.name] += n
				}
			}
		}
	}
	return r, nil
}

// share splits the page [start, end) among the symbols on it.
func share(syms []symbol, start, end uint64) map[symbol]float64 {
	out := map[symbol]float64{}
	i, _ := slices.BinarySearchFunc(syms, start, func(s symbol, a uint64) int { return cmp.Compare(s.end, a+1) })
	covered := uint64(0)
	for ; i < len(syms) && syms[i].start < end; i++ {
		lo, hi := max(syms[i].start, start), min(syms[i].end, end)
		if hi > lo {
			out[syms[i]] += float64(hi - lo)
			covered += hi - lo
		}
	}
	if rest := (end - start) - covered; rest > 0 {
		out[symbol{name: "(no symbol)", pkg: "(no symbol)"}] += float64(rest)
	}
	return out
}

// symbols are the binary's symbols in address order, each with its package. The
// linker emits some tables as one unsized symbol (type:*, go:string.*, go:func.*,
// runtime.pclntab); an unsized symbol reaches to the next symbol.
func symbols(path string) ([]symbol, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	es, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("%s has no symbol table; build it without -ldflags=-s: %w", path, err)
	}
	var out []symbol
	for _, s := range es {
		if s.Value == 0 || s.Section == elf.SHN_UNDEF || s.Section >= elf.SHN_LORESERVE || strings.HasPrefix(s.Name, "runtime.e") {
			continue
		}
		sec := f.Sections[s.Section]
		if sec.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		end := s.Value + s.Size
		if s.Size == 0 {
			end = sec.Addr + sec.Size
		}
		out = append(out, symbol{start: s.Value, end: end, name: s.Name, pkg: packageOf(s.Name)})
	}
	slices.SortStableFunc(out, func(a, b symbol) int { return cmp.Compare(a.start, b.start) })
	// A symbol that starts inside the previous one cuts it short.
	for i := 1; i < len(out); i++ {
		if out[i].start < out[i-1].end {
			out[i-1].end = out[i].start
		}
	}
	return out, nil
}

// packageOf names the package a linker symbol belongs to: "k8s.io/api/core/v1" for
// "k8s.io/api/core/v1.init" or "type:*k8s.io/api/core/v1.Pod"; tables of the
// runtime and composite types are named in parentheses.
func packageOf(name string) string {
	switch {
	case name == "type:*":
		return "(type descriptors)"
	case name == "go:string.*":
		return "(string data)"
	case name == "go:func.*":
		return "(funcdata)"
	case name == "runtime.pclntab":
		return "(pclntab)"
	case name == "runtime.typelink" || name == "runtime.itablink":
		return "(type tables)"
	}
	if itab, ok := strings.CutPrefix(name, "go:itab."); ok {
		concrete, _, _ := strings.Cut(itab, ",") // go:itab.TYPE,INTERFACE
		name = strings.TrimLeft(concrete, "*")
	}
	if t, ok := strings.CutPrefix(name, "type:"); ok {
		name = strings.TrimLeft(strings.TrimPrefix(t, "."), "*[]")
		if name == "" || strings.ContainsAny(name[:1], "{(") || strings.HasPrefix(name, "map") ||
			strings.HasPrefix(name, "func") || strings.HasPrefix(name, "struct") || strings.HasPrefix(name, "chan") ||
			strings.HasPrefix(name, "interface") || strings.HasPrefix(name, "eq.") || strings.HasPrefix(name, "hash.") {
			return "(composite types)"
		}
	}
	slash := strings.LastIndex(name, "/")
	dot := strings.Index(name[slash+1:], ".")
	if dot < 0 {
		return name
	}
	return strings.ReplaceAll(name[:slash+1+dot], "%2e", ".")
}

// modulePaths are the module paths the binary was built from, longest first.
func modulePaths(path string) ([]string, error) {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the build info of %s: %w", path, err)
	}
	mods := []string{info.Main.Path}
	for _, d := range info.Deps {
		mods = append(mods, d.Path)
	}
	slices.SortFunc(mods, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return mods, nil
}

// moduleOf is the module of a package, "std" for the standard library.
func moduleOf(pkg string, modules []string) string {
	if strings.HasPrefix(pkg, "(") {
		return pkg
	}
	for _, m := range modules {
		if pkg == m || strings.HasPrefix(pkg, m+"/") {
			return m
		}
	}
	if first, _, _ := strings.Cut(pkg, "/"); !strings.Contains(first, ".") {
		return "std"
	}
	return pkg
}

// mapping is one of the process's mappings of the binary.
type mapping struct {
	start, end uint64
	perms      string
}

func binaryMappings(pid int, path string) ([]mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, fmt.Errorf("reading the mappings of process %d: %w", pid, err)
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != path {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("/proc/%d/maps: bad range %q", pid, fields[0])
		}
		out = append(out, mapping{start: start, end: end, perms: fields[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("process %d does not map %s; pass the binary it runs", pid, path)
	}
	return out, nil
}

// residentPages are the addresses of the pages in [start, end) that are present in
// memory (bit 63 of each /proc/PID/pagemap entry).
func residentPages(pagemap *os.File, start, end uint64) ([]uint64, error) {
	n := (end - start) / pageSize
	buf := make([]byte, 8*n)
	if _, err := pagemap.ReadAt(buf, int64(start/pageSize*8)); err != nil {
		return nil, fmt.Errorf("reading the page map: %w", err)
	}
	var out []uint64
	for i := range n {
		if binary.LittleEndian.Uint64(buf[8*i:])&(1<<63) != 0 {
			out = append(out, start+i*pageSize)
		}
	}
	return out, nil
}

func (r *report) print(w io.Writer, top int) {
	fmt.Fprintf(w, "resident pages of the binary: %.1f MiB", float64(r.total)/(1<<20))
	for _, seg := range slices.Sorted(maps.Keys(r.bySeg)) {
		fmt.Fprintf(w, "; %s %.1f MiB", seg, float64(r.bySeg[seg])/(1<<20))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\nby module:")
	printTop(w, r.byModule, top)
	fmt.Fprintln(w, "\nby package:")
	printTop(w, r.byPkg, top)
	if r.pkg != "" {
		fmt.Fprintf(w, "\nsymbols of %s on resident pages:\n", r.pkg)
		printTop(w, r.bySym, top)
	}
}

func printTop(w io.Writer, m map[string]float64, top int) {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b)) })
	for i, k := range keys {
		if i == top {
			rest := 0.0
			for _, k := range keys[top:] {
				rest += m[k]
			}
			fmt.Fprintf(w, "  %7.0f KiB  (%d more)\n", rest/1024, len(keys)-top)
			break
		}
		fmt.Fprintf(w, "  %7.0f KiB  %s\n", m[k]/1024, k)
	}
}
