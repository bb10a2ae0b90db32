// Package healthcheck implements Kolla's container healthcheck helpers
// (healthcheck_curl, healthcheck_port, healthcheck_listen, healthcheck_socket)
// without curl, ss, pgrep or lsof: sockets are found in /proc/net/{tcp,tcp6,udp,
// udp6,unix} and tied to processes through the socket:[inode] links in
// /proc/<pid>/fd. Each check returns nil when healthy.
package healthcheck

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Curl is healthcheck_curl: a request to url that fails on a transport error or
// an HTTP status of 400 or more (curl --fail), without following redirects and
// without verifying TLS certificates (curl -k), as Kolla's script does. The
// timeout and user agent come from HEALTHCHECK_CURL_MAX_TIME and
// HEALTHCHECK_CURL_USER_AGENT. On success it writes curl's --write-out line:
// "<code> <ip>:<port> <seconds> seconds".
func Curl(getenv func(string) string, out io.Writer, method, url, user string, headers []string) error {
	maxTime := 10 * time.Second
	if v := getenv("HEALTHCHECK_CURL_MAX_TIME"); v != "" {
		s, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("HEALTHCHECK_CURL_MAX_TIME=%q is not a number of seconds", v)
		}
		maxTime = time.Duration(s * float64(time.Second))
	}
	agent := getenv("HEALTHCHECK_CURL_USER_AGENT")
	if agent == "" {
		agent = "curl-healthcheck"
	}
	var remote string
	dialer := &net.Dialer{}
	client := &http.Client{
		Timeout: maxTime,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // curl -k, as Kolla
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dialer.DialContext(ctx, network, addr)
				if err == nil {
					remote = c.RemoteAddr().String()
				}
				return c, err
			},
			Proxy: http.ProxyFromEnvironment,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if method == "" {
		method = http.MethodGet
	}
	// curl assumes http:// for a bare host:port, which kolla-ansible's
	// healthchecks use ("healthcheck_curl -u user:pass 10.0.0.1:9293").
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return fmt.Errorf("bad URL %q: %w", url, err)
	}
	req.Header.Set("User-Agent", agent)
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return fmt.Errorf("header %q is not \"Name: value\"", h)
		}
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if user != "" {
		u, p, _ := strings.Cut(user, ":")
		req.SetBasicAuth(u, p)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Fprintf(out, "\n%d %s %.6f seconds\n", resp.StatusCode, remote, time.Since(start).Seconds())
	if resp.StatusCode >= 400 {
		return fmt.Errorf("The requested URL returned error: %d", resp.StatusCode)
	}
	return nil
}

// Port is healthcheck_port: a process whose command line matches the regular
// expression process (pgrep -f) has a connected TCP socket whose local or
// remote port is one of ports (ss -ntp).
func Port(proc *Proc, process string, ports []int) error {
	return proc.inetCheck(process, ports, false, "a connection on")
}

// Listen is healthcheck_listen: a process matching process listens on one of
// ports, TCP or UDP (ss -lnp).
func Listen(proc *Proc, process string, ports []int) error {
	return proc.inetCheck(process, ports, true, "a socket listening on")
}

// Socket is healthcheck_socket: a process whose name starts with process (the
// first 15 characters, as lsof shows it) has the unix socket bound at path open.
func Socket(proc *Proc, process, path string) error {
	inodes := map[string]bool{}
	f, err := os.Open(filepath.Join(proc.Root, "net/unix"))
	if err != nil {
		return fmt.Errorf("read unix sockets: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Num RefCount Protocol Flags Type St Inode Path
		fields := strings.Fields(sc.Text())
		if len(fields) >= 8 && fields[7] == path {
			inodes[fields[6]] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read unix sockets: %w", err)
	}
	if len(inodes) == 0 {
		return fmt.Errorf("no unix socket is bound at %s", path)
	}
	name := process
	if len(name) > 15 {
		name = name[:15]
	}
	pids, err := proc.pids()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		comm, err := os.ReadFile(filepath.Join(proc.Root, pid, "comm"))
		if err != nil || !strings.HasPrefix(strings.TrimSpace(string(comm)), name) {
			continue
		}
		if proc.hasSocket(pid, inodes) {
			return nil
		}
	}
	return fmt.Errorf("no process named %q has %s open", process, path)
}

// Proc reads a /proc file system; Root is "/proc" outside tests. Self is left
// out of process matches, as pgrep leaves itself out.
type Proc struct {
	Root string
	Self int
}

// NewProc reads the real /proc.
func NewProc() *Proc { return &Proc{Root: "/proc", Self: os.Getpid()} }

func (p *Proc) pids() ([]string, error) {
	entries, err := os.ReadDir(p.Root)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []string
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n != p.Self {
			pids = append(pids, e.Name())
		}
	}
	return pids, nil
}

// matching returns the pids whose command line (arguments joined by spaces)
// matches the pattern, as pgrep -f.
func (p *Proc) matching(process string) ([]string, error) {
	re, err := regexp.Compile(process)
	if err != nil {
		return nil, fmt.Errorf("process pattern %q: %w", process, err)
	}
	pids, err := p.pids()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, pid := range pids {
		raw, err := os.ReadFile(filepath.Join(p.Root, pid, "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		cmdline := strings.ReplaceAll(strings.TrimRight(string(raw), "\x00"), "\x00", " ")
		if re.MatchString(cmdline) {
			out = append(out, pid)
		}
	}
	return out, nil
}

// hasSocket reports whether pid holds an fd on one of the socket inodes.
func (p *Proc) hasSocket(pid string, inodes map[string]bool) bool {
	dir := filepath.Join(p.Root, pid, "fd")
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
			return true
		}
	}
	return false
}

// TCP states in /proc/net/tcp: 01 established, 0A listen; UDP 07 is a bound,
// unconnected socket, which ss -l lists as listening.
const (
	tcpListen = "0A"
	udpBound  = "07"
)

func (p *Proc) inetCheck(process string, ports []int, listen bool, what string) error {
	want := map[int]bool{}
	for _, port := range ports {
		want[port] = true
	}
	inodes := map[string]bool{}
	files := []string{"tcp", "tcp6"}
	if listen {
		files = append(files, "udp", "udp6")
	}
	for _, name := range files {
		if err := p.inetSockets(name, listen, want, inodes); err != nil {
			return err
		}
	}
	pids, err := p.matching(process)
	if err != nil {
		return err
	}
	if len(pids) == 0 {
		return fmt.Errorf("no process matches %q", process)
	}
	for _, pid := range pids {
		if p.hasSocket(pid, inodes) {
			return nil
		}
	}
	return fmt.Errorf("no process matching %q has %s port %s", process, what, joinPorts(ports))
}

// inetSockets adds the inodes of the sockets in /proc/net/<name> on a wanted
// port: listening ones for listen, connected ones (ss -t without -a) otherwise.
func (p *Proc) inetSockets(name string, listen bool, want map[int]bool, inodes map[string]bool) error {
	f, err := os.Open(filepath.Join(p.Root, "net", name))
	if os.IsNotExist(err) {
		return nil // no IPv6 in this kernel
	}
	if err != nil {
		return fmt.Errorf("read sockets: %w", err)
	}
	defer f.Close()
	udp := strings.HasPrefix(name, "udp")
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		state := fields[3]
		var ok bool
		switch {
		case listen && udp:
			ok = state == udpBound
		case listen:
			ok = state == tcpListen
		default:
			ok = state != tcpListen
		}
		if !ok {
			continue
		}
		if want[hexPort(fields[1])] || (!listen && want[hexPort(fields[2])]) {
			inodes[fields[9]] = true
		}
	}
	return sc.Err()
}

// hexPort reads the port of an "ADDR:PORT" hex pair from /proc/net.
func hexPort(addr string) int {
	_, port, ok := strings.Cut(addr, ":")
	if !ok {
		return -1
	}
	n, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return -1
	}
	return int(n)
}

func joinPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, "|")
}
