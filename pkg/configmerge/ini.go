// Package configmerge merges service configuration the way kolla-ansible's
// merge_configs and merge_yaml action plugins do: a role's template first, then
// each override file from the config directory, later files winning.
package configmerge

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/ini.v1"
)

// INISource is one oslo.config-style INI document and the name used in errors.
type INISource struct {
	Name string
	Data []byte
}

var iniLoad = ini.LoadOptions{
	AllowShadows:               true, // oslo multi-valued options repeat the key
	AllowPythonMultilineValues: true,
	IgnoreInlineComment:        true, // "#" inside a value is data for oslo
	PreserveSurroundedQuote:    true,
	SkipUnrecognizableLines:    false,
	KeyValueDelimiters:         "=:",
}

// MergeINI merges oslo INI documents. Sections keep the order in which they
// first appear ([DEFAULT] first). A key set in a later document replaces every
// value the key had before in that section; a key repeated within one document
// keeps all its values (multi-valued options such as `[DEFAULT] transport_url`
// or `[keystone_authtoken] memcached_servers` lists). Comments are dropped, as
// kolla-ansible's merge_configs drops them, so the output depends only on the
// settings and is byte-identical for the same inputs.
func MergeINI(sources ...INISource) ([]byte, error) {
	type section struct {
		keys   []string
		values map[string][]string
	}
	var order []string
	sections := map[string]*section{}
	get := func(name string) *section {
		s, ok := sections[name]
		if !ok {
			s = &section{values: map[string][]string{}}
			sections[name] = s
			order = append(order, name)
		}
		return s
	}
	get(ini.DefaultSection)
	for _, src := range sources {
		f, err := ini.LoadSources(iniLoad, src.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: not an INI document: %w", src.Name, err)
		}
		for _, sec := range f.Sections() {
			dst := get(sec.Name())
			for _, k := range sec.Keys() {
				if _, seen := dst.values[k.Name()]; !seen {
					dst.keys = append(dst.keys, k.Name())
				}
				dst.values[k.Name()] = k.ValueWithShadows()
			}
		}
	}
	var out bytes.Buffer
	for _, name := range order {
		s := sections[name]
		if name == ini.DefaultSection && len(s.keys) == 0 {
			continue
		}
		if out.Len() > 0 {
			out.WriteByte('\n')
		}
		fmt.Fprintf(&out, "[%s]\n", name)
		for _, k := range s.keys {
			for _, v := range s.values[k] {
				// A multi-line value continues on indented lines, as oslo reads it.
				fmt.Fprintf(&out, "%s = %s\n", k, strings.ReplaceAll(v, "\n", "\n    "))
			}
		}
	}
	return out.Bytes(), nil
}
