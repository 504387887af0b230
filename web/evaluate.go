package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v4"

	"postern/internal/posture"
)

// maxEvaluateBody is the largest request body the enforcement API reads.
const maxEvaluateBody = 64 << 10

// EvaluateRequest is the enforcement API's body (docs/design.md#enforcement-api).
type EvaluateRequest struct {
	Device *EvaluateDevice `json:"device"`
}

// EvaluateDevice identifies a device and carries what it reports about
// itself.
type EvaluateDevice struct {
	DefenderMachineID string `json:"defender_machine_id"`
	AADDeviceID       string `json:"aad_device_id"`
	Hostname          string `json:"hostname"`
	OS                string `json:"os"`
	OSVersion         string `json:"os_version"`
	Firewall          *bool  `json:"firewall"`
	DiskEncrypted     *bool  `json:"disk_encrypted"`
	ClientVersion     string `json:"client_version"`
}

// EvaluateResponse is the answer (docs/design.md#enforcement-api).
type EvaluateResponse struct {
	Allowed     bool            `json:"allowed"`
	Device      EvaluatedDevice `json:"device"`
	Checks      []EvaluatedItem `json:"checks"`
	EvaluatedAt string          `json:"evaluated_at"`
	// ValidUntil is the earliest moment the same data could give another
	// verdict; absent when nothing would move it (docs/api.md#valid-until).
	ValidUntil string `json:"valid_until,omitempty"`
}

// EvaluatedDevice says which machine matched and by which key.
type EvaluatedDevice struct {
	DefenderMachineID string `json:"defender_machine_id,omitempty"`
	MatchedBy         string `json:"matched_by"`
}

// EvaluatedItem is one check's verdict.
type EvaluatedItem struct {
	ID      int64    `json:"id"`
	Name    string   `json:"name"`
	Mode    string   `json:"mode"`
	Result  string   `json:"result"`
	Reasons []string `json:"reasons"`
}

// errBodyTooLarge marks a body over the limit (413).
var errBodyTooLarge = errors.New("body too large")

// evaluateJSON decodes the body strictly: member names match exactly,
// unknown and repeated names are refused (a repeated name read one way
// here and another by a proxy in front would be a way around a check), and
// so is invalid UTF-8.
var evaluateJSON = jsonv2.JoinOptions(jsonv2.RejectUnknownMembers(true))

// DecodeEvaluateRequest reads and checks the body strictly: unknown or
// repeated fields, names in another case, trailing data, over-long values
// and a missing identifier are refused with a message the gateway's
// operator can act on.
func DecodeEvaluateRequest(r io.Reader) (posture.Request, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxEvaluateBody+1))
	if err != nil {
		return posture.Request{}, fmt.Errorf("the body could not be read")
	}
	if len(body) > maxEvaluateBody {
		return posture.Request{}, errBodyTooLarge
	}
	if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
		return posture.Request{}, errors.New(notJSON + "the body is empty")
	}
	var req EvaluateRequest
	if err := jsonv2.Unmarshal(body, &req, evaluateJSON); err != nil {
		return posture.Request{}, errors.New(jsonProblem(err))
	}
	d := req.Device
	if d == nil {
		return posture.Request{}, errors.New(`"device" is required`)
	}
	fields := [...]struct{ name, v string }{{posture.MatchedByDefenderID, d.DefenderMachineID}, {posture.MatchedByAADID, d.AADDeviceID},
		{posture.MatchedByHostname, d.Hostname}, {"os", d.OS}, {"os_version", d.OSVersion}, {"client_version", d.ClientVersion}}
	for _, f := range fields {
		if len(f.v) > 255 {
			return posture.Request{}, fmt.Errorf("%q is longer than 255 bytes", f.name)
		}
		if strings.ContainsAny(f.v, "\x00\r\n") {
			return posture.Request{}, fmt.Errorf("%q contains control characters", f.name)
		}
	}
	id, aad, host := strings.TrimSpace(d.DefenderMachineID), strings.TrimSpace(d.AADDeviceID), strings.TrimSpace(d.Hostname)
	if id == "" && aad == "" && host == "" {
		return posture.Request{}, errors.New(`at least one of "defender_machine_id", "aad_device_id" or "hostname" is required`)
	}
	return posture.Request{DefenderMachineID: id, AADDeviceID: aad, Hostname: host, Report: posture.Report{
		OS: strings.TrimSpace(d.OS), OSVersion: strings.TrimSpace(d.OSVersion), ClientVersion: strings.TrimSpace(d.ClientVersion),
		Firewall: d.Firewall, DiskEncrypted: d.DiskEncrypted,
	}}, nil
}

const notJSON = "the body is not valid JSON for this API: "

// jsonProblem words a decoding error without echoing the input's values;
// field names are echoed, at most 64 bytes of them.
func jsonProblem(err error) string {
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) && strings.Contains(syn.Err.Error(), "after top-level value") {
		return "the body has data after the JSON object"
	}
	return notJSON + jsonFault(err)
}

func jsonFault(err error) string {
	var sem *jsonv2.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &sem):
		name := sem.JSONPointer.LastToken()
		switch {
		case errors.Is(sem.Err, jsonv2.ErrUnknownName):
			return fmt.Sprintf("unknown field %q", clipName(name))
		case sem.JSONPointer == "" || sem.GoType == nil:
			return "the body must be a JSON object"
		}
		return fmt.Sprintf("%q must be %s", clipName(name), jsonKind(sem.GoType))
	case errors.As(err, &syn):
		switch {
		case errors.Is(syn.Err, jsontext.ErrDuplicateName):
			return fmt.Sprintf("the field %q appears twice", clipName(syn.JSONPointer.LastToken()))
		case errors.Is(syn.Err, io.ErrUnexpectedEOF):
			return "the JSON ends early"
		case strings.Contains(syn.Err.Error(), "invalid UTF-8"):
			return fmt.Sprintf("invalid UTF-8 at byte %d", syn.ByteOffset)
		}
		return fmt.Sprintf("syntax error at byte %d", syn.ByteOffset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	}
	return "malformed JSON"
}

// clipName cuts a caller's field name to 64 bytes, between runes.
func clipName(name string) string {
	if len(name) <= 64 {
		return name
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "…"
}

// evaluate answers the access gateway: may this device pass, and why.
func (s *Server) evaluate(c echo.Context) error {
	if !s.fleet.Loaded() {
		// serve loads the snapshot before it listens; this guards any other
		// start-up order: an empty fleet would deny every device.
		c.Response().Header().Set("Retry-After", "1")
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": "the device snapshot is still loading; retry in a second"})
	}
	req, err := DecodeEvaluateRequest(c.Request().Body)
	if errors.Is(err, errBodyTooLarge) {
		return c.JSON(http.StatusRequestEntityTooLarge, map[string]string{"error": "the body is larger than 64 KiB"})
	}
	if err != nil {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	a := answers.Get().(*answer)
	defer a.release()
	fillResponse(&a.res, s.decide(c, req, a), s.now())
	a.buf = appendEvaluateResponse(a.buf[:0], &a.res)
	// Declared, the length spares the answer chunked framing.
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(a.buf)))
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, a.buf)
}

// jsonKind names a Go type as JSON does.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	default:
		return "a number"
	}
}
