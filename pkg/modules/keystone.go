package modules

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/domains"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/endpoints"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/regions"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/services"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"
)

// keystoneRegister is kolla-ansible's service-ks-register role in one task:
// a service's catalog entry and endpoints, its projects, users and their
// role assignments, created or corrected through the Identity v3 API
// (gophercloud), idempotently. Keystone is reached through the host's
// connection, so the deploy host needs no route to the internal network.
type keystoneRegister struct{}

func init() {
	Register(keystoneRegister{}, "keystone_register")
}

// keystoneRequestTimeout bounds one API request.
const keystoneRequestTimeout = 60 * time.Second

func (keystoneRegister) Args() (accepted, required []string) {
	return []string{"auth", "region_name", "region", "services", "users", "roles", "domain", "cacert", "validate_certs"}, []string{"auth"}
}

// ksAuth is the auth dict, as os_* modules and clouds.yaml spell it.
type ksAuth struct {
	url, username, password, project     string
	userDomain, projectDomain, domainAll string
}

type ksEndpoint struct{ iface, url string }

type ksService struct {
	name, typ, description string
	endpoints              []ksEndpoint
}

type ksUser struct {
	project, user, password string
	roles                   []string
}

// ksRequest is a keystone_register task's parsed arguments.
type ksRequest struct {
	auth     ksAuth
	region   string
	domain   string
	services []ksService
	users    []ksUser
	roles    []string
	cacert   []string
	verify   bool
}

func parseKeystoneArgs(m map[string]any) (ksRequest, error) {
	a := newArgs(m)
	req := ksRequest{
		region: a.str("RegionOne", "region_name", "region"),
		domain: a.str("Default", "domain"),
		roles:  a.list("roles"),
		cacert: a.list("cacert"),
		verify: a.boolean(true, "validate_certs"),
	}
	auth, ok := m["auth"].(map[string]any)
	if !ok {
		a.bad("auth: want a dict with auth_url, username, password, project_name, got %T", m["auth"])
	} else {
		aa := newArgs(auth)
		req.auth = ksAuth{
			url:      aa.str("", "auth_url"),
			username: aa.str("", "username"),
			password: aa.str("", "password"),
			project:  aa.str("", "project_name"),
		}
		dom := aa.str("Default", "domain_name")
		req.auth.userDomain = aa.str(dom, "user_domain_name")
		req.auth.projectDomain = aa.str(dom, "project_domain_name")
		for _, k := range []string{"auth_url", "username", "password", "project_name"} {
			if !aa.has(k) || aa.str("", k) == "" {
				a.bad("auth.%s is missing", k)
			}
		}
		a.errs = append(a.errs, aa.errs...)
	}
	for i, s := range listOfDicts(a, "services") {
		sa := newArgs(s)
		svc := ksService{name: sa.str("", "name"), typ: sa.str("", "type"), description: sa.str("", "description")}
		if svc.name == "" || svc.typ == "" {
			a.bad("services[%d]: name and type are required", i)
		}
		for j, e := range listOfDicts(sa, "endpoints") {
			ea := newArgs(e)
			ep := ksEndpoint{iface: ea.choice("", "interface", "public", "internal", "admin"), url: ea.str("", "url")}
			if ep.url == "" {
				a.bad("services[%d].endpoints[%d]: url is required", i, j)
			}
			a.errs = append(a.errs, ea.errs...)
			svc.endpoints = append(svc.endpoints, ep)
		}
		a.errs = append(a.errs, sa.errs...)
		req.services = append(req.services, svc)
	}
	for i, u := range listOfDicts(a, "users") {
		ua := newArgs(u)
		usr := ksUser{project: ua.str("", "project"), user: ua.str("", "user", "name"), password: ua.str("", "password"), roles: ua.list("role", "roles")}
		if usr.user == "" || usr.project == "" {
			a.bad("users[%d]: user and project are required", i)
		}
		a.errs = append(a.errs, ua.errs...)
		req.users = append(req.users, usr)
	}
	return req, a.err("keystone_register")
}

// listOfDicts reads a list of dicts argument.
func listOfDicts(a *args, name string) []map[string]any {
	v, _, ok := a.get(name)
	if !ok {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		a.bad("%s: want a list of dicts, got %T", name, v)
		return nil
	}
	var out []map[string]any
	for i, e := range l {
		d, ok := e.(map[string]any)
		if !ok {
			a.bad("%s[%d]: want a dict, got %T", name, i, e)
			continue
		}
		out = append(out, d)
	}
	return out
}

// keystoneHTTPClient sends requests through the host's connection.
func (t *Task) keystoneHTTPClient(cacert []string, verify bool) (*http.Client, error) {
	tlsCfg := &tls.Config{InsecureSkipVerify: !verify} // validate_certs: false, as the operator asked
	pool, err := caPool(cacert)
	if err != nil {
		return nil, fmt.Errorf("cacert: %w", err)
	}
	tlsCfg.RootCAs = pool
	return &http.Client{
		Timeout: keystoneRequestTimeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return t.Conn.Dial(ctx, "tcp", addr)
			},
			TLSClientConfig:     tlsCfg,
			TLSHandshakeTimeout: 30 * time.Second,
			MaxIdleConnsPerHost: 4,
		},
	}, nil
}

// ks is one registration run: the admin's identity client and what changed.
type ks struct {
	host    string
	client  *gophercloud.ServiceClient
	http    *http.Client
	authURL string
	gate    *Task // every create and update goes through its change
	created []any
	updated []any
}

// change creates (or, created false, updates) what through the gate and
// lists it; in check mode apply does not run, so an object made by apply
// keeps its zero value (an ID stays checkID).
func (k *ks) change(created bool, what string, apply func() error) error {
	s, err := k.gate.change(what, apply)
	if err != nil {
		return err
	}
	if created {
		k.created = append(k.created, s)
	} else {
		k.updated = append(k.updated, s)
	}
	return nil
}

func (keystoneRegister) Run(ctx context.Context, t *Task) (Result, error) {
	req, err := parseKeystoneArgs(t.Args)
	if err != nil {
		return Result{}, err
	}
	hc, err := t.keystoneHTTPClient(req.cacert, req.verify)
	if err != nil {
		return Result{}, fmt.Errorf("keystone_register: %w", err)
	}
	defer hc.CloseIdleConnections()
	fail := func(err error) (Result, error) {
		return Result{}, fmt.Errorf("keystone_register: host %s, Keystone at %s: %w", t.Host, req.auth.url, err)
	}
	pc, err := openstack.NewClient(req.auth.url)
	if err != nil {
		return fail(err)
	}
	pc.HTTPClient = *hc
	err = openstack.AuthenticateV3(ctx, pc, &gophercloud.AuthOptions{
		IdentityEndpoint: req.auth.url,
		Username:         req.auth.username,
		Password:         req.auth.password,
		DomainName:       req.auth.userDomain,
		Scope:            &gophercloud.AuthScope{ProjectName: req.auth.project, DomainName: req.auth.projectDomain},
	}, gophercloud.EndpointOpts{})
	if err != nil {
		return fail(fmt.Errorf("log in as %s (project %s): %w", req.auth.username, req.auth.project, err))
	}
	// The identity API at auth_url itself, not the catalog's entry, which
	// may not be reachable (or even exist) yet.
	client, err := openstack.NewIdentityV3(pc, gophercloud.EndpointOpts{})
	if err != nil {
		return fail(err)
	}
	k := &ks{host: t.Host, client: client, http: hc, authURL: req.auth.url, gate: t}
	if err := k.register(ctx, req); err != nil {
		return fail(err)
	}
	return Result{
		Changed: len(k.created)+len(k.updated) > 0,
		Data:    map[string]any{"created": nonNil(k.created), "updated": nonNil(k.updated)},
	}, nil
}

func nonNil(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

func (k *ks) register(ctx context.Context, req ksRequest) error {
	if len(req.services) > 0 {
		if err := k.ensureRegion(ctx, req.region); err != nil {
			return err
		}
	}
	for _, s := range req.services {
		if err := k.ensureService(ctx, s, req.region); err != nil {
			return err
		}
	}
	if len(req.users) == 0 && len(req.roles) == 0 {
		return nil
	}
	domainID, err := k.domainID(ctx, req.domain)
	if err != nil {
		return err
	}
	// Roles: the ones asked for and the ones users are given.
	roleNames := append([]string{}, req.roles...)
	for _, u := range req.users {
		roleNames = append(roleNames, u.roles...)
	}
	roleIDs := map[string]string{}
	for _, r := range roleNames {
		if _, done := roleIDs[r]; done {
			continue
		}
		if roleIDs[r], err = k.ensureRole(ctx, r); err != nil {
			return err
		}
	}
	projectIDs := map[string]string{}
	for _, u := range req.users {
		pid, done := projectIDs[u.project]
		if !done {
			if pid, err = k.ensureProject(ctx, u.project, domainID); err != nil {
				return err
			}
			projectIDs[u.project] = pid
		}
		uid, err := k.ensureUser(ctx, u, domainID)
		if err != nil {
			return err
		}
		for _, r := range u.roles {
			if err := k.ensureAssignment(ctx, u, uid, pid, r, roleIDs[r]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (k *ks) ensureRegion(ctx context.Context, id string) error {
	err := regions.Get(ctx, k.client, id).Err
	switch {
	case err == nil:
		return nil
	case !gophercloud.ResponseCodeIs(err, http.StatusNotFound):
		return fmt.Errorf("look up region %s: %w", id, err)
	}
	return k.change(true, "create region "+id, func() error {
		if _, err := regions.Create(ctx, k.client, regions.CreateOpts{ID: id}).Extract(); err != nil {
			return fmt.Errorf("create region %s: %w", id, err)
		}
		return nil
	})
}

func (k *ks) ensureService(ctx context.Context, s ksService, region string) error {
	pages, err := services.List(k.client, services.ListOpts{ServiceType: s.typ}).AllPages(ctx)
	if err != nil {
		return fmt.Errorf("list services of type %s: %w", s.typ, err)
	}
	all, err := services.ExtractServices(pages)
	if err != nil {
		return fmt.Errorf("list services of type %s: %w", s.typ, err)
	}
	var svc *services.Service
	for i := range all {
		if all[i].Name == s.name {
			svc = &all[i]
			break
		}
	}
	switch {
	case svc == nil:
		err := k.change(true, fmt.Sprintf("create service %s (%s)", s.name, s.typ), func() error {
			created, err := services.Create(ctx, k.client, services.CreateOpts{Name: s.name, Type: s.typ, Description: s.description}).Extract()
			if err != nil {
				return fmt.Errorf("create service %s (%s): %w", s.name, s.typ, err)
			}
			svc = created
			return nil
		})
		if err != nil {
			return err
		}
	case s.description != "" && svc.Description != s.description:
		err := k.change(false, "update service "+s.name+" description", func() error {
			if _, err := services.Update(ctx, k.client, svc.ID, services.UpdateOpts{Description: &s.description}).Extract(); err != nil {
				return fmt.Errorf("update service %s: %w", s.name, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(s.endpoints) == 0 {
		return nil
	}
	// A service check mode did not create has no endpoints yet.
	var have []endpoints.Endpoint
	if svc != nil {
		pages, err = endpoints.List(k.client, endpoints.ListOpts{ServiceID: svc.ID, RegionID: region}).AllPages(ctx)
		if err != nil {
			return fmt.Errorf("list endpoints of %s: %w", s.name, err)
		}
		if have, err = endpoints.ExtractEndpoints(pages); err != nil {
			return fmt.Errorf("list endpoints of %s: %w", s.name, err)
		}
	}
	for _, ch := range endpointChanges(have, s.endpoints) {
		var err error
		if ch.id == "" {
			err = k.change(true, fmt.Sprintf("create endpoint %s %s %s", s.name, ch.iface, ch.url), func() error {
				_, err := endpoints.Create(ctx, k.client, endpoints.CreateOpts{
					Availability: gophercloud.Availability(ch.iface), URL: ch.url, ServiceID: svc.ID, Region: region,
				}).Extract()
				if err != nil {
					return fmt.Errorf("create %s endpoint of %s: %w", ch.iface, s.name, err)
				}
				return nil
			})
		} else {
			err = k.change(false, fmt.Sprintf("update endpoint %s %s %s (was %s)", s.name, ch.iface, ch.url, ch.was), func() error {
				if _, err := endpoints.Update(ctx, k.client, ch.id, endpoints.UpdateOpts{URL: ch.url}).Extract(); err != nil {
					return fmt.Errorf("update %s endpoint of %s: %w", ch.iface, s.name, err)
				}
				return nil
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// endpointChange is one endpoint to create (id empty) or to point at url.
type endpointChange struct {
	id, iface, url, was string
}

// endpointChanges compares a service's endpoints in one region with the
// wanted ones: one endpoint per interface, as os_keystone_endpoint keeps.
func endpointChanges(have []endpoints.Endpoint, want []ksEndpoint) []endpointChange {
	byIface := map[string]endpoints.Endpoint{}
	// The oldest-listed endpoint of an interface is the one kept up to date.
	for i := len(have) - 1; i >= 0; i-- {
		byIface[string(have[i].Availability)] = have[i]
	}
	var out []endpointChange
	for _, w := range want {
		h, ok := byIface[w.iface]
		switch {
		case !ok:
			out = append(out, endpointChange{iface: w.iface, url: w.url})
		case h.URL != w.url:
			out = append(out, endpointChange{id: h.ID, iface: w.iface, url: w.url, was: h.URL})
		}
	}
	return out
}

func (k *ks) domainID(ctx context.Context, name string) (string, error) {
	pages, err := domains.List(k.client, domains.ListOpts{Name: name}).AllPages(ctx)
	if err != nil {
		return "", fmt.Errorf("look up domain %s: %w", name, err)
	}
	all, err := domains.ExtractDomains(pages)
	if err != nil {
		return "", fmt.Errorf("look up domain %s: %w", name, err)
	}
	if len(all) > 0 {
		return all[0].ID, nil
	}
	// Operators also write the domain's ID ("default") where a name goes.
	if d, err := domains.Get(ctx, k.client, name).Extract(); err == nil {
		return d.ID, nil
	}
	return "", fmt.Errorf("domain %s does not exist (keystone-manage bootstrap creates Default)", name)
}

// checkID stands for an object check mode did not create.
const checkID = ""

func (k *ks) ensureRole(ctx context.Context, name string) (string, error) {
	pages, err := roles.List(k.client, roles.ListOpts{Name: name}).AllPages(ctx)
	if err != nil {
		return "", fmt.Errorf("look up role %s: %w", name, err)
	}
	all, err := roles.ExtractRoles(pages)
	if err != nil {
		return "", fmt.Errorf("look up role %s: %w", name, err)
	}
	for _, r := range all {
		if r.Name == name && r.DomainID == "" {
			return r.ID, nil
		}
	}
	id := checkID
	err = k.change(true, "create role "+name, func() error {
		r, err := roles.Create(ctx, k.client, roles.CreateOpts{Name: name}).Extract()
		if err != nil {
			return fmt.Errorf("create role %s: %w", name, err)
		}
		id = r.ID
		return nil
	})
	return id, err
}

func (k *ks) ensureProject(ctx context.Context, name, domainID string) (string, error) {
	pages, err := projects.List(k.client, projects.ListOpts{Name: name, DomainID: domainID}).AllPages(ctx)
	if err != nil {
		return "", fmt.Errorf("look up project %s: %w", name, err)
	}
	all, err := projects.ExtractProjects(pages)
	if err != nil {
		return "", fmt.Errorf("look up project %s: %w", name, err)
	}
	if len(all) > 0 {
		return all[0].ID, nil
	}
	id := checkID
	err = k.change(true, "create project "+name, func() error {
		p, err := projects.Create(ctx, k.client, projects.CreateOpts{Name: name, DomainID: domainID}).Extract()
		if err != nil {
			return fmt.Errorf("create project %s: %w", name, err)
		}
		id = p.ID
		return nil
	})
	return id, err
}

func (k *ks) ensureUser(ctx context.Context, u ksUser, domainID string) (string, error) {
	pages, err := users.List(k.client, users.ListOpts{Name: u.user, DomainID: domainID}).AllPages(ctx)
	if err != nil {
		return "", fmt.Errorf("look up user %s: %w", u.user, err)
	}
	all, err := users.ExtractUsers(pages)
	if err != nil {
		return "", fmt.Errorf("look up user %s: %w", u.user, err)
	}
	if len(all) == 0 {
		id := checkID
		err := k.change(true, "create user "+u.user, func() error {
			created, err := users.Create(ctx, k.client, users.CreateOpts{Name: u.user, DomainID: domainID, Password: u.password}).Extract()
			if err != nil {
				return fmt.Errorf("create user %s: %w", u.user, err)
			}
			id = created.ID
			return nil
		})
		return id, err
	}
	uid := all[0].ID
	if u.password == "" {
		return uid, nil
	}
	ok, err := k.passwordWorks(ctx, uid, u.password)
	if err != nil {
		return "", fmt.Errorf("check the password of user %s: %w", u.user, err)
	}
	if !ok {
		err := k.change(false, "set the password of user "+u.user, func() error {
			if _, err := users.Update(ctx, k.client, uid, users.UpdateOpts{Password: u.password}).Extract(); err != nil {
				return fmt.Errorf("set the password of user %s: %w", u.user, err)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return uid, nil
}

// passwordWorks logs in as the user (an unscoped token): Keystone keeps
// only a salted hash, so a login is the only way to compare a password.
func (k *ks) passwordWorks(ctx context.Context, userID, password string) (bool, error) {
	pc, err := openstack.NewClient(k.authURL)
	if err != nil {
		return false, err
	}
	pc.HTTPClient = *k.http
	err = openstack.AuthenticateV3(ctx, pc, &gophercloud.AuthOptions{IdentityEndpoint: k.authURL, UserID: userID, Password: password}, gophercloud.EndpointOpts{})
	switch {
	case err == nil:
		return true, nil
	case gophercloud.ResponseCodeIs(err, http.StatusUnauthorized):
		return false, nil
	}
	return false, err
}

func (k *ks) ensureAssignment(ctx context.Context, u ksUser, userID, projectID, role, roleID string) error {
	if userID != checkID && projectID != checkID && roleID != checkID {
		pages, err := roles.ListAssignments(k.client, roles.ListAssignmentsOpts{UserID: userID, ScopeProjectID: projectID, RoleID: roleID}).AllPages(ctx)
		if err != nil {
			return fmt.Errorf("list role assignments of %s: %w", u.user, err)
		}
		have, err := roles.ExtractRoleAssignments(pages)
		if err != nil {
			return fmt.Errorf("list role assignments of %s: %w", u.user, err)
		}
		if len(have) > 0 {
			return nil
		}
	}
	return k.change(true, fmt.Sprintf("give user %s role %s on project %s", u.user, role, u.project), func() error {
		if err := roles.Assign(ctx, k.client, roleID, roles.AssignOpts{UserID: userID, ProjectID: projectID}).ExtractErr(); err != nil {
			return fmt.Errorf("give %s role %s on %s: %w", u.user, role, u.project, err)
		}
		return nil
	})
}
