package emulator

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// predicate is a compiled $filter.
type predicate func(*Machine) bool

// The $filter subset of docs/defender-api.md#filter:
//
//	expr       = term *("and" term)
//	term       = "(" expr ")" | field op literal
//	           | "startswith(" field "," string ")"
//	           | "machineTags/any(" var ":" var "eq" string ")"
//	op         = eq | ne | gt | ge | lt | le
//	literal    = 'string' ('' escapes ') | integer | date | null
//
// Only the 14 documented fields are accepted. Field names and string values
// compare case-insensitively (the service accepted `onboardingstatus eq
// 'onboarded'`); gt/ge/lt/le apply to lastSeen and rbacGroupId only. Anything
// else (or, not, in, contains, other functions, other fields) is an error,
// which the handler answers as 400 ODataError.

type fieldKind int

const (
	kindString fieldKind = iota // string or enum, maybe nullable
	kindDate
	kindInt
	kindTags
)

type field struct {
	kind fieldKind
	str  func(*Machine) *string
	date func(*Machine) time.Time
	num  func(*Machine) int64
}

var filterFields = map[string]field{
	"computerdnsname":  {kind: kindString, str: func(m *Machine) *string { return &m.ComputerDNSName }},
	"id":               {kind: kindString, str: func(m *Machine) *string { return &m.ID }},
	"version":          {kind: kindString, str: func(m *Machine) *string { return m.Version }},
	"devicevalue":      {kind: kindString, str: func(m *Machine) *string { return m.DeviceValue }},
	"aaddeviceid":      {kind: kindString, str: func(m *Machine) *string { return m.AADDeviceID }},
	"machinetags":      {kind: kindTags},
	"lastseen":         {kind: kindDate, date: func(m *Machine) time.Time { return m.LastSeen }},
	"exposurelevel":    {kind: kindString, str: func(m *Machine) *string { return m.ExposureLevel }},
	"onboardingstatus": {kind: kindString, str: func(m *Machine) *string { return &m.OnboardingStatus }},
	"lastipaddress":    {kind: kindString, str: func(m *Machine) *string { return m.LastIPAddress }},
	"healthstatus":     {kind: kindString, str: func(m *Machine) *string { return &m.HealthStatus }},
	"osplatform":       {kind: kindString, str: func(m *Machine) *string { return &m.OSPlatform }},
	"riskscore":        {kind: kindString, str: func(m *Machine) *string { return m.RiskScore }},
	"rbacgroupid":      {kind: kindInt, num: func(m *Machine) int64 { return m.RBACGroupID }},
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokPunct
)

type token struct {
	kind tokKind
	text string
}

func lexFilter(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.IndexByte("(),:", c) >= 0:
			toks = append(toks, token{tokPunct, string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			for i++; ; i++ {
				if i >= len(s) {
					return nil, errors.New("unterminated string literal")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i++
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
			}
			toks = append(toks, token{tokString, b.String()})
		default:
			// A word ends at a delimiter; ':' belongs to date-time literals.
			stop := " \t(),:'"
			if c >= '0' && c <= '9' {
				stop = " \t(),'"
			}
			j := i
			for j < len(s) && strings.IndexByte(stop, s[j]) < 0 {
				j++
			}
			toks = append(toks, token{tokWord, s[i:j]})
			i = j
		}
	}
	return append(toks, token{kind: tokEOF}), nil
}

type filterParser struct {
	toks []token
	pos  int
}

// parseFilter compiles a $filter expression, or says what is wrong with it.
func parseFilter(s string) (predicate, error) {
	toks, err := lexFilter(s)
	if err != nil {
		return nil, defenderMessage("Invalid $filter '%s': %w.", s, err)
	}
	p := &filterParser{toks: toks}
	pred, err := p.expr()
	if err == nil && p.peek().kind != tokEOF {
		err = fmt.Errorf("unsupported syntax at '%s'", p.peek().text)
	}
	if err != nil {
		return nil, defenderMessage("Invalid $filter '%s': %w.", s, err)
	}
	return pred, nil
}

func (p *filterParser) peek() token { return p.toks[p.pos] }

func (p *filterParser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *filterParser) expect(kind tokKind, text string) error {
	if t := p.next(); t.kind != kind || t.text != text {
		return fmt.Errorf("expected '%s' but found '%s'", text, t.text)
	}
	return nil
}

func (p *filterParser) expr() (predicate, error) {
	left, err := p.term()
	for err == nil && p.peek().kind == tokWord && p.peek().text == "and" {
		p.next()
		var right predicate
		right, err = p.term()
		l, r := left, right
		left = func(m *Machine) bool { return l(m) && r(m) }
	}
	return left, err
}

func (p *filterParser) term() (predicate, error) {
	t := p.next()
	switch {
	case t.kind == tokPunct && t.text == "(":
		e, err := p.expr()
		if err == nil {
			err = p.expect(tokPunct, ")")
		}
		return e, err
	case t.kind != tokWord:
		return nil, fmt.Errorf("expected a property or function but found '%s'", t.text)
	case t.text == "startswith":
		return p.startsWith()
	case strings.EqualFold(t.text, "machineTags/any"):
		return p.anyTag()
	}
	f, ok := filterFields[strings.ToLower(t.text)]
	if !ok {
		return nil, fmt.Errorf("property '%s' is not supported in $filter", t.text)
	}
	op := p.next()
	switch op.text {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil, fmt.Errorf("expected a comparison operator after '%s' but found '%s'", t.text, op.text)
	}
	return compare(t.text, f, op.text, p.next())
}

func (p *filterParser) startsWith() (predicate, error) {
	if err := p.expect(tokPunct, "("); err != nil {
		return nil, err
	}
	name := p.next()
	f, ok := filterFields[strings.ToLower(name.text)]
	if !ok || f.kind != kindString {
		return nil, fmt.Errorf("startswith needs a string property, not '%s'", name.text)
	}
	if err := p.expect(tokPunct, ","); err != nil {
		return nil, err
	}
	lit := p.next()
	if lit.kind != tokString {
		return nil, fmt.Errorf("startswith needs a string literal, not '%s'", lit.text)
	}
	prefix := strings.ToLower(lit.text)
	return func(m *Machine) bool {
		v := f.str(m)
		return v != nil && strings.HasPrefix(strings.ToLower(*v), prefix)
	}, p.expect(tokPunct, ")")
}

func (p *filterParser) anyTag() (predicate, error) {
	if err := p.expect(tokPunct, "("); err != nil {
		return nil, err
	}
	v := p.next()
	if v.kind != tokWord {
		return nil, fmt.Errorf("expected a lambda variable but found '%s'", v.text)
	}
	if err := p.expect(tokPunct, ":"); err != nil {
		return nil, err
	}
	if err := p.expect(tokWord, v.text); err != nil {
		return nil, err
	}
	if err := p.expect(tokWord, "eq"); err != nil {
		return nil, err
	}
	lit := p.next()
	if lit.kind != tokString {
		return nil, fmt.Errorf("machineTags/any needs a string literal, not '%s'", lit.text)
	}
	return func(m *Machine) bool {
		for _, tag := range m.MachineTags {
			if strings.EqualFold(tag, lit.text) {
				return true
			}
		}
		return false
	}, p.expect(tokPunct, ")")
}

func compare(name string, f field, op string, lit token) (predicate, error) {
	switch f.kind {
	case kindTags:
		return nil, fmt.Errorf("'%s' is a collection; use machineTags/any(tag: tag eq '…')", name)
	case kindString:
		return compareString(name, f, op, lit)
	case kindDate:
		t, err := parseDate(lit)
		if err != nil {
			return nil, err
		}
		return ordered(op, func(m *Machine) int { return f.date(m).Compare(t) }), nil
	}
	n, err := strconv.ParseInt(lit.text, 10, 64) // '140' is accepted too: the docs call it a String
	if err != nil {
		return nil, fmt.Errorf("'%s' needs an integer literal, not '%s'", name, lit.text)
	}
	return ordered(op, func(m *Machine) int { return cmp.Compare(f.num(m), n) }), nil
}

func compareString(name string, f field, op string, lit token) (predicate, error) {
	if op != "eq" && op != "ne" {
		return nil, fmt.Errorf("operator '%s' is not supported on '%s'", op, name)
	}
	var eq predicate
	switch {
	case lit.kind == tokWord && lit.text == "null":
		eq = func(m *Machine) bool { return f.str(m) == nil }
	case lit.kind == tokString:
		eq = func(m *Machine) bool { v := f.str(m); return v != nil && strings.EqualFold(*v, lit.text) }
	default:
		return nil, fmt.Errorf("'%s' needs a quoted string literal, not '%s'", name, lit.text)
	}
	if op == "ne" {
		return func(m *Machine) bool { return !eq(m) }, nil
	}
	return eq, nil
}

func ordered(op string, order func(*Machine) int) predicate {
	switch op {
	case "eq":
		return func(m *Machine) bool { return order(m) == 0 }
	case "ne":
		return func(m *Machine) bool { return order(m) != 0 }
	case "gt":
		return func(m *Machine) bool { return order(m) > 0 }
	case "ge":
		return func(m *Machine) bool { return order(m) >= 0 }
	case "lt":
		return func(m *Machine) bool { return order(m) < 0 }
	default:
		return func(m *Machine) bool { return order(m) <= 0 }
	}
}

// parseDate accepts an unquoted date (2018-08-01Z, 2018-08-01) or
// date-time (2019-11-22T00:00:00Z, with 0–7 fractional digits).
func parseDate(lit token) (time.Time, error) {
	if lit.kind == tokWord {
		for _, layout := range []string{"2006-01-02Z", "2006-01-02", time.RFC3339Nano} {
			if t, err := time.Parse(layout, lit.text); err == nil {
				return t.UTC(), nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("'lastSeen' needs an unquoted date literal such as 2018-08-01Z, not '%s'", lit.text)
}
