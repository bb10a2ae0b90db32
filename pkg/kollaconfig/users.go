package kollaconfig

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Users and groups are read from <Root>/etc/passwd and <Root>/etc/group rather
// than through os/user: the binary stays static (no NSS), and tests can supply
// their own files. Kolla images only have local accounts, so nothing is lost.

// idTable reads name:x:id:... lines of a passwd or group file: ids by name and
// the first name of each id.
func idTable(path string) (map[string]int, map[int]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	ids, names := map[string]int{}, map[int]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		id, err := strconv.Atoi(fields[2])
		if err != nil {
			continue
		}
		if _, dup := ids[fields[0]]; !dup {
			ids[fields[0]] = id
		}
		if _, dup := names[id]; !dup {
			names[id] = fields[0]
		}
	}
	return ids, names, sc.Err()
}

func (rt *Runtime) lookupID(file, kind, name string) (int, error) {
	path := rt.path(file)
	ids, _, err := idTable(path)
	if err != nil {
		return 0, known("UserNotFound", "cannot read %s to look up %s %q: %v", path, kind, name, err)
	}
	if id, ok := ids[name]; ok {
		return id, nil
	}
	return 0, known("UserNotFound", "%s %q is not in %s: create it in the image or fix the owner in config.json", kind, name, path)
}

// lookupOwner resolves "user[:group]" to ids.
func (rt *Runtime) lookupOwner(owner string) (uid, gid int, err error) {
	if owner == "" {
		return 0, 0, known("InvalidConfig", "empty owner")
	}
	user, group := userGroup(owner)
	if uid, err = rt.lookupID("/etc/passwd", "user", user); err != nil {
		return 0, 0, err
	}
	if gid, err = rt.lookupID("/etc/group", "group", group); err != nil {
		return 0, 0, err
	}
	return uid, gid, nil
}

// nameOf returns the name for an id in a passwd or group file, or the number
// when there is none.
func (rt *Runtime) nameOf(file string, id int) string {
	if _, names, err := idTable(rt.path(file)); err == nil {
		if n, ok := names[id]; ok {
			return n
		}
	}
	return fmt.Sprint(id)
}
