package modules

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
)

type setupModule struct{}

func init() { Register(setupModule{}, "setup", "gather_facts") }

func (setupModule) Args() (accepted, required []string) {
	return []string{"filter", "gather_subset", "gather_timeout", "fact_path"}, nil
}

// setupScript gathers every fact in one round trip. Each section starts with
// a "==== name" line; the controller parses them. It prefers iproute2 and
// falls back to /proc and /sys, which every Linux container has.
const setupScript = `
s() { echo "==== $1"; }
# rd is cat without a process: on a busy host every process started is a
# wait for a CPU, and facts are gathered on every host of every play.
rd() { [ -r "$1" ] || return 1; while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done < "$1"; }
s hostname; rd /proc/sys/kernel/hostname || hostname 2>/dev/null
s fqdn; hostname -f 2>/dev/null
s uname; set -- $(uname -snrm); printf '%s\n' "$@"
s os-release; rd /etc/os-release || rd /usr/lib/os-release
s debian_version; rd /etc/debian_version
s nproc; nproc 2>/dev/null
s cpuinfo; n=0; m=; while IFS= read -r l; do case $l in processor*) n=$((n+1)) ;; "model name"*) [ -n "$m" ] || m=$l ;; esac; done < /proc/cpuinfo; echo $n; [ -z "$m" ] || echo "$m"
s meminfo; while IFS= read -r l; do case $l in MemTotal:*|MemFree:*|SwapTotal:*|SwapFree:*) echo "$l" ;; esac; done < /proc/meminfo
s user; i=$(id); u=${i#uid=}; g=${i#*gid=}; n=${u#*(}; echo "${n%%)*}"; echo "${u%%(*}"; echo "${g%%(*}"; getent passwd "${u%%(*}"
s env; env
s python; command -v python3 2>/dev/null || command -v python 2>/dev/null
s pid1; rd /proc/1/comm
s pkg_mgr; for m in apt-get dnf yum zypper apk pacman; do command -v $m >/dev/null 2>&1 && { echo $m; break; }; done
s machine_id; rd /etc/machine-id
s container; [ -f /.dockerenv ] && echo docker; [ -f /run/.containerenv ] && echo podman; rd /run/systemd/container
s links
for i in /sys/class/net/*; do
  [ -e "$i" ] || continue
  a=; m=; o=; t=; f=; read -r a < "$i/address"; read -r m < "$i/mtu"; read -r o < "$i/operstate"; read -r t < "$i/type"; read -r f < "$i/flags"
  k=ether; [ "$t" = 772 ] && k=loopback; [ -d "$i/bridge" ] && k=bridge; [ -d "$i/bonding" ] && k=bonding
  echo "${i##*/} $a $m $o $k $f"
done 2>/dev/null
if command -v ip >/dev/null 2>&1; then
  s ip_addr; ip -o -4 addr show
  s route_get; ip -4 route get 8.8.8.8 2>/dev/null
  s route6_get; ip -6 route get 2001:4860:4860::8888 2>/dev/null
else
  s fib_trie; rd /proc/net/fib_trie
fi
s route; rd /proc/net/route
s if_inet6; rd /proc/net/if_inet6
exit 0
`

func (setupModule) Run(ctx context.Context, t *Task) (Result, error) {
	a := newArgs(t.Args)
	filters := a.list("filter")
	a.list("gather_subset") // every subset is cheap: all are gathered
	a.integer(0, "gather_timeout")
	a.str("", "fact_path")
	if err := a.err("setup"); err != nil {
		return Result{}, err
	}
	res, err := t.mustExec(ctx, "gather facts", setupScript)
	if err != nil {
		return Result{}, err
	}
	facts := parseFacts(string(res.Stdout))
	if len(filters) > 0 {
		for k := range facts {
			keep := false
			for _, f := range filters {
				if ok, _ := path.Match(f, k); ok {
					keep = true
				} else if ok, _ := path.Match("ansible_"+f, k); ok {
					keep = true
				}
			}
			if !keep {
				delete(facts, k)
			}
		}
	}
	// A registered setup result carries the facts as Ansible's does.
	view := make(map[string]any, len(facts))
	for k, v := range facts {
		view[strings.TrimPrefix(k, "ansible_")] = v
	}
	return Result{Facts: facts, Data: map[string]any{"ansible_facts": view}}, nil
}

// parseFacts turns setupScript's output into Ansible-named facts.
func parseFacts(out string) map[string]any {
	sec := map[string][]string{}
	name := ""
	for _, l := range strings.Split(out, "\n") {
		if n, ok := strings.CutPrefix(l, "==== "); ok {
			name = n
			sec[name] = []string{}
			continue
		}
		if name != "" && l != "" {
			sec[name] = append(sec[name], l)
		}
	}
	first := func(s string) string {
		if v := sec[s]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	f := map[string]any{}

	hostname := first("hostname")
	fqdn := first("fqdn")
	if fqdn == "" {
		fqdn = hostname
	}
	short, _, _ := strings.Cut(hostname, ".")
	f["ansible_hostname"] = short
	f["ansible_fqdn"] = fqdn
	_, domain, _ := strings.Cut(fqdn, ".")
	f["ansible_domain"] = domain
	if u := sec["uname"]; len(u) == 4 {
		f["ansible_system"], f["ansible_nodename"], f["ansible_kernel"], f["ansible_architecture"] = u[0], u[1], u[2], u[3]
		f["ansible_machine"] = u[3]
	}
	distFacts(f, sec["os-release"], first("debian_version"))

	vcpus, _ := strconv.Atoi(first("cpuinfo"))
	nproc, _ := strconv.Atoi(first("nproc"))
	if vcpus == 0 {
		vcpus = nproc
	}
	if nproc == 0 {
		nproc = vcpus
	}
	f["ansible_processor_vcpus"], f["ansible_processor_nproc"] = vcpus, nproc
	if c := sec["cpuinfo"]; len(c) > 1 {
		_, model, _ := strings.Cut(c[1], ":")
		f["ansible_processor"] = []any{strings.TrimSpace(model)}
	}
	for _, l := range sec["meminfo"] {
		fs := strings.Fields(l)
		if len(fs) < 2 {
			continue
		}
		kb, _ := strconv.Atoi(fs[1])
		key := map[string]string{"MemTotal:": "memtotal_mb", "MemFree:": "memfree_mb", "SwapTotal:": "swaptotal_mb", "SwapFree:": "swapfree_mb"}[fs[0]]
		if key != "" {
			f["ansible_"+key] = kb / 1024
		}
	}
	if u := sec["user"]; len(u) >= 3 {
		f["ansible_user_id"] = u[0]
		f["ansible_user_uid"], _ = strconv.Atoi(u[1])
		f["ansible_user_gid"], _ = strconv.Atoi(u[2])
		if len(u) >= 4 {
			if pw := strings.Split(u[3], ":"); len(pw) == 7 {
				f["ansible_user_gecos"], f["ansible_user_dir"], f["ansible_user_shell"] = pw[4], pw[5], pw[6]
			}
		}
	}
	env := map[string]any{}
	for _, l := range sec["env"] {
		// A line without "=" continues a multi-line value; those are rare
		// and not worth a second pass.
		if k, v, ok := strings.Cut(l, "="); ok && k != "" && !strings.ContainsAny(k, " \t") {
			env[k] = v
		}
	}
	f["ansible_env"] = env
	if py := first("python"); py != "" {
		f["ansible_python"] = map[string]any{"executable": py}
	}
	f["ansible_service_mgr"] = first("pid1")
	if pm := first("pkg_mgr"); pm != "" {
		f["ansible_pkg_mgr"] = strings.TrimSuffix(pm, "-get")
	}
	f["ansible_machine_id"] = first("machine_id")
	if c := first("container"); c != "" {
		f["ansible_virtualization_type"], f["ansible_virtualization_role"] = c, "guest"
	}
	netFacts(f, sec)
	return f
}

// distFacts derives the distribution facts from os-release the way Ansible
// names them.
func distFacts(f map[string]any, osRelease []string, debianVersion string) {
	kv := map[string]string{}
	for _, l := range osRelease {
		if k, v, ok := strings.Cut(l, "="); ok {
			kv[k] = strings.Trim(v, `"'`)
		}
	}
	id := kv["ID"]
	names := map[string]string{
		"debian": "Debian", "ubuntu": "Ubuntu", "centos": "CentOS", "rocky": "Rocky", "rhel": "RedHat",
		"fedora": "Fedora", "almalinux": "AlmaLinux", "opensuse-leap": "openSUSE Leap", "sles": "SLES", "arch": "Archlinux",
	}
	dist := names[id]
	if dist == "" {
		dist, _, _ = strings.Cut(kv["NAME"], " ")
	}
	family := map[string]string{
		"debian": "Debian", "ubuntu": "Debian", "centos": "RedHat", "rocky": "RedHat", "rhel": "RedHat",
		"fedora": "RedHat", "almalinux": "RedHat", "opensuse-leap": "Suse", "sles": "Suse", "arch": "Archlinux",
	}[id]
	if family == "" {
		for _, like := range strings.Fields(kv["ID_LIKE"]) {
			if fam := map[string]string{"debian": "Debian", "rhel": "RedHat", "fedora": "RedHat", "suse": "Suse"}[like]; fam != "" {
				family = fam
				break
			}
		}
	}
	if family == "" {
		family = dist
	}
	version := kv["VERSION_ID"]
	// Ansible reports Debian's point release ("12.5") from /etc/debian_version.
	if id == "debian" && debianVersion != "" && debianVersion[0] >= '0' && debianVersion[0] <= '9' {
		version = debianVersion
	}
	major, _, _ := strings.Cut(version, ".")
	f["ansible_distribution"] = dist
	f["ansible_os_family"] = family
	f["ansible_distribution_version"] = version
	f["ansible_distribution_major_version"] = major
	f["ansible_distribution_release"] = kv["VERSION_CODENAME"]
}

// iface is one interface's facts as it is built.
type iface struct {
	facts   map[string]any
	ipv4    []map[string]any
	ipv6    []any
	factKey string
}

// netFacts fills the interface, address and default-route facts.
func netFacts(f map[string]any, sec map[string][]string) {
	ifs := map[string]*iface{}
	var names []string
	for _, l := range sec["links"] {
		fs := strings.Fields(l)
		if len(fs) < 6 {
			continue
		}
		mtu, _ := strconv.Atoi(fs[2])
		flags, _ := strconv.ParseUint(strings.TrimPrefix(fs[5], "0x"), 16, 32)
		facts := map[string]any{
			"device": fs[0], "macaddress": fs[1], "mtu": mtu, "type": fs[4],
			"active":  flags&0x1 != 0, // IFF_UP
			"promisc": flags&0x100 != 0,
		}
		if fs[4] == "loopback" {
			delete(facts, "macaddress")
		}
		ifs[fs[0]] = &iface{facts: facts, factKey: "ansible_" + strings.NewReplacer("-", "_", ".", "_", ":", "_").Replace(fs[0])}
		names = append(names, fs[0])
	}
	get := func(name string) *iface {
		if i, ok := ifs[name]; ok {
			return i
		}
		i := &iface{facts: map[string]any{"device": name}, factKey: "ansible_" + strings.NewReplacer("-", "_", ".", "_", ":", "_").Replace(name)}
		ifs[name] = i
		names = append(names, name)
		return i
	}
	if lines, ok := sec["ip_addr"]; ok {
		for _, l := range lines {
			name, addr, ok := parseIPAddrLine(l)
			if ok {
				get(name).ipv4 = append(get(name).ipv4, addr)
			}
		}
	} else {
		for name, addrs := range parseFibTrie(sec["fib_trie"], sec["route"]) {
			get(name).ipv4 = append(get(name).ipv4, addrs...)
		}
	}
	for _, l := range sec["if_inet6"] {
		fs := strings.Fields(l)
		if len(fs) != 6 || len(fs[0]) != 32 {
			continue
		}
		b, err := hex.DecodeString(fs[0])
		if err != nil {
			continue
		}
		prefix, _ := strconv.ParseUint(fs[2], 16, 8)
		scope := map[string]string{"00": "global", "20": "link", "10": "host", "40": "site"}[fs[3]]
		get(fs[5]).ipv6 = append(get(fs[5]).ipv6, map[string]any{
			"address": net.IP(b).String(), "prefix": strconv.Itoa(int(prefix)), "scope": scope,
		})
	}

	sort.Strings(names)
	var all4, all6 []any
	for _, n := range names {
		i := ifs[n]
		if len(i.ipv4) > 0 {
			i.facts["ipv4"] = i.ipv4[0]
			if len(i.ipv4) > 1 {
				sec := make([]any, len(i.ipv4)-1)
				for j, a := range i.ipv4[1:] {
					sec[j] = a
				}
				i.facts["ipv4_secondaries"] = sec
			}
		}
		if len(i.ipv6) > 0 {
			i.facts["ipv6"] = i.ipv6
		}
		for _, a := range i.ipv4 {
			if !strings.HasPrefix(a["address"].(string), "127.") {
				all4 = append(all4, a["address"])
			}
		}
		for _, a := range i.ipv6 {
			if addr := a.(map[string]any)["address"].(string); addr != "::1" {
				all6 = append(all6, addr)
			}
		}
		f[i.factKey] = i.facts
	}
	f["ansible_interfaces"] = anyList(names)
	f["ansible_all_ipv4_addresses"] = orEmpty(all4)
	f["ansible_all_ipv6_addresses"] = orEmpty(all6)

	def4 := map[string]any{}
	if l := firstOf(sec["route_get"]); l != "" {
		fs := strings.Fields(l)
		for j := 0; j+1 < len(fs); j++ {
			switch fs[j] {
			case "via":
				def4["gateway"] = fs[j+1]
			case "dev":
				def4["interface"] = fs[j+1]
			case "src":
				def4["address"] = fs[j+1]
			}
		}
	} else if dev, gw := defaultRoute(sec["route"]); dev != "" {
		def4["interface"], def4["gateway"] = dev, gw
	}
	if dev, ok := def4["interface"].(string); ok {
		if i := ifs[dev]; i != nil {
			for _, a := range i.ipv4 {
				if def4["address"] == nil || def4["address"] == a["address"] {
					for k, v := range a {
						def4[k] = v
					}
					break
				}
			}
			for _, k := range []string{"macaddress", "mtu", "type"} {
				if v, ok := i.facts[k]; ok {
					def4[k] = v
				}
			}
			def4["alias"] = dev
		}
	}
	f["ansible_default_ipv4"] = def4
	def6 := map[string]any{}
	if l := firstOf(sec["route6_get"]); l != "" {
		fs := strings.Fields(l)
		for j := 0; j+1 < len(fs); j++ {
			switch fs[j] {
			case "via":
				def6["gateway"] = fs[j+1]
			case "dev":
				def6["interface"] = fs[j+1]
			case "src":
				def6["address"] = fs[j+1]
			}
		}
	}
	f["ansible_default_ipv6"] = def6
}

func firstOf(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

func orEmpty(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

// parseIPAddrLine reads one `ip -o -4 addr show` line:
// "2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\ ...".
func parseIPAddrLine(l string) (string, map[string]any, bool) {
	fs := strings.Fields(l)
	if len(fs) < 4 || fs[2] != "inet" {
		return "", nil, false
	}
	name, _, _ := strings.Cut(fs[1], "@")
	ip, ipnet, err := net.ParseCIDR(fs[3])
	if err != nil {
		return "", nil, false
	}
	ones, _ := ipnet.Mask.Size()
	a := map[string]any{
		"address": ip.String(), "netmask": net.IP(ipnet.Mask).String(),
		"network": ipnet.IP.String(), "prefix": strconv.Itoa(ones),
	}
	for j := 4; j+1 < len(fs); j++ {
		if fs[j] == "brd" {
			a["broadcast"] = fs[j+1]
		}
	}
	return name, a, true
}

// procRoute is one /proc/net/route entry.
type procRoute struct {
	iface        string
	dest, mask   uint32
	gateway      net.IP
	isDefaultGwy bool
}

func parseProcRoute(lines []string) []procRoute {
	var out []procRoute
	for _, l := range lines {
		fs := strings.Fields(l)
		if len(fs) < 8 || fs[0] == "Iface" {
			continue
		}
		d, err1 := strconv.ParseUint(fs[1], 16, 32)
		g, err2 := strconv.ParseUint(fs[2], 16, 32)
		m, err3 := strconv.ParseUint(fs[7], 16, 32)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		// The kernel prints the addresses in host (little-endian) byte order.
		gw := make(net.IP, 4)
		binary.LittleEndian.PutUint32(gw, uint32(g))
		out = append(out, procRoute{iface: fs[0], dest: swap(uint32(d)), mask: swap(uint32(m)), gateway: gw, isDefaultGwy: d == 0 && m == 0})
	}
	return out
}

func swap(v uint32) uint32 {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return binary.BigEndian.Uint32(b[:])
}

func defaultRoute(lines []string) (dev, gw string) {
	for _, r := range parseProcRoute(lines) {
		if r.isDefaultGwy {
			return r.iface, r.gateway.String()
		}
	}
	return "", ""
}

// parseFibTrie finds the host's own IPv4 addresses (the "/32 host LOCAL"
// leaves of /proc/net/fib_trie) and gives each the interface and netmask of
// the most specific /proc/net/route entry that contains it.
func parseFibTrie(trie, route []string) map[string][]map[string]any {
	routes := parseProcRoute(route)
	seen := map[string]bool{}
	out := map[string][]map[string]any{}
	last := ""
	for _, l := range trie {
		t := strings.TrimSpace(l)
		if ip, ok := strings.CutPrefix(t, "|-- "); ok {
			last = ip
			continue
		}
		if !strings.HasPrefix(t, "/32 host LOCAL") || last == "" || seen[last] {
			continue
		}
		seen[last] = true
		ip := net.ParseIP(last).To4()
		if ip == nil {
			continue
		}
		v := binary.BigEndian.Uint32(ip)
		dev, mask := "", uint32(0)
		best := -1
		for _, r := range routes {
			if !r.isDefaultGwy && v&r.mask == r.dest {
				if ones := bitsSet(r.mask); ones > best {
					best, dev, mask = ones, r.iface, r.mask
				}
			}
		}
		if dev == "" {
			if ip[0] != 127 {
				continue
			}
			dev, mask, best = "lo", 0xff000000, 8
		}
		m := make(net.IP, 4)
		binary.BigEndian.PutUint32(m, mask)
		n := make(net.IP, 4)
		binary.BigEndian.PutUint32(n, v&mask)
		b := make(net.IP, 4)
		binary.BigEndian.PutUint32(b, v|^mask)
		out[dev] = append(out[dev], map[string]any{
			"address": ip.String(), "netmask": m.String(), "network": n.String(),
			"prefix": strconv.Itoa(best), "broadcast": b.String(),
		})
	}
	return out
}

func bitsSet(m uint32) int {
	n := 0
	for ; m != 0; m <<= 1 {
		n++
	}
	return n
}
