package configmerge

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// YAMLSource is one YAML document and the name used in errors.
type YAMLSource struct {
	Name string
	Data []byte
}

// MergeYAML merges YAML documents recursively as kolla-ansible's merge_yaml
// does: mappings merge key by key, anything else (scalars, lists) in a later
// document replaces the earlier value. An empty document is skipped. The result
// is written with sorted keys so the same inputs give the same bytes.
func MergeYAML(sources ...YAMLSource) ([]byte, error) {
	var merged any
	for _, src := range sources {
		var doc any
		if err := yaml.Unmarshal(src.Data, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", src.Name, err)
		}
		if doc == nil {
			continue
		}
		merged = mergeValue(merged, doc)
	}
	if merged == nil {
		return nil, nil
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(merged); err != nil {
		return nil, fmt.Errorf("encode merged YAML: %w", err)
	}
	return out.Bytes(), enc.Close()
}

func mergeValue(base, over any) any {
	bm, ok1 := base.(map[string]any)
	om, ok2 := over.(map[string]any)
	if !ok1 || !ok2 {
		return over
	}
	out := make(map[string]any, len(bm)+len(om))
	for k, v := range bm {
		out[k] = v
	}
	for k, v := range om {
		out[k] = mergeValue(out[k], v)
	}
	return out
}
