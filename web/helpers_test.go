package web

import (
	"net/http"
	"net/http/httptest"
)

func httptestRequest(e *testEnv) *http.Request {
	return httptest.NewRequest(http.MethodGet, e.http.URL+"/", nil)
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
