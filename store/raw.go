package store

import (
	"bytes"
	"fmt"

	"github.com/klauspost/compress/s2"
)

// The whole machine is kept for the detail page, about 1.2 KB of JSON per
// device: 120 MB at 100,000 devices, which every first sync copied into the
// staging table, device_raw, the WAL and the database file. It is stored
// S2-compressed (github.com/klauspost/compress/s2, already a dependency of
// the Prometheus client): a fraction of the size, at over 1 GB/s. rawS2
// marks it; JSON never starts with a NUL, so plain JSON rows still read.
var rawS2 = []byte("\x00s2")

// packRaw compresses a machine's JSON for storage.
func packRaw(js []byte) []byte { return appendPackedRaw(nil, js) }

// appendPackedRaw appends the stored form of js to dst, reusing its memory:
// staging packs 100,000 machines, and the driver copies each as it binds.
func appendPackedRaw(dst, js []byte) []byte {
	n := len(dst) + len(rawS2) + s2.MaxEncodedLen(len(js))
	if cap(dst) < n {
		dst = append(make([]byte, 0, n), dst...)
	}
	dst = append(dst, rawS2...)
	enc := s2.Encode(dst[len(dst):n], js) // written in place, in dst's spare room
	return dst[:len(dst)+len(enc)]
}

// unpackRaw returns the JSON that packRaw stored, or a plain JSON row as is.
func unpackRaw(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, rawS2) {
		return b, nil
	}
	js, err := s2.Decode(nil, b[len(rawS2):])
	if err != nil {
		return nil, fmt.Errorf("store: read the stored machine: %w", err)
	}
	return js, nil
}
