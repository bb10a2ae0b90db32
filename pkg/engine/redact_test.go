package engine

import (
	"strings"
	"testing"

	"github.com/koala-stack/koala/pkg/modules"
)

func TestRedactor(t *testing.T) {
	x := newRedactor(SecretValues(map[string]any{
		"short":   "abc", // too short: left alone
		"outer":   "secretvalue-and-more",
		"inner":   "secretvalue",
		"quoted":  `pa"ss\word`,
		"ssh_key": map[string]any{"private_key": "-----BEGIN-----\nKEYLINEKEYLINE\n-----END-----", "public_key": "ssh-ed25519 AAAAPUBLIC"},
		"empty":   "",
	}))
	for in, want := range map[string]string{
		"x secretvalue-and-more y":    "x ******** y", // whole, not "********-and-more"
		"x secretvalue y":             "x ******** y",
		"abc stays":                   "abc stays",
		`{"pw":"pa\"ss\\word"}`:       `{"pw":"********"}`,
		"line: KEYLINEKEYLINE":        "line: ********",
		"pa%22ss%5Cword in a URL":     "******** in a URL",
		"nothing to hide here at all": "nothing to hide here at all",
	} {
		if got := x.str(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
	ev := &HostResult{Task: "t", Msg: "secretvalue", Stdout: "out secretvalue", Stderr: "err secretvalue",
		Diff:  []modules.Diff{{Path: "/p", Before: "a", After: "b secretvalue"}},
		Items: []ItemResult{{Label: "secretvalue", Msg: "secretvalue"}},
		Debug: map[string]any{"k": []any{"secretvalue", 3}}}
	got := x.event(ev).(*HostResult)
	for _, s := range []string{got.Msg, got.Stdout, got.Stderr, got.Diff[0].After, got.Items[0].Label, got.Items[0].Msg, got.Debug.(map[string]any)["k"].([]any)[0].(string)} {
		if strings.Contains(s, "secretvalue") || !strings.Contains(s, Redacted) {
			t.Errorf("not redacted: %q", s)
		}
	}
	if ev.Msg != "secretvalue" || ev.Diff[0].After != "b secretvalue" {
		t.Error("the engine's own event was modified")
	}
	if newRedactor([]string{"", "abc"}) != nil {
		t.Error("a redactor with nothing to redact")
	}
}
