// Package kollaruntime is the in-image half of koala: Kolla's container entry
// points (kolla_set_configs, kolla_start, kolla_copy_cacerts,
// healthcheck_curl, healthcheck_port, healthcheck_listen,
// healthcheck_socket), called through symlinks of those names or as
// "kolla-runtime TOOL ARGS". Both the small cmd/kolla-runtime and koala
// itself (multi-call, so that koala alone can build images) run it. See
// docs/runtime.md.
package kollaruntime

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/koala-stack/koala/pkg/healthcheck"
	"github.com/koala-stack/koala/pkg/kollaconfig"
)

// Tools lists the names the image links to the runtime binary.
var Tools = []string{
	"kolla_set_configs", "kolla_start", "kolla_copy_cacerts",
	"healthcheck_curl", "healthcheck_port", "healthcheck_listen", "healthcheck_socket",
}

// Binary is the name the runtime has in images (/usr/local/bin/kolla-runtime).
const Binary = "kolla-runtime"

// Called reports whether argv0 names the runtime or one of its tools: the
// binary was started as the in-image runtime.
func Called(argv0 string) bool {
	name := filepath.Base(argv0)
	return name == Binary || slices.Contains(Tools, name)
}

// Main runs the tool argv names (through a symlink, or "kolla-runtime TOOL
// ARGS") and returns the exit status.
func Main(argv []string) int {
	name, args := filepath.Base(argv[0]), argv[1:]
	if name == Binary {
		if len(args) == 0 {
			usage(os.Stderr)
			return 2
		}
		name, args = args[0], args[1:]
	}
	return run(name, args, os.Getenv, os.Stdout, os.Stderr)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: kolla-runtime TOOL [ARGS]\n  or symlink a tool name to this binary\ntools: %s\n", strings.Join(Tools, ", "))
}

func run(name string, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	switch name {
	case "kolla_set_configs":
		return kollaconfig.SetConfigs(args, getenv, stderr)
	case "kolla_start":
		argv, err := kollaconfig.Start(getenv, stdout, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "kolla_start: %v\n", err)
			return max(kollaconfig.ExitCode(err), 1)
		}
		err = syscall.Exec(argv[0], argv, os.Environ())
		fmt.Fprintf(stderr, "kolla_start: exec %s: %v\n", argv[0], err)
		return 1
	case "kolla_copy_cacerts":
		return kollaconfig.CopyCACerts(getenv, stdout, stderr)
	case "healthcheck_curl":
		return curl(args, getenv, stdout, stderr)
	case "healthcheck_port", "healthcheck_listen":
		if len(args) < 2 {
			fmt.Fprintf(stderr, "usage: %s PROCESS PORT [PORT...]\n", name)
			return 2
		}
		ports, err := parsePorts(args[1:])
		if err == nil {
			if name == "healthcheck_port" {
				err = healthcheck.Port(healthcheck.NewProc(), args[0], ports)
			} else {
				err = healthcheck.Listen(healthcheck.NewProc(), args[0], ports)
			}
		}
		return report(name, err, stderr)
	case "healthcheck_socket":
		if len(args) != 2 {
			fmt.Fprintf(stderr, "usage: %s PROCESS SOCKET\n", name)
			return 2
		}
		return report(name, healthcheck.Socket(healthcheck.NewProc(), args[0], args[1]), stderr)
	}
	fmt.Fprintf(stderr, "kolla-runtime: unknown tool %q\n", name)
	usage(stderr)
	return 2
}

func report(name string, err error, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

func parsePorts(args []string) ([]int, error) {
	var ports []int
	for _, a := range args {
		// Kolla's scripts join their arguments into one regex alternative, so
		// "5672 5671" and "5672|5671" both appear in the wild.
		for _, f := range strings.FieldsFunc(a, func(r rune) bool { return r == ' ' || r == '|' }) {
			p, err := strconv.Atoi(f)
			if err != nil || p <= 0 || p > 65535 {
				return nil, fmt.Errorf("%q is not a port number", f)
			}
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// curl parses the few curl options kolla-ansible's healthchecks pass before the
// URL: -u/--user, -X/--request, -H/--header.
func curl(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var method, user, url string
	var headers []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		takes := a == "-u" || a == "--user" || a == "-X" || a == "--request" || a == "-H" || a == "--header"
		if takes {
			if i+1 == len(args) {
				fmt.Fprintf(stderr, "healthcheck_curl: %s needs a value\n", a)
				return 2
			}
			i++
			switch a {
			case "-u", "--user":
				user = args[i]
			case "-X", "--request":
				method = args[i]
			default:
				headers = append(headers, args[i])
			}
			continue
		}
		if strings.HasPrefix(a, "-") || url != "" {
			fmt.Fprintf(stderr, "healthcheck_curl: unsupported argument %q (supported: [-u USER:PASS] [-X METHOD] [-H HEADER] URL)\n", a)
			return 2
		}
		url = a
	}
	if url == "" {
		fmt.Fprintln(stderr, "usage: healthcheck_curl [-u USER:PASS] [-X METHOD] [-H HEADER] URL")
		return 2
	}
	return report("healthcheck_curl", healthcheck.Curl(getenv, stdout, method, url, user, headers), stderr)
}
