package syncer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"postern/internal/fleet"
)

// sortByID orders devices as slices.SortFunc(byID) would, moving whole
// devices (every field comes along), for orders with long and short
// cycles, already sorted and reversed.
func TestSortByIDMovesWholeDevices(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 10, 1000} {
		for _, order := range []string{"random", "sorted", "reversed"} {
			devices := make([]fleet.Device, n)
			for i := range devices {
				devices[i] = fleet.Device{ID: fmt.Sprintf("%08x", r.Uint32()), Host: fmt.Sprintf("host-%d", i), OSBuild: int64(i)}
			}
			switch order {
			case "sorted":
				slices.SortFunc(devices, byID)
			case "reversed":
				slices.SortFunc(devices, func(a, b fleet.Device) int { return byID(b, a) })
			}
			want := slices.Clone(devices)
			slices.SortStableFunc(want, byID)
			sortByID(devices)
			for i := range want {
				if devices[i].ID != want[i].ID || devices[i].Host != want[i].Host || devices[i].OSBuild != want[i].OSBuild {
					t.Fatalf("%d devices, %s: position %d holds %+v, want %+v", n, order, i, devices[i], want[i])
				}
			}
		}
	}
}
