package modules

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

type statModule struct{}

func init() { Register(statModule{}, "stat") }

func (statModule) Args() (accepted, required []string) {
	return []string{"path", "dest", "name", "follow", "get_checksum", "checksum_algorithm", "checksum_algo", "checksum",
		"get_mime", "get_attributes"}, []string{"path|dest|name"}
}

// statScript prints, for $p: "stat <raw hex mode>|uid|gid|user|group|size|atime|mtime|ctime|inode|dev|nlink",
// "access <r><w><x>" as seen by the running user, "target <readlink>",
// "source <readlink -f>" and "sum <checksum>".
const statScript = `
if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo absent; exit 0; fi
stat $fl -c 'stat %f|%u|%g|%U|%G|%s|%X|%Y|%Z|%i|%d|%h' -- "$p" || exit 1
a=; [ -r "$p" ] && a=r; [ -w "$p" ] && a=${a}w; [ -x "$p" ] && a=${a}x; echo "access $a"
[ -L "$p" ] && { echo "target $(readlink -- "$p")"; echo "source $(readlink -f -- "$p")"; }
[ -n "$sum" ] && [ -f "$p" ] && [ -r "$p" ] && echo "sum $($sum < "$p" | cut -d' ' -f1)"
exit 0
`

func (statModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	p := a.str("", "path", "dest", "name")
	follow := a.boolean(false, "follow")
	getSum := a.boolean(true, "get_checksum")
	algo := "sha1"
	for _, n := range []string{"checksum_algorithm", "checksum_algo", "checksum"} {
		if a.has(n) {
			algo = a.choice("sha1", n, "md5", "sha1", "sha224", "sha256", "sha384", "sha512")
		}
	}
	a.boolean(false, "get_mime")
	a.boolean(false, "get_attributes")
	if err := a.err("stat"); err != nil {
		return Result{}, err
	}
	sum, fl := "", ""
	if getSum {
		sum = algo + "sum"
	}
	if follow {
		fl = "-L"
	}
	script := fmt.Sprintf("p=%s sum=%s fl=%s\n%s", quote(p), sum, fl, statScript)
	res, err := t.exec(ctx, script)
	if err != nil {
		return Result{}, fmt.Errorf("stat %s: %w", p, err)
	}
	if res.RC != 0 {
		return Result{Failed: true, Msg: fmt.Sprintf("host %s: stat %s: %s", t.Host, p, firstLine(res.Stderr, res.Stdout))}, nil
	}
	st, err := parseStat(p, string(res.Stdout))
	if err != nil {
		return Result{}, fmt.Errorf("host %s: stat %s: %w", t.Host, p, err)
	}
	return Result{Data: map[string]any{"stat": st}}, nil
}

// parseStat builds Ansible's stat dictionary from statScript's output.
func parseStat(p, out string) (map[string]any, error) {
	st := map[string]any{"exists": false}
	for _, l := range strings.Split(out, "\n") {
		key, val, _ := strings.Cut(l, " ")
		switch key {
		case "absent":
			return st, nil
		case "stat":
			f := strings.Split(val, "|")
			if len(f) != 12 {
				return nil, fmt.Errorf("unexpected stat output %q", val)
			}
			raw, err := strconv.ParseUint(f[0], 16, 32)
			if err != nil {
				return nil, fmt.Errorf("unexpected stat mode %q", f[0])
			}
			num := func(s string) any {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return s
				}
				return n
			}
			typ := raw & 0o170000
			perm := raw & 0o7777
			st["exists"] = true
			st["path"] = p
			st["mode"] = fmt.Sprintf("%04o", perm)
			st["isdir"] = typ == 0o040000
			st["isreg"] = typ == 0o100000
			st["islnk"] = typ == 0o120000
			st["isblk"] = typ == 0o060000
			st["ischr"] = typ == 0o020000
			st["isfifo"] = typ == 0o010000
			st["issock"] = typ == 0o140000
			st["isuid"] = perm&0o4000 != 0
			st["isgid"] = perm&0o2000 != 0
			for i, who := range []string{"usr", "grp", "oth"} {
				shift := uint(6 - 3*i)
				st["r"+who] = perm>>shift&4 != 0
				st["w"+who] = perm>>shift&2 != 0
				st["x"+who] = perm>>shift&1 != 0
			}
			st["uid"], st["gid"] = num(f[1]), num(f[2])
			st["pw_name"], st["gr_name"] = f[3], f[4]
			st["size"] = num(f[5])
			st["atime"], st["mtime"], st["ctime"] = num(f[6]), num(f[7]), num(f[8])
			st["inode"], st["dev"], st["nlink"] = num(f[9]), num(f[10]), num(f[11])
		case "access":
			st["readable"] = strings.Contains(val, "r")
			st["writeable"] = strings.Contains(val, "w")
			st["executable"] = strings.Contains(val, "x")
		case "target":
			st["lnk_target"] = val
		case "source":
			st["lnk_source"] = val
		case "sum":
			st["checksum"] = val
		}
	}
	if st["exists"] != true {
		return nil, fmt.Errorf("unexpected output %q", out)
	}
	return st, nil
}
