package modules

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/koala-stack/koala/pkg/transport"
)

// copyModule is copy and template: template renders its src first.
type copyModule struct {
	template bool
}

func init() {
	Register(copyModule{}, "copy")
	Register(copyModule{template: true}, "template")
}

func (m copyModule) Args() (accepted, required []string) {
	if m.template {
		return []string{"src", "dest", "mode", "owner", "group", "backup", "force", "validate"}, []string{"src", "dest"}
	}
	return []string{"src", "content", "dest", "mode", "owner", "group", "backup", "force", "remote_src", "validate"}, []string{"dest"}
}

// maxDiffBytes bounds how much of an old file is fetched for --diff.
const maxDiffBytes = 64 << 10

func (m copyModule) Run(ctx context.Context, t *Task) (Result, error) {
	name := "copy"
	if m.template {
		name = "template"
	}
	a := newArgs(t.Args)
	spec := putSpec{
		dest:     a.str("", "dest"),
		owner:    a.str("", "owner"),
		group:    a.str("", "group"),
		backup:   a.boolean(false, "backup"),
		force:    a.boolean(true, "force"),
		validate: a.str("", "validate"),
	}
	if spec.validate != "" && !strings.Contains(spec.validate, "%s") {
		a.bad("validate %q must contain %%s (the path of the new file)", spec.validate)
	}
	spec.mode, spec.hasMode = a.mode("mode")
	src := a.str("", "src")
	remoteSrc := a.boolean(false, "remote_src")
	content, hasContent := t.Args["content"]
	if !m.template && hasContent == (src != "") {
		a.bad("give exactly one of src and content")
	}
	if !strings.HasPrefix(spec.dest, "/") {
		a.bad("dest %q must be an absolute path", spec.dest)
	}
	if err := a.err(name); err != nil {
		return Result{}, err
	}
	if hasContent && !m.template {
		switch c := content.(type) {
		case string:
			spec.content = []byte(c)
		default:
			// Ansible writes non-string content (a dict, a list) as JSON.
			b, err := json.Marshal(c)
			if err != nil {
				return Result{}, fmt.Errorf("copy: content: %w", err)
			}
			spec.content = b
		}
	} else {
		var data []byte
		var display string
		var err error
		switch {
		case remoteSrc:
			data, spec.srcMode, err = t.readRemote(ctx, src)
			display = src
		case m.template:
			data, display, _, err = t.readSource("templates", src)
		default:
			data, display, spec.srcMode, err = t.readSource("files", src)
		}
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", name, err)
		}
		if spec.hasMode {
			spec.srcMode = 0
		}
		if m.template {
			if t.Render == nil {
				return Result{}, fmt.Errorf("template: no renderer configured (engine bug)")
			}
			out, err := t.Render(display, string(data))
			if err != nil {
				return Result{}, fmt.Errorf("template %s: %w", display, err)
			}
			data = []byte(out)
		}
		spec.content = data
		spec.srcBase = path.Base(src)
		spec.src = display
	}
	var r Result
	var err error
	if out, ok := t.ahead(ctx, m, spec.dest, inspectScript(spec.dest, spec.srcBase, t.fetchSize())); ok {
		r, err = t.write(ctx, spec, parseRemoteFile([]byte(out)))
	} else {
		r, err = t.put(ctx, spec)
	}
	if r.Changed {
		if d, ok := r.Data["dest"].(string); ok {
			t.changedPath(d)
		}
	}
	return r, err
}

// inspection is the dest inspection put would run for args (loopInspector).
func (m copyModule) inspection(t *Task, args map[string]any) (string, string, bool) {
	a := newArgs(args)
	dest, src := a.str("", "dest"), a.str("", "src")
	if !strings.HasPrefix(dest, "/") || a.boolean(false, "remote_src") {
		return "", "", false
	}
	srcBase := ""
	if src != "" {
		srcBase = path.Base(src)
	}
	return dest, inspectScript(dest, srcBase, t.fetchSize()), true
}

// readSource reads a controller-side src through the engine's ReadFile
// (roles on disk or embedded in the binary). mode is the file's permissions
// when known, for new files.
func (t *Task) readSource(kind, name string) (data []byte, display string, mode fs.FileMode, err error) {
	if t.ReadFile == nil {
		return nil, "", 0, fmt.Errorf("read %s %q: no file reader (engine bug)", kind, name)
	}
	if data, display, mode, err = t.ReadFile(kind, name); err != nil {
		return nil, "", 0, fmt.Errorf("read %s %q: %w", kind, name, err)
	}
	return data, display, mode, nil
}

// readRemote reads a file on the host (copy's remote_src) and its mode.
func (t *Task) readRemote(ctx context.Context, src string) ([]byte, fs.FileMode, error) {
	res, err := t.mustExec(ctx, "read "+src, fmt.Sprintf("stat -L -c %%a -- %s && base64 -w0 < %s", quote(src), quote(src)))
	if err != nil {
		return nil, 0, err
	}
	modeS, b64, _ := strings.Cut(string(res.Stdout), "\n")
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, 0, fmt.Errorf("host %s: read %s: %w", t.Host, src, err)
	}
	u, _ := strconv.ParseUint(strings.TrimSpace(modeS), 8, 32)
	return data, toFileMode(uint32(u)), nil
}

// putSpec is a file to be made to hold content.
type putSpec struct {
	dest, src, srcBase string
	content            []byte
	mode               fs.FileMode
	hasMode            bool
	srcMode            fs.FileMode // the source's mode, for a new file when mode is not given
	owner, group       string
	backup, force      bool
	// validate is a command run on the new content before it replaces
	// dest; "%s" in it is the path of the new content.
	validate string
}

// remoteFile is what the inspection script reports about a dest.
type remoteFile struct {
	path         string
	exists, dir  bool
	kind         string // stat %F
	mode         string // stat %a
	owner, group string
	uid, gid     string
	size         int64
	sha256       string
	content      []byte // for --diff, when small
	haveContent  bool
	user, ugroup string // the (become) user the script ran as
	parentOK     bool
}

// inspectForEdit reads the file a line-editing module (lineinfile,
// blockinfile) changes in place. done is the module's whole answer when the
// file's state decides it (a directory, unreadable, absent and nothing to do,
// absent without create); otherwise rf holds the current content.
func (t *Task) inspectForEdit(ctx context.Context, module, p string, present, create bool) (rf remoteFile, done *Result, err error) {
	rf, err = t.inspect(ctx, p, "", -1)
	if err != nil {
		return rf, nil, err
	}
	switch {
	case rf.dir:
		r := failed("host %s: %s %s: is a directory", t.Host, module, p)
		return rf, &r, nil
	case rf.exists && !rf.haveContent:
		r := failed("host %s: %s %s: cannot read it (a %s)", t.Host, module, p, rf.kind)
		return rf, &r, nil
	case !rf.exists && !present:
		return rf, &Result{Msg: "file not present", Data: map[string]any{"backup": ""}}, nil
	case !rf.exists && !create:
		return rf, &Result{Failed: true, Data: map[string]any{"rc": 257},
			Msg: fmt.Sprintf("host %s: %s: path %s does not exist (set create=true to create it)", t.Host, module, p)}, nil
	}
	return rf, nil, nil
}

// inspect reports on dest (joined with srcBase when dest is a directory or
// ends in "/") in one round trip; the content is included when the file is at
// most fetch bytes (fetch < 0: whatever its size, 0: never).
func (t *Task) inspect(ctx context.Context, dest, srcBase string, fetch int64) (remoteFile, error) {
	res, err := t.mustExec(ctx, "inspect "+dest, inspectScript(dest, srcBase, fetch))
	if err != nil {
		return remoteFile{}, err
	}
	return parseRemoteFile(res.Stdout), nil
}

// inspectScript is inspect's shell script; its output is for parseRemoteFile.
func inspectScript(dest, srcBase string, fetch int64) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "d=%s\n", quote(dest))
	if srcBase != "" {
		fmt.Fprintf(&sb, "if [ -d \"$d\" ] || [ \"${d%%/}\" != \"$d\" ]; then d=\"${d%%/}\"/%s; fi\n", quote(srcBase))
	}
	// Processes are what an inspection costs on a busy host: id, stat and
	// sha256sum are the only ones (no subshells, dirname or cut).
	sb.WriteString(`echo "path $d"
printf 'user '; id
p=${d%/*}; [ -d "${p:-/}" ] && echo parent
if [ -e "$d" ]; then
  stat -L -c 'stat %a %u %g %s %U %G %F' -- "$d"
  if [ -f "$d" ]; then
    printf 'sha256 '; sha256sum < "$d"
`)
	switch {
	case fetch < 0:
		sb.WriteString("    echo \"content $(base64 -w0 < \"$d\")\"\n")
	case fetch > 0:
		fmt.Fprintf(&sb, "    [ $(stat -L -c %%s -- \"$d\") -le %d ] && echo \"content $(base64 -w0 < \"$d\")\"\n", fetch)
	}
	sb.WriteString("  fi\nfi\nexit 0\n")
	return sb.String()
}

// pendingMade reports whether dir is, or is inside, a path an earlier task
// would have made in check mode (Task.CheckPending).
func pendingMade(pending []string, dir string) bool {
	for _, p := range pending {
		if dir == p || strings.HasPrefix(dir, p+"/") {
			return true
		}
	}
	return false
}

// put makes spec.dest hold spec.content with one inspection round trip and
// at most one upload (plus one chmod/chown when only attributes differ).
func (t *Task) put(ctx context.Context, spec putSpec) (Result, error) {
	rf, err := t.inspect(ctx, spec.dest, spec.srcBase, t.fetchSize())
	if err != nil {
		return Result{}, err
	}
	return t.write(ctx, spec, rf)
}

// fetchSize is how much of an existing dest put fetches: enough for --diff.
func (t *Task) fetchSize() int64 {
	if t.Diff {
		return maxDiffBytes
	}
	return 0
}

// write makes the file rf describes hold spec.content and spec's attributes.
func (t *Task) write(ctx context.Context, spec putSpec, rf remoteFile) (Result, error) {
	dest := rf.path
	sum := sha256.Sum256(spec.content)
	sum1 := sha1.Sum(spec.content)
	data := map[string]any{
		"dest": dest, "checksum": hex.EncodeToString(sum1[:]), "size": len(spec.content), "state": "file",
	}
	if spec.src != "" {
		data["src"] = spec.src
	}
	// In check mode the directory may be one an earlier task would have
	// made: then the file would be created.
	if !rf.parentOK && !pendingMade(t.CheckPending, path.Dir(dest)) {
		return Result{Failed: true, Data: data, Msg: fmt.Sprintf("host %s: destination directory %s does not exist", t.Host, path.Dir(dest))}, nil
	}
	if rf.exists && !rf.dir && rf.kind != "regular file" && rf.kind != "regular empty file" {
		return Result{Failed: true, Data: data, Msg: fmt.Sprintf("host %s: %s exists and is a %s, not a regular file", t.Host, dest, rf.kind)}, nil
	}
	if rf.dir {
		return Result{Failed: true, Data: data, Msg: fmt.Sprintf("host %s: destination %s is a directory", t.Host, dest)}, nil
	}
	if rf.exists && !spec.force {
		return Result{Data: data, Msg: "file already exists and force is false"}, nil
	}

	contentChanged := !rf.exists || rf.sha256 != hex.EncodeToString(sum[:])
	wantMode := ""
	if spec.hasMode {
		wantMode = octal(spec.mode)
	}
	modeChanged := wantMode != "" && rf.exists && rf.mode != wantMode
	ownerChanged := spec.owner != "" && rf.exists && spec.owner != rf.owner && spec.owner != rf.uid
	groupChanged := spec.group != "" && rf.exists && spec.group != rf.group && spec.group != rf.gid

	r := Result{Data: data}
	r.Changed = contentChanged || modeChanged || ownerChanged || groupChanged
	if t.Diff && r.Changed {
		r.Diff = append(r.Diff, fileDiff(dest, rf, spec, contentChanged))
	}
	if !r.Changed {
		fillOwnership(data, rf, spec)
		return r, nil
	}
	if spec.backup && rf.exists && contentChanged {
		bak := fmt.Sprintf("%s.%d.%s~", dest, os.Getpid(), time.Now().Format("2006-01-02@15:04:05"))
		if _, err := t.change("back up "+dest, func() error {
			_, err := t.mustExec(ctx, "back up "+dest, fmt.Sprintf("cp -p -- %s %s", quote(dest), quote(bak)))
			data["backup_file"] = bak
			return err
		}); err != nil {
			return Result{}, err
		}
	}
	if contentChanged {
		opts := transport.UploadOptions{Mode: spec.mode, Owner: spec.owner, Group: spec.group}
		if !spec.hasMode {
			// An existing file keeps its mode, a new one gets the source's.
			switch {
			case rf.exists:
				u, _ := strconv.ParseUint(rf.mode, 8, 32)
				opts.Mode = toFileMode(uint32(u))
			case spec.srcMode != 0:
				opts.Mode = spec.srcMode
			}
		}
		// An existing file also keeps its owner and group when root writes
		// it; other users cannot give files away, and (like Ansible) end up
		// owning the new version.
		if rf.exists && rf.user == "root" {
			if opts.Owner == "" && rf.owner != rf.user {
				opts.Owner = rf.owner
			}
			if opts.Group == "" && rf.group != rf.ugroup {
				opts.Group = rf.group
			}
		}
		if spec.validate != "" {
			msg, err := t.validatedUpload(ctx, spec, dest, opts)
			if err != nil {
				return Result{}, err
			}
			if msg != "" {
				return Result{Failed: true, Data: data, Msg: msg}, nil
			}
		} else if err := t.upload(ctx, bytes.NewReader(spec.content), dest, opts); err != nil {
			return Result{}, err
		}
	} else {
		var cmds []string
		if modeChanged {
			cmds = append(cmds, fmt.Sprintf("chmod %s -- %s", wantMode, quote(dest)))
		}
		if ownerChanged {
			cmds = append(cmds, fmt.Sprintf("chown %s -- %s", quote(spec.owner), quote(dest)))
		}
		if groupChanged {
			cmds = append(cmds, fmt.Sprintf("chgrp %s -- %s", quote(spec.group), quote(dest)))
		}
		if _, err := t.changeExec(ctx, "set attributes of "+dest, strings.Join(cmds, " && ")); err != nil {
			return Result{}, err
		}
	}
	fillOwnership(data, rf, spec)
	return r, nil
}

// validatedUpload uploads the new content beside dest, runs spec.validate on
// it and only then renames it over dest. A failed validation is returned as
// a message; dest is then untouched. In check mode nothing is uploaded, so
// nothing is validated either.
func (t *Task) validatedUpload(ctx context.Context, spec putSpec, dest string, opts transport.UploadOptions) (msg string, err error) {
	tmp := path.Join(path.Dir(dest), ".koala-validate-"+nonce())
	if err := t.upload(ctx, bytes.NewReader(spec.content), tmp, opts); err != nil {
		return "", err
	}
	check := strings.ReplaceAll(spec.validate, "%s", quote(tmp))
	cmd := fmt.Sprintf("( %s ) >&2 || { rc=$?; rm -f -- %s; exit $rc; }; mv -f -- %s %s", check, quote(tmp), quote(tmp), quote(dest))
	_, err = t.change("validate and move into place "+dest, func() error {
		res, err := t.exec(ctx, cmd)
		if err != nil {
			return fmt.Errorf("validate %s: %w", dest, err)
		}
		if res.RC != 0 {
			msg = fmt.Sprintf("host %s: %s not written: validation (%s) failed with exit status %d: %s",
				t.Host, dest, spec.validate, res.RC, firstLine(res.Stderr))
		}
		return nil
	})
	return msg, err
}

// fillOwnership reports the file's resulting mode/owner/group as copy does.
func fillOwnership(data map[string]any, rf remoteFile, spec putSpec) {
	mode, owner, group := rf.mode, rf.owner, rf.group
	if spec.hasMode {
		mode = octal(spec.mode)
	}
	if spec.owner != "" {
		owner = spec.owner
	}
	if spec.group != "" {
		group = spec.group
	}
	if mode != "" {
		data["mode"] = fmt.Sprintf("%04s", mode)
	}
	if owner != "" {
		data["owner"] = owner
	}
	if group != "" {
		data["group"] = group
	}
}

func parseRemoteFile(out []byte) remoteFile {
	var rf remoteFile
	for _, l := range strings.Split(string(out), "\n") {
		key, val, _ := strings.Cut(l, " ")
		switch key {
		case "path":
			rf.path = val
		case "parent":
			rf.parentOK = true
		case "user": // id: uid=0(root) gid=0(root) groups=...
			rf.user, rf.ugroup = idName(val, "uid="), idName(val, "gid=")
		case "stat":
			f := strings.SplitN(val, " ", 7)
			if len(f) == 7 {
				rf.exists = true
				rf.mode, rf.uid, rf.gid = f[0], f[1], f[2]
				rf.size, _ = strconv.ParseInt(f[3], 10, 64)
				rf.owner, rf.group, rf.kind = f[4], f[5], f[6]
				rf.dir = rf.kind == "directory"
			}
		case "sha256": // sha256sum: <hex>  -
			rf.sha256, _, _ = strings.Cut(val, " ")
		case "content":
			if b, err := base64.StdEncoding.DecodeString(val); err == nil {
				rf.content, rf.haveContent = b, true
			}
		}
	}
	return rf
}

// idName reads the name after key in id's output ("uid=0(root) ..."), or
// the number when the id has no name.
func idName(id, key string) string {
	_, v, _ := strings.Cut(id, key)
	v, _, _ = strings.Cut(v, " ")
	if _, name, ok := strings.Cut(v, "("); ok {
		return strings.TrimSuffix(name, ")")
	}
	return v
}

// fileDiff is the before/after of a file write, with attribute changes noted
// when the content is the same.
func fileDiff(dest string, rf remoteFile, spec putSpec, contentChanged bool) Diff {
	d := Diff{Path: dest}
	after := spec.content
	switch {
	case !contentChanged:
		want := map[string]any{}
		fillOwnership(want, rf, spec)
		d.Before = fmt.Sprintf("mode %04s owner %s group %s\n", rf.mode, rf.owner, rf.group)
		d.After = fmt.Sprintf("mode %s owner %s group %s\n", want["mode"], want["owner"], want["group"])
	case !rf.exists:
		d.After = printable(after)
	case !rf.haveContent:
		d.Before = fmt.Sprintf("(%d bytes, not shown: larger than %d)\n", rf.size, maxDiffBytes)
		d.After = printable(after)
	default:
		d.Before, d.After = printable(rf.content), printable(after)
	}
	return d
}

func printable(b []byte) string {
	if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		return fmt.Sprintf("(binary, %d bytes)\n", len(b))
	}
	if len(b) > maxDiffBytes {
		return fmt.Sprintf("(%d bytes, not shown: larger than %d)\n", len(b), maxDiffBytes)
	}
	return string(b)
}
