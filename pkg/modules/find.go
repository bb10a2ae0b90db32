package modules

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

type findModule struct{}

func init() { Register(findModule{}, "find") }

func (findModule) Args() (accepted, required []string) {
	return []string{"paths", "path", "name", "patterns", "pattern", "excludes", "exclude", "contains", "file_type",
		"recurse", "hidden", "follow", "depth", "use_regex"}, []string{"paths|path|name"}
}

// Run lists files on the host with one `find` and filters them on the
// controller (a second round trip only for `contains`).
func (findModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	paths := a.list("paths", "path", "name")
	patterns := a.list("patterns", "pattern")
	excludes := a.list("excludes", "exclude")
	contains := a.str("", "contains")
	fileType := a.choice("file", "file_type", "file", "directory", "link", "any")
	recurse := a.boolean(false, "recurse")
	hidden := a.boolean(false, "hidden")
	follow := a.boolean(false, "follow")
	depth := a.integer(0, "depth")
	useRegex := a.boolean(false, "use_regex")
	match := func(pats []string, name string) bool {
		for _, p := range pats {
			if useRegex {
				if re, err := regexp.Compile("^(?:" + p + ")$"); err == nil && re.MatchString(name) {
					return true
				}
			} else if ok, _ := path.Match(p, name); ok {
				return true
			}
		}
		return false
	}
	for _, p := range append(append([]string{}, patterns...), excludes...) {
		if useRegex {
			if _, err := regexp.Compile(p); err != nil {
				a.bad("pattern %q: %v", p, err)
			}
		} else if _, err := path.Match(p, ""); err != nil {
			a.bad("pattern %q: %v", p, err)
		}
	}
	if contains != "" {
		if _, err := compilePython(contains); err != nil {
			a.bad("contains: %v", err)
		}
	}
	if err := a.err("find"); err != nil {
		return Result{}, err
	}
	maxDepth := "-maxdepth 1"
	switch {
	case recurse && depth > 0:
		maxDepth = "-maxdepth " + strconv.Itoa(depth)
	case recurse:
		maxDepth = ""
	}
	fl := ""
	if follow {
		fl = "-L"
	}
	var sb strings.Builder
	for i, p := range paths {
		fmt.Fprintf(&sb, "if [ -d %s ]; then find %s %s -mindepth 1 %s -printf '%%y|%%m|%%s|%%U|%%G|%%u|%%g|%%T@|%%p\\n'; else echo 'skip %d'; fi\n",
			quote(p), fl, quote(p), maxDepth, i)
	}
	res, err := t.exec(ctx, sb.String())
	if err != nil {
		return Result{}, fmt.Errorf("find: %w", err)
	}
	var files []map[string]any
	examined := 0
	skipped := map[string]any{}
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		if i, ok := strings.CutPrefix(l, "skip "); ok {
			if n, err := strconv.Atoi(i); err == nil && n < len(paths) {
				skipped[paths[n]] = fmt.Sprintf("'%s' is not a directory", paths[n])
			}
			continue
		}
		f := strings.SplitN(l, "|", 9)
		if len(f) != 9 {
			continue
		}
		examined++
		name := path.Base(f[8])
		typ := map[string]string{"f": "file", "d": "directory", "l": "link"}[f[0]]
		if fileType != "any" && typ != fileType {
			continue
		}
		if !hidden && strings.HasPrefix(name, ".") {
			continue
		}
		if len(patterns) > 0 && !match(patterns, name) {
			continue
		}
		if match(excludes, name) {
			continue
		}
		perm, _ := strconv.ParseUint(f[1], 8, 32)
		mtime, _ := strconv.ParseFloat(f[7], 64)
		files = append(files, map[string]any{
			"path": f[8], "mode": fmt.Sprintf("%04o", perm), "isdir": typ == "directory", "isreg": typ == "file",
			"islnk": typ == "link", "size": atoiOr(f[2]), "uid": atoiOr(f[3]), "gid": atoiOr(f[4]),
			"pw_name": f[5], "gr_name": f[6], "mtime": mtime,
		})
	}
	if contains != "" && len(files) > 0 {
		args := make([]string, 0, len(files))
		for _, f := range files {
			args = append(args, f["path"].(string))
		}
		out, err := t.exec(ctx, "grep -lE -- "+quote(contains)+" "+quoteAll(args)+" 2>/dev/null; true")
		if err != nil {
			return Result{}, fmt.Errorf("find: %w", err)
		}
		hit := map[string]bool{}
		for _, l := range strings.Split(string(out.Stdout), "\n") {
			hit[l] = true
		}
		kept := files[:0]
		for _, f := range files {
			if hit[f["path"].(string)] {
				kept = append(kept, f)
			}
		}
		files = kept
	}
	list := make([]any, len(files))
	for i, f := range files {
		list[i] = f
	}
	r := Result{Data: map[string]any{"files": list, "matched": len(list), "examined": examined, "skipped_paths": skipped}}
	// find's own complaints (unreadable directories) are worth showing.
	if s := strings.TrimSpace(string(res.Stderr)); s != "" {
		r.Msg = s
	}
	return r, nil
}
