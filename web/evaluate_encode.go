package web

import (
	"strconv"
	"unicode/utf8"
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
		b = appendJSONString(b, res.Device.DefenderMachineID)
		b = append(b, ',')
	}
	b = append(b, `"matched_by":`...)
	b = appendJSONString(b, res.Device.MatchedBy)
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
			b = appendJSONString(b, c.Name)
			b = append(b, `,"mode":`...)
			b = appendJSONString(b, c.Mode)
			b = append(b, `,"result":`...)
			b = appendJSONString(b, c.Result)
			b = append(b, `,"reasons":`...)
			b = appendJSONStrings(b, c.Reasons)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"evaluated_at":`...)
	b = appendJSONString(b, res.EvaluatedAt)
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
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does: <, > and & escaped for
// HTML, U+2028 and U+2029 for JavaScript, invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
