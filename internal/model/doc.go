// Package model holds Postern's stored nouns: the device as synced, the
// posture check and its exceptions, the verdict history, the sync run, the
// admin, the session, the API token and the integration, with the filters
// that ask for them. The store reads and writes them, the services and the
// console use them, and none of them depends on how or where they are
// stored, so that another store (PostgreSQL) can hold the same values. The
// audit entry lives in internal/audit, beside its action names.
package model
