package web

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"postern/internal/apperr"
	"postern/internal/defender/vocab"
	"postern/views"
)

// deviceAVView is the device page's antivirus health panel: the row of
// Defender's antivirus health report the last sync stored, or why there is
// none. The snapshot in use decides: when its sync could not read the
// report, the panel says so, as the posture reasons do.
func (s *Server) deviceAVView(ctx context.Context, id string) (views.DeviceAVView, error) {
	if snap := s.fleet.Load(); snap != nil && snap.AVUnknown != "" {
		return views.DeviceAVView{Unknown: capitalize(snap.AVUnknown) + "."}, nil
	}
	a, err := s.store.DeviceAV(ctx, id)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return views.DeviceAVView{Unknown: "Defender's antivirus health report does not list this device: it may not run Microsoft Defender Antivirus, or its first report has not arrived."}, nil
	case err != nil:
		return views.DeviceAVView{}, err
	}
	return views.DeviceAVView{Mode: vocab.AVModeName(a.Mode), SignatureVersion: a.SignatureVersion,
		SignatureUpToDate: a.SignatureUpToDate, SignaturePublished: a.SignaturePublishedAt,
		EngineVersion: a.EngineVersion, EngineUpToDate: a.EngineUpToDate, PlatformVersion: a.PlatformVersion,
		PlatformUpToDate: a.PlatformUpToDate, QuickScan: a.QuickScanAt, FullScan: a.FullScanAt,
		QuickScanResult: a.QuickScanResult, FullScanResult: a.FullScanResult, Refreshed: a.RefreshedAt}, nil
}

func capitalize(s string) string {
	s = strings.TrimSpace(s)
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
