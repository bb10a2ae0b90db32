package modules

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// The mysql_* modules are community.mysql's mysql_db, mysql_user and
// mysql_query, run from the deploy host: the database is reached through the
// host's connection (Task.Conn.Dial), so it is contacted from the target
// host's side, as kolla-ansible's kolla_toolbox would contact it, without a
// helper container or a client on the host.
type (
	mysqlDBModule    struct{}
	mysqlUserModule  struct{}
	mysqlQueryModule struct{}
)

func init() {
	Register(mysqlDBModule{}, "mysql_db", "community.mysql.mysql_db")
	Register(mysqlUserModule{}, "mysql_user", "community.mysql.mysql_user")
	Register(mysqlQueryModule{}, "mysql_query", "community.mysql.mysql_query")
}

// mysqlConnectTimeout bounds the connection and the server's handshake.
const mysqlConnectTimeout = 30 * time.Second

// mysqlBound says when err is the call's bound running out.
func mysqlBound(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (no answer within %s)", err, mysqlCallTimeout)
	}
	return err
}

// mysqlCallTimeout bounds one module call, statements included: a server
// that accepts and then stops answering (a backend haproxy still holds, a
// node stuck in a state transfer) fails the task instead of hanging the run.
var mysqlCallTimeout = 5 * time.Minute

var mysqlLoginArgs = []string{"login_host", "login_port", "login_user", "login_password", "login_unix_socket", "connect_timeout"}

// mysqlLogin is where and as whom to connect.
type mysqlLogin struct {
	host, user, password, socket string
	port                         int
	timeout                      time.Duration
}

func readMysqlLogin(a *args) mysqlLogin {
	l := mysqlLogin{
		host:     a.str("localhost", "login_host"),
		port:     a.integer(3306, "login_port"),
		user:     a.str("root", "login_user"),
		password: a.str("", "login_password"),
		socket:   a.str("", "login_unix_socket"),
		timeout:  time.Duration(a.integer(int(mysqlConnectTimeout/time.Second), "connect_timeout")) * time.Second,
	}
	return l
}

// addr is the server's address as the host sees it, for messages.
func (l mysqlLogin) addr() string {
	if l.socket != "" {
		return l.socket
	}
	return net.JoinHostPort(l.host, strconv.Itoa(l.port))
}

// open connects to the server as user/password through t's host. Statements
// are interpolated client-side (the driver escapes values), so every
// statement, DDL included, takes ? placeholders.
func (t *Task) openMysql(ctx context.Context, l mysqlLogin, user, password string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = user, password
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(l.host, strconv.Itoa(l.port))
	if l.socket != "" {
		cfg.Net, cfg.Addr = "unix", l.socket
	}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return t.Conn.Dial(ctx, network, addr)
	}
	// No read/write timeouts: an SSH channel has no deadlines, and the
	// driver fails on the first one it sets. The task's ctx bounds queries.
	cfg.Timeout = l.timeout
	cfg.InterpolateParams = true
	cfg.Logger = &mysql.NopLogger{} // errors are returned, not printed
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	pctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// connectMysql opens the login connection, with an error saying where from
// and what to check.
func (t *Task) connectMysql(ctx context.Context, module string, l mysqlLogin) (*sql.DB, error) {
	db, err := t.openMysql(ctx, l, l.user, l.password)
	if err != nil {
		return nil, fmt.Errorf("%s: host %s: connect to MySQL at %s as %s: %w (check login_host/login_port and that the server runs and lets %s in from this host)",
			module, t.Host, l.addr(), l.user, redact(err, l.password), l.user)
	}
	return db, nil
}

// redact removes secret from an error's text (a server's syntax error quotes
// the statement) and keeps the MySQL error number for errors.As.
func redact(err error, secrets ...string) error {
	scrub := func(s string) string {
		for _, secret := range secrets {
			if secret != "" {
				s = strings.ReplaceAll(s, secret, "********")
			}
		}
		return s
	}
	msg := err.Error()
	if scrub(msg) == msg {
		return err
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return &mysql.MySQLError{Number: me.Number, SQLState: me.SQLState, Message: scrub(me.Message)}
	}
	return errors.New(scrub(msg))
}

// quoteIdent quotes a MySQL identifier (a database name).
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func (mysqlDBModule) Args() (accepted, required []string) {
	return append([]string{"name", "state", "encoding", "collation"}, mysqlLoginArgs...), []string{"name"}
}

func (mysqlDBModule) Run(ctx context.Context, t *Task) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, mysqlCallTimeout)
	defer cancel()
	a := newArgs(t.Args)
	names := a.list("name")
	state := a.choice("present", "state", "present", "absent")
	encoding := a.str("", "encoding")
	collation := a.str("", "collation")
	l := readMysqlLogin(a)
	if len(names) == 0 {
		a.bad("name is empty")
	}
	if err := a.err("mysql_db"); err != nil {
		return Result{}, err
	}
	db, err := t.connectMysql(ctx, "mysql_db", l)
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	var changed []any
	for _, n := range names {
		var found string
		err := db.QueryRowContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", n).Scan(&found)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return Result{}, fmt.Errorf("mysql_db: host %s: look up database %s: %w", t.Host, n, err)
		}
		var stmt string
		switch {
		case state == "present" && !exists:
			stmt = "CREATE DATABASE " + quoteIdent(n)
			if encoding != "" {
				stmt += " CHARACTER SET " + quoteIdent(encoding)
			}
			if collation != "" {
				stmt += " COLLATE " + quoteIdent(collation)
			}
		case state == "absent" && exists:
			stmt = "DROP DATABASE " + quoteIdent(n)
		default:
			continue
		}
		changed = append(changed, n)
		if _, err := t.change(stmt, func() error {
			_, err := db.ExecContext(ctx, stmt)
			return err
		}); err != nil {
			return Result{}, fmt.Errorf("mysql_db: host %s: %s: %w", t.Host, stmt, err)
		}
	}
	return Result{Changed: len(changed) > 0, Data: map[string]any{"db": strings.Join(names, ","), "db_list": anyList(names), "changed_dbs": changed}}, nil
}

func (mysqlUserModule) Args() (accepted, required []string) {
	return append([]string{"name", "user", "password", "host", "priv", "append_privs", "state", "update_password"}, mysqlLoginArgs...), []string{"name|user"}
}

// privileges are wanted or granted privileges: object ("db.*", "*.*",
// "db.table", unquoted) → privilege names, upper case, "ALL" for all and
// "GRANT" for WITH GRANT OPTION.
type privileges map[string]map[string]bool

// parsePriv reads Ansible's priv: "db.*:ALL,GRANT/other.*:SELECT" or a dict
// {"db.*": "ALL"}.
func parsePriv(v any) (privileges, error) {
	out := privileges{}
	add := func(obj, privs string) error {
		obj = strings.TrimSpace(obj)
		if !strings.Contains(obj, ".") {
			return fmt.Errorf("%q: the object must be db.table, db.* or *.*", obj)
		}
		set := map[string]bool{}
		for _, p := range strings.Split(privs, ",") {
			p = strings.ToUpper(strings.Join(strings.Fields(p), " "))
			switch p {
			case "":
				continue
			case "ALL PRIVILEGES":
				p = "ALL"
			}
			set[p] = true
		}
		if len(set) == 0 {
			return fmt.Errorf("%q: no privileges given", obj)
		}
		out[normObject(obj)] = set
		return nil
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if strings.TrimSpace(x) == "" { // priv: "" is priv not given, not "revoke everything"
			return nil, nil
		}
		for _, part := range strings.Split(x, "/") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			i := strings.LastIndex(part, ":")
			if i < 0 {
				return nil, fmt.Errorf("%q: want db.table:PRIV[,PRIV]", part)
			}
			if err := add(part[:i], part[i+1:]); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k, p := range x {
			if err := add(k, fmt.Sprint(p)); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("want a string or a dict, got %T", v)
	}
	return out, nil
}

// normObject drops identifier quotes: "`db`.*" and "db.*" are one object.
func normObject(obj string) string { return strings.ReplaceAll(strings.TrimSpace(obj), "`", "") }

// grantObject quotes an object for GRANT/REVOKE: db.* → `db`.*.
func grantObject(obj string) string {
	db, table, _ := strings.Cut(obj, ".")
	q := func(s string) string {
		if s == "*" {
			return s
		}
		return quoteIdent(s)
	}
	return q(db) + "." + q(table)
}

var grantLine = regexp.MustCompile("^GRANT (.+?) ON (.+?) TO .*?( WITH GRANT OPTION)?$")

// parseGrants reads SHOW GRANTS output. "GRANT USAGE ON *.*" (no privileges)
// and PROXY grants are left out.
func parseGrants(lines []string) privileges {
	out := privileges{}
	for _, l := range lines {
		m := grantLine.FindStringSubmatch(l)
		if m == nil || strings.HasPrefix(m[1], "PROXY") {
			continue
		}
		obj := normObject(m[2])
		set := map[string]bool{}
		for _, p := range splitPrivs(m[1]) {
			if p == "ALL PRIVILEGES" {
				p = "ALL"
			}
			set[p] = true
		}
		if m[3] != "" {
			set["GRANT"] = true
		}
		if len(set) == 1 && set["USAGE"] {
			continue
		}
		delete(set, "USAGE")
		out[obj] = set
	}
	return out
}

// splitPrivs splits "SELECT, INSERT (a, b), UPDATE" at top-level commas.
func splitPrivs(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// privChange is one GRANT or REVOKE on one object.
type privChange struct {
	revoke      bool
	privs       []string // for a revoke: ALL PRIVILEGES and/or GRANT OPTION
	obj         string
	grantOption bool // GRANT ... WITH GRANT OPTION
}

// sql is the statement for account (a quoted 'user'@'host' or "?@?").
func (c privChange) sql(account string) string {
	if c.revoke {
		return "REVOKE " + strings.Join(c.privs, ", ") + " ON " + grantObject(c.obj) + " FROM " + account
	}
	s := "GRANT " + strings.Join(c.privs, ", ") + " ON " + grantObject(c.obj) + " TO " + account
	if c.grantOption {
		s += " WITH GRANT OPTION"
	}
	return s
}

// privChanges are the statements that take have to want. Without
// appendPrivs, privileges not in want are revoked, as Ansible does.
func privChanges(have, want privileges, appendPrivs bool) []privChange {
	var out []privChange
	objs := make([]string, 0, len(want)+len(have))
	for o := range want {
		objs = append(objs, o)
	}
	for o := range have {
		if _, ok := want[o]; !ok {
			objs = append(objs, o)
		}
	}
	sort.Strings(objs)
	revokeAll := func(o string) privChange {
		c := privChange{revoke: true, obj: o}
		for p := range have[o] {
			if p != "GRANT" {
				c.privs = []string{"ALL PRIVILEGES"}
			}
		}
		if have[o]["GRANT"] {
			c.privs = append(c.privs, "GRANT OPTION")
		}
		return c
	}
	for _, o := range objs {
		w, h := want[o], have[o]
		if w == nil {
			if !appendPrivs {
				out = append(out, revokeAll(o))
			}
			continue
		}
		extra := false
		for p := range h {
			if !w[p] {
				extra = true
			}
		}
		var add []string
		for p := range w {
			// After a revoke everything wanted is granted again: revoking a
			// part of ALL cannot be expressed.
			if p != "GRANT" && (!h[p] || (extra && !appendPrivs)) {
				add = append(add, p)
			}
		}
		sort.Strings(add)
		grantOpt := w["GRANT"] && (!h["GRANT"] || (extra && !appendPrivs))
		if extra && !appendPrivs {
			out = append(out, revokeAll(o))
		}
		if len(add) == 0 && grantOpt {
			add = []string{"USAGE"}
		}
		if len(add) > 0 {
			out = append(out, privChange{obj: o, privs: add, grantOption: grantOpt})
		}
	}
	return out
}

// nativeHash is mysql_native_password's stored form of password.
func nativeHash(password string) string {
	a := sha1.Sum([]byte(password))
	b := sha1.Sum(a[:])
	return "*" + strings.ToUpper(hex.EncodeToString(b[:]))
}

func (mysqlUserModule) Run(ctx context.Context, t *Task) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, mysqlCallTimeout)
	defer cancel()
	a := newArgs(t.Args)
	name := a.str("", "name", "user")
	hasPassword := a.has("password")
	password := a.str("", "password")
	// Ansible's default is localhost; kolla-ansible always passes host, and
	// its services connect from other hosts, so % is the useful default.
	host := a.str("%", "host")
	state := a.choice("present", "state", "present", "absent")
	appendPrivs := a.boolean(false, "append_privs")
	updatePassword := a.choice("always", "update_password", "always", "on_create")
	l := readMysqlLogin(a)
	var want privileges
	if v, _, ok := a.get("priv"); ok {
		var err error
		if want, err = parsePriv(v); err != nil {
			a.bad("priv: %v", err)
		}
	}
	if name == "" {
		a.bad("name is empty")
	}
	if err := a.err("mysql_user"); err != nil {
		return Result{}, err
	}
	account := "?@?"
	who := fmt.Sprintf("'%s'@'%s'", name, host)
	fail := func(what string, err error) (Result, error) {
		return Result{}, fmt.Errorf("mysql_user %s: host %s: %s: %w", who, t.Host, what, redact(err, password, l.password))
	}
	db, err := t.connectMysql(ctx, "mysql_user", l)
	if err != nil {
		return Result{}, err
	}
	defer db.Close()

	var plugin, authString string
	err = db.QueryRowContext(ctx, "SELECT plugin, authentication_string FROM mysql.user WHERE User = ? AND Host = ?", name, host).Scan(&plugin, &authString)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fail("look up the user", err)
	}
	r := Result{Data: map[string]any{"user": name, "host": host}}
	var todo []string // what would be done, for the message
	exec := func(stmt string, args ...any) error {
		_, err := t.change(stmt, func() error {
			_, err := db.ExecContext(ctx, stmt, args...)
			return err
		})
		return err
	}

	if state == "absent" {
		if !exists {
			r.Msg = "User doesn't exist"
			return r, nil
		}
		if err := exec("DROP USER "+account, name, host); err != nil {
			return fail("drop user", err)
		}
		r.Changed, r.Msg = true, "User deleted"
		return r, nil
	}

	if !exists {
		if hasPassword {
			err = exec("CREATE USER "+account+" IDENTIFIED BY ?", name, host, password)
		} else {
			err = exec("CREATE USER "+account, name, host)
		}
		if err != nil {
			return fail("create user", err)
		}
		todo = append(todo, "created")
	} else if hasPassword && updatePassword == "always" {
		same, err := t.mysqlPasswordMatches(ctx, l, name, password, plugin, authString)
		if err != nil {
			return fail("check the password", err)
		}
		if !same {
			if err := exec("ALTER USER "+account+" IDENTIFIED BY ?", name, host, password); err != nil {
				return fail("set the password", err)
			}
			todo = append(todo, "password changed")
		}
	}

	if want != nil {
		have := privileges{}
		if exists {
			rows, err := db.QueryContext(ctx, "SHOW GRANTS FOR "+account, name, host)
			if err != nil {
				return fail("show grants", err)
			}
			var grants []string
			for rows.Next() {
				var g string
				if err := rows.Scan(&g); err != nil {
					rows.Close()
					return fail("show grants", err)
				}
				grants = append(grants, g)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fail("show grants", err)
			}
			have = parseGrants(grants)
		}
		changes := privChanges(have, want, appendPrivs)
		for _, c := range changes {
			if err := exec(c.sql(account), name, host); err != nil {
				return fail(c.sql(who), err)
			}
		}
		if len(changes) > 0 {
			todo = append(todo, "privileges changed")
		}
	}
	r.Changed = len(todo) > 0
	if r.Changed {
		r.Msg = "User " + strings.Join(todo, ", ")
	} else {
		r.Msg = "User unchanged"
	}
	return r, nil
}

// mysqlPasswordMatches reports whether the user's stored password is
// password: by hash for mysql_native_password (MariaDB's default), else
// (salted plugins such as caching_sha2_password) by logging in as the user.
func (t *Task) mysqlPasswordMatches(ctx context.Context, l mysqlLogin, name, password, plugin, authString string) (bool, error) {
	switch plugin {
	case "mysql_native_password", "":
		if password == "" {
			return authString == "", nil
		}
		return strings.EqualFold(authString, nativeHash(password)), nil
	}
	db, err := t.openMysql(ctx, l, name, password)
	if err == nil {
		db.Close()
		return true, nil
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1045 { // access denied
		return false, nil
	}
	return false, err
}

func (mysqlQueryModule) Args() (accepted, required []string) {
	return append([]string{"query", "positional_args", "named_args", "login_db", "single_transaction"}, mysqlLoginArgs...), []string{"query"}
}

// readOnlyQuery matches statements that return rows and change nothing.
var readOnlyQuery = regexp.MustCompile(`(?i)^\s*(SELECT|SHOW|DESCRIBE|DESC|EXPLAIN)\b`)

func (mysqlQueryModule) Run(ctx context.Context, t *Task) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, mysqlCallTimeout)
	defer cancel()
	a := newArgs(t.Args)
	var queries []string
	switch q := t.Args["query"].(type) {
	case string:
		queries = []string{q}
	default:
		queries = a.list("query")
	}
	var params []any
	if v, ok := t.Args["positional_args"].([]any); ok {
		params = v
	}
	if _, ok := t.Args["named_args"]; ok {
		a.bad("named_args: not supported; use positional_args with %%s placeholders")
	}
	loginDB := a.str("", "login_db")
	l := readMysqlLogin(a)
	if err := a.err("mysql_query"); err != nil {
		return Result{}, err
	}
	for _, q := range queries {
		if !readOnlyQuery.MatchString(q) {
			if skip, ok := t.unpredictable("check mode: mysql_query does not run statements that may change data"); !ok {
				return skip, nil
			}
		}
	}
	db, err := t.connectMysql(ctx, "mysql_query", l)
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	if loginDB != "" {
		if _, err := db.ExecContext(ctx, "USE "+quoteIdent(loginDB)); err != nil {
			return Result{}, fmt.Errorf("mysql_query: host %s: use %s: %w", t.Host, loginDB, err)
		}
	}
	var results, counts []any
	changed := false
	for i, q := range queries {
		// Ansible's mysql_query takes %s placeholders (PyMySQL's style) and
		// applies positional_args to every query that has them.
		stmt, args := q, params
		if strings.Contains(q, "%s") {
			stmt = strings.ReplaceAll(q, "%s", "?")
		} else {
			args = nil
		}
		if readOnlyQuery.MatchString(stmt) {
			rows, err := queryRows(ctx, db, stmt, args...)
			if err != nil {
				return Result{}, fmt.Errorf("mysql_query: host %s: query %d: %w", t.Host, i+1, mysqlBound(ctx, err))
			}
			results = append(results, rows)
			counts = append(counts, len(rows))
			continue
		}
		res, err := db.ExecContext(ctx, stmt, args...)
		if err != nil {
			return Result{}, fmt.Errorf("mysql_query: host %s: query %d: %w", t.Host, i+1, mysqlBound(ctx, err))
		}
		n, _ := res.RowsAffected()
		if n > 0 {
			changed = true
		}
		results = append(results, []any{})
		counts = append(counts, int(n))
	}
	return Result{Changed: changed, Data: map[string]any{"query_result": results, "rowcount": counts, "executed_queries": anyList(queries)}}, nil
}

// queryRows returns rows as column name → value (strings; NULL as nil).
func queryRows(ctx context.Context, db *sql.DB, q string, args ...any) ([]any, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := []any{}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := map[string]any{}
		for i, c := range cols {
			if vals[i].Valid {
				row[c] = vals[i].String
			} else {
				row[c] = nil
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}
