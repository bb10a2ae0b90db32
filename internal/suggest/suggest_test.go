package suggest

import "testing"

func TestNearest(t *testing.T) {
	words := []string{"become", "become_user", "when", "loop"}
	for _, c := range []struct {
		in, want string
		limit    int
	}{
		{"becom", "become", 3},
		{"wehn", "when", 3},
		{"delegate_to", "", 3},
		{"become_usr", "become_user", 3},
	} {
		if got := Nearest(c.in, words, c.limit); got != c.want {
			t.Errorf("Nearest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if d := Distance("kitten", "sitting"); d != 3 {
		t.Errorf("Distance(kitten, sitting) = %d, want 3", d)
	}
}
