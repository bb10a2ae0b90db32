package kollaconfig

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// SetConfigs is the kolla_set_configs command: it returns the exit status.
func SetConfigs(args []string, getenv func(string) string, stderr io.Writer) int {
	fl := flag.NewFlagSet("kolla_set_configs", flag.ContinueOnError)
	fl.SetOutput(stderr)
	check := fl.Bool("check", false, "Check whether the configs changed")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	rt := FromEnv(getenv, stderr)
	err := rt.run(*check)
	if err != nil {
		rt.logf("ERROR", "%v", err)
	}
	return ExitCode(err)
}

func (rt *Runtime) run(check bool) error {
	cfg, err := rt.Load()
	if err != nil {
		return err
	}
	if check {
		return rt.Check(cfg)
	}
	return rt.Apply(cfg)
}

// StartScript is what kolla_start hands to bash once the configuration is in
// place: the tail of Kolla's start.sh, so kolla_extend_start is sourced into the
// same shell and can set ARGS, export variables or exit (bootstrap containers
// do) exactly as it does under Kolla. $1 is the /run_command file.
// kolla_extend_start is skipped when it is not on PATH (Kolla's base image always
// has one, possibly empty; a missing one would otherwise abort the container).
const StartScript = `set -o errexit
CMD=$(cat "$1")
ARGS=""
if [[ ! "${!KOLLA_SKIP_EXTEND_START[@]}" ]] && command -v kolla_extend_start >/dev/null; then
    # Run additional commands if present
    . kolla_extend_start
fi
echo "Running command: '${CMD}${ARGS:+ $ARGS}'"
exec ${CMD} ${ARGS}
`

// Start prepares kolla_start: it runs kolla_set_configs as root (in process when
// already root, else through "sudo -E kolla_set_configs" as Kolla's sudoers
// allows), then kolla_copy_cacerts when the image has it, and returns the argv
// for bash that sources kolla_extend_start and execs the command. The caller
// execs it so the service replaces this process.
func Start(getenv func(string) string, stdout, stderr io.Writer) ([]string, error) {
	if os.Geteuid() == 0 {
		if code := SetConfigs(nil, getenv, stderr); code != 0 {
			return nil, &Error{Kind: "kolla_set_configs", Msg: fmt.Sprintf("failed with exit status %d", code), Code: code}
		}
	} else if err := runRoot(stdout, stderr, "kolla_set_configs"); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("kolla_copy_cacerts"); err == nil {
		if err := runRoot(stdout, stderr, "kolla_copy_cacerts"); err != nil {
			return nil, err
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		return nil, fmt.Errorf("kolla_start needs bash to source kolla_extend_start: %w", err)
	}
	return []string{bash, "-c", StartScript, "kolla_start", FromEnv(getenv, nil).RunCommand}, nil
}

// runRoot runs a Kolla helper as root, through sudo -E unless already root.
func runRoot(stdout, stderr io.Writer, name string) error {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command(name)
	} else {
		cmd = exec.Command("sudo", "-E", name)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		code := 2
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		msg := fmt.Sprintf("%s: %v", cmd, err)
		if os.Geteuid() != 0 {
			msg += fmt.Sprintf(" (as Kolla's image, /etc/sudoers must let group kolla run /usr/local/bin/%s with NOPASSWD and \"Defaults: %%kolla setenv\")", name)
		}
		return &Error{Kind: name, Msg: msg, Code: code}
	}
	return nil
}
