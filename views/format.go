package views

import (
	"strconv"

	"postern/views/components"
)

func itoa(n int) string { return strconv.Itoa(n) }

// Count formats n with thousands separators; see components.Count.
func Count(n int) string { return components.Count(n) }
