package signin

import (
	"encoding/json"
	"testing"
)

// The amr claim reaches the audit log only as plain method names, and a
// claim of an unexpected shape neither fails the sign-in nor shows.
func TestAMRForTheAuditLog(t *testing.T) {
	for _, tc := range []struct{ claims, want string }{
		{`{"amr":["pwd","mfa"]}`, "pwd,mfa"},
		{`{"amr":"ngcmfa"}`, "ngcmfa"},
		{`{"amr":{"x":1}}`, ""},
		{`{"name":"x"}`, ""},
		{`{"amr":["pwd","<script>","a b","rsa"]}`, "pwd,rsa"},
	} {
		var id identity
		if err := json.Unmarshal([]byte(`{"tid":"t","oid":"o",`+tc.claims[1:]), &id); err != nil {
			t.Fatalf("%s: the claims do not decode: %v", tc.claims, err)
		}
		if got := id.methods(); got != tc.want {
			t.Errorf("%s: methods() = %q, want %q", tc.claims, got, tc.want)
		}
	}
}
