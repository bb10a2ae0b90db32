package modules

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/koala-stack/koala/pkg/transport"
)

func TestParsePrivAndGrants(t *testing.T) {
	want, err := parsePriv("keystone.*:ALL/`nova`.*:select, insert,GRANT")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(want, privileges{"keystone.*": {"ALL": true}, "nova.*": {"SELECT": true, "INSERT": true, "GRANT": true}}) {
		t.Fatalf("parsePriv: %v", want)
	}
	have := parseGrants([]string{
		"GRANT USAGE ON *.* TO `keystone`@`%` IDENTIFIED BY PASSWORD '*ABC'",
		"GRANT ALL PRIVILEGES ON `keystone`.* TO `keystone`@`%`",
		"GRANT SELECT, INSERT (a, b) ON `old`.`t` TO `keystone`@`%` WITH GRANT OPTION",
	})
	if !reflect.DeepEqual(have, privileges{"keystone.*": {"ALL": true}, "old.t": {"SELECT": true, "INSERT (a, b)": true, "GRANT": true}}) {
		t.Fatalf("parseGrants: %v", have)
	}
	var got []string
	for _, c := range privChanges(have, want, false) {
		got = append(got, c.sql("u"))
	}
	wantSQL := []string{
		"GRANT INSERT, SELECT ON `nova`.* TO u WITH GRANT OPTION",
		"REVOKE ALL PRIVILEGES, GRANT OPTION ON `old`.`t` FROM u",
	}
	if !reflect.DeepEqual(got, wantSQL) {
		t.Fatalf("changes:\n%q\nwant\n%q", got, wantSQL)
	}
	if c := privChanges(have, privileges{"keystone.*": {"ALL": true}}, true); len(c) != 0 {
		t.Errorf("append_privs revoked: %v", c)
	}
	// A privilege too many on a wanted object: revoke, then grant what is wanted.
	got = nil
	for _, c := range privChanges(privileges{"db.*": {"SELECT": true, "DELETE": true}}, privileges{"db.*": {"SELECT": true}}, false) {
		got = append(got, c.sql("u"))
	}
	if !reflect.DeepEqual(got, []string{"REVOKE ALL PRIVILEGES ON `db`.* FROM u", "GRANT SELECT ON `db`.* TO u"}) {
		t.Errorf("narrowing: %q", got)
	}
	if _, err := parsePriv("keystone:ALL"); err == nil {
		t.Error("an object without a dot was accepted")
	}
	if nativeHash("password") != "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19" {
		t.Errorf("nativeHash = %s", nativeHash("password"))
	}
}

// mariadb is a throwaway MariaDB server on 127.0.0.1 with an admin account.
type mariadb struct {
	port          int
	user, pass    string
	socket, dataD string
}

// startMariaDB runs mariadbd from Debian's mariadb-server as the mysql user
// with a fresh data directory, and stops it when the test ends.
func startMariaDB(t *testing.T) *mariadb {
	t.Helper()
	bin, err := exec.LookPath("mariadbd")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/mariadbd"); err != nil {
			t.Skip("mariadbd missing (apt-get install mariadb-server): MySQL module tests need a real server")
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("MySQL module tests run mariadbd as the mysql user and need root")
	}
	// tmpfs when there is one: InnoDB's fsyncs make a disk-backed start slow.
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "koala-mariadb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	data := filepath.Join(dir, "data")
	if out, err := exec.Command("mariadb-install-db", "--user=mysql", "--datadir="+data, "--auth-root-authentication-method=socket", "--skip-test-db").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	exec.Command("chown", "-R", "mysql:mysql", dir).Run()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	m := &mariadb{port: port, user: "koala_admin", pass: "adm'in\"pw", socket: filepath.Join(dir, "mysqld.sock"), dataD: data}
	cmd := exec.Command(bin, "--no-defaults", "--user=mysql", "--datadir="+data, "--socket="+m.socket,
		"--port="+strconv.Itoa(port), "--bind-address=127.0.0.1", "--skip-name-resolve",
		"--pid-file="+filepath.Join(dir, "mysqld.pid"), "--log-error="+filepath.Join(dir, "error.log"),
		"--innodb-buffer-pool-size=16M", "--skip-log-bin")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := exec.Command("mariadb", "--socket="+m.socket, "-uroot", "-e", "SELECT 1").Run()
		if err == nil {
			break
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("mariadbd exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("mariadbd did not answer within 60s: %v\n%s", err, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The login account: TCP from loopback and the socket, a password with quotes in it.
	var setup string
	for _, h := range []string{"127.0.0.1", "localhost"} {
		setup += fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY 'adm''in\"pw'; GRANT ALL ON *.* TO '%s'@'%s' WITH GRANT OPTION;", m.user, h, m.user, h)
	}
	if out, err := exec.Command("mariadb", "--socket="+m.socket, "-uroot", "-e", setup).CombinedOutput(); err != nil {
		t.Fatalf("create admin: %v\n%s", err, out)
	}
	return m
}

// sql runs a statement as root over the socket and returns its tab-separated output.
func (m *mariadb) sql(t *testing.T, q string) string {
	t.Helper()
	out, err := exec.Command("mariadb", "--socket="+m.socket, "-uroot", "-N", "-B", "-e", q).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", q, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (m *mariadb) login(a map[string]any) map[string]any {
	a["login_host"], a["login_port"], a["login_user"], a["login_password"] = "127.0.0.1", m.port, m.user, m.pass
	return a
}

// TestMySQLModules drives mysql_db, mysql_user and mysql_query through a real
// sshd host: the server is reached by the host's Dial, as in a deploy.
func TestMySQLModules(t *testing.T) {
	m := startMariaDB(t)
	c := sshConn(t)

	db := m.login(map[string]any{"name": "koala_keystone", "encoding": "utf8mb4"})
	mustChanged(t, run(t, c, "mysql_db", db, check), true)
	if got := m.sql(t, "SHOW DATABASES LIKE 'koala_keystone'"); got != "" {
		t.Fatal("check mode created the database")
	}
	mustChanged(t, run(t, c, "mysql_db", db), true)
	if got := m.sql(t, "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='koala_keystone'"); got != "utf8mb4" {
		t.Fatalf("charset %q", got)
	}
	mustChanged(t, run(t, c, "mysql_db", db), false)

	pw := "s3cret'pw"
	user := m.login(map[string]any{"name": "keystone", "password": pw, "host": "%", "priv": "koala_keystone.*:ALL", "append_privs": true})
	r := run(t, c, "mysql_user", user, check)
	mustChanged(t, r, true)
	if got := m.sql(t, "SELECT COUNT(*) FROM mysql.user WHERE User='keystone'"); got != "0" {
		t.Fatal("check mode created the user")
	}
	r = run(t, c, "mysql_user", user)
	mustChanged(t, r, true)
	if strings.Contains(fmt.Sprint(r), pw) {
		t.Fatalf("the password leaked into the result: %+v", r)
	}
	if got := m.sql(t, "SHOW GRANTS FOR 'keystone'@'%'"); !strings.Contains(got, "GRANT ALL PRIVILEGES ON `koala_keystone`.* TO `keystone`@`%`") {
		t.Fatalf("grants: %s", got)
	}
	mustChanged(t, run(t, c, "mysql_user", user), false)
	// The new user can log in with its password, through the host.
	q := map[string]any{"query": "SELECT CURRENT_USER() AS me", "login_host": "127.0.0.1", "login_port": m.port, "login_user": "keystone", "login_password": pw}
	r = run(t, c, "mysql_query", q)
	if rows, _ := r.Data["query_result"].([]any); len(rows) != 1 || fmt.Sprint(rows[0]) != "[map[me:keystone@%]]" {
		t.Fatalf("query_result %v", r.Data["query_result"])
	}

	// A new password is detected and set; the old one stops working.
	user["password"] = "an0ther"
	mustChanged(t, run(t, c, "mysql_user", user), true)
	mustChanged(t, run(t, c, "mysql_user", user), false)
	if _, err := runErr(t, c, "mysql_query", q); err == nil || strings.Contains(err.Error(), pw) {
		t.Fatalf("login with the old password: %v", err)
	}

	// Privileges narrowed without append_privs: the extra grant goes.
	m.sql(t, "CREATE DATABASE koala_extra; GRANT SELECT ON koala_extra.* TO 'keystone'@'%'")
	user["append_privs"] = false
	mustChanged(t, run(t, c, "mysql_user", user), true)
	if got := m.sql(t, "SHOW GRANTS FOR 'keystone'@'%'"); strings.Contains(got, "koala_extra") {
		t.Fatalf("extra grant kept: %s", got)
	}
	mustChanged(t, run(t, c, "mysql_user", user), false)

	// mysql_query: changes count as changed, positional args are escaped.
	ins := m.login(map[string]any{"query": []any{"CREATE TABLE IF NOT EXISTS koala_keystone.t (v VARCHAR(20))", "INSERT INTO koala_keystone.t VALUES (%s)"}, "positional_args": []any{"it's"}})
	mustChanged(t, run(t, c, "mysql_query", ins), true)
	if got := m.sql(t, "SELECT v FROM koala_keystone.t"); got != "it's" {
		t.Fatalf("inserted %q", got)
	}
	if r := run(t, c, "mysql_query", ins, check); !r.Skipped {
		t.Errorf("check mode ran a write: %+v", r)
	}

	// Absent: user, then database.
	mustChanged(t, run(t, c, "mysql_user", m.login(map[string]any{"name": "keystone", "host": "%", "state": "absent"})), true)
	mustChanged(t, run(t, c, "mysql_user", m.login(map[string]any{"name": "keystone", "host": "%", "state": "absent"})), false)
	mustChanged(t, run(t, c, "mysql_db", m.login(map[string]any{"name": "koala_keystone", "state": "absent"})), true)
	mustChanged(t, run(t, c, "mysql_db", m.login(map[string]any{"name": "koala_keystone", "state": "absent"})), false)

	// login_unix_socket: the server's socket on the host.
	sock := map[string]any{"name": "koala_sock", "login_unix_socket": m.socket, "login_user": m.user, "login_password": m.pass}
	mustChanged(t, run(t, transport.Local("local"), "mysql_db", sock), true)
	if got := m.sql(t, "SHOW DATABASES LIKE 'koala_sock'"); got != "koala_sock" {
		t.Fatalf("database over the socket: %q", got)
	}

	// A wrong login password fails with where and who, without the password.
	bad := m.login(map[string]any{"name": "x"})
	bad["login_password"] = "wrong-pw-123"
	_, err := runErr(t, c, "mysql_db", bad)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(m.port)) || !strings.Contains(err.Error(), m.user) || strings.Contains(err.Error(), "wrong-pw-123") {
		t.Fatalf("bad login: %v", err)
	}
}

// A statement the server does not finish is cut off at the call's bound:
// the task fails instead of hanging the run.
func TestMySQLCallTimeout(t *testing.T) {
	m := startMariaDB(t)
	c := sshConn(t)
	saved := mysqlCallTimeout
	mysqlCallTimeout = 2 * time.Second
	t.Cleanup(func() { mysqlCallTimeout = saved })
	_, err := runErr(t, c, "mysql_query", m.login(map[string]any{"query": "SELECT SLEEP(600)"}))
	if err == nil || !strings.Contains(err.Error(), "no answer within 2s") {
		t.Fatalf("want the call cut off, got %v", err)
	}
}
