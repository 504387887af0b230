package web

import (
	"strconv"

	"postern/internal/jsonenc"
)

// appendEvaluateResponse appends res as encoding/json would encode it,
// newline included, byte for byte (TestEncodeEvaluateResponseMatchesJSON).
// The answer is the enforcement API's whole output and reflection made up
// a third of the handler's cost; this writes it in one pass into one
// buffer.
func appendEvaluateResponse(b []byte, res *EvaluateResponse) []byte {
	b = append(b, `{"allowed":`...)
	b = strconv.AppendBool(b, res.Allowed)
	b = append(b, `,"device":{`...)
	if res.Device.DefenderMachineID != "" {
		b = append(b, `"defender_machine_id":`...)
		b = jsonenc.AppendString(b, res.Device.DefenderMachineID)
		b = append(b, ',')
	}
	b = append(b, `"matched_by":`...)
	b = jsonenc.AppendString(b, res.Device.MatchedBy)
	b = append(b, `},"checks":`...)
	if res.Checks == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range res.Checks {
			c := &res.Checks[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = strconv.AppendInt(b, c.ID, 10)
			b = append(b, `,"name":`...)
			b = jsonenc.AppendString(b, c.Name)
			b = append(b, `,"mode":`...)
			b = jsonenc.AppendString(b, c.Mode)
			b = append(b, `,"result":`...)
			b = jsonenc.AppendString(b, c.Result)
			b = append(b, `,"reasons":`...)
			b = appendJSONStrings(b, c.Reasons)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"evaluated_at":`...)
	b = jsonenc.AppendString(b, res.EvaluatedAt)
	if res.ValidUntil != "" {
		b = append(b, `,"valid_until":`...)
		b = jsonenc.AppendString(b, res.ValidUntil)
	}
	return append(b, "}\n"...)
}

func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, s)
	}
	return append(b, ']')
}
