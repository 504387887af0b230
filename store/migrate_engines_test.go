package store

import (
	"fmt"
	"testing"
)

// Every migration exists for both engines under the same number and name,
// so that a database of either engine at version N has the same schema
// and schema_migrations means the same on both.
func TestMigrationsNumberedAlikeOnBothEngines(t *testing.T) {
	list := func(e *engine) map[int]string {
		ms, err := migrations(e.migrationDir())
		if err != nil {
			t.Fatalf("%s migrations: %v", e.name, err)
		}
		out := map[int]string{}
		for _, m := range ms {
			out[m.version] = m.name
		}
		return out
	}
	lite, pg := list(sqliteEngine), list(postgresEngine)
	for _, c := range []struct {
		has, lacks       map[int]string
		hasDir, lacksDir string
	}{{lite, pg, sqliteEngine.migrationDir(), postgresEngine.migrationDir()}, {pg, lite, postgresEngine.migrationDir(), sqliteEngine.migrationDir()}} {
		for v, name := range c.has {
			other, ok := c.lacks[v]
			switch {
			case !ok:
				t.Errorf("%s/%04d_%s.sql has no counterpart in %s/", c.hasDir, v, name, c.lacksDir)
			case other != name:
				t.Errorf("migration %04d is %q in %s/ but %q in %s/", v, name, c.hasDir, other, c.lacksDir)
			}
		}
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Errorf("%d SQLite and %d PostgreSQL migrations", len(lite), len(pg))
	}
	if got := fmt.Sprint(SchemaVersion()); got != fmt.Sprint(len(lite)) {
		t.Errorf("SchemaVersion() = %s with %d migrations", got, len(lite))
	}
}
