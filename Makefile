# Postern: `make run` starts the console, `make test` runs every test.
GO      ?= go
BIN     ?= bin/postern
PKGS    := ./...

.PHONY: run test check generate templ css build release bench fuzz deps browser gateways postgres node-deps clean

## run: start the console on ./data at http://127.0.0.1:8080
run:
	$(GO) run .

## test: every test once, with the race detector, including the browser journeys, the gateway tests and the store on PostgreSQL (installs Chromium, nginx, Caddy and PostgreSQL when missing and run as root)
test: deps
	$(GO) test -race -count=1 -timeout 40m $(PKGS)

## check: the static checks: regenerate templ and CSS and fail if they differ from the commit; gofmt; vet; staticcheck
check: node-deps generate
	@git diff --exit-code -- '*_templ.go' static/css/app.css || { echo "generated files are stale: run 'make generate' and commit" >&2; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- '*_templ.go'); \
	  if [ -n "$$untracked" ]; then echo "generated but not committed: $$untracked" >&2; exit 1; fi
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

## generate: templ components, then the stylesheet (Tailwind reads the generated code)
generate: templ css

templ:
	$(GO) tool templ generate -path views

css: node-deps
	npx --no-install tailwindcss -c tailwind.config.js -i static/css/input.css -o static/css/app.css --minify

## build: a static binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) .

## release: static linux/amd64 and linux/arm64 binaries in dist/, stamped with VERSION, COMMIT and DATE, and SHA256SUMS
# The values are read once in the recipe so that every binary gets the same
# ones. DATE follows SOURCE_DATE_EPOCH when set, for reproducible builds.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null)
DATE    ?= $(shell date -u $(if $(SOURCE_DATE_EPOCH),-d @$(SOURCE_DATE_EPOCH)) +%Y-%m-%dT%H:%M:%SZ)
RELEASE_PLATFORMS := linux/amd64 linux/arm64
release:
	@set -e; version='$(VERSION)'; commit='$(COMMIT)'; date='$(DATE)'; \
	rm -rf dist; mkdir -p dist; \
	for p in $(RELEASE_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; out=dist/postern-$$version-$$os-$$arch; echo "build $$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -o $$out \
	    -ldflags "-s -w -X main.version=$$version -X main.commit=$$commit -X main.date=$$date" .; \
	done; \
	cd dist && sha256sum postern-* > SHA256SUMS && cat SHA256SUMS

## bench: the performance benchmarks, printing their figures
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## fuzz: every fuzz target for FUZZTIME each (CI runs it; failing inputs land in testdata/fuzz)
# docs/security.md#item-40 asks for at least 30 s per target. Go 1.26's fuzz coordinator
# can end a timed run with a bare "context deadline exceeded" and no failing
# input (golang/go#75804, fixed in Go 1.27): that alone, with no new input
# written under testdata/fuzz, is reported and not counted as a failure.
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	./internal/secret:FuzzOpen \
	./internal/defender:FuzzParseRetryAfter \
	./internal/integration:FuzzCredentialsForm \
	./internal/posture:FuzzSpecValidate \
	./web:FuzzDecodeEvaluateRequest \
	./web:FuzzCheckForm \
	./web:FuzzDeviceDetail \
	./internal/jsonenc:FuzzAppendJSONString
fuzz:
	@set -e; mkdir -p tmp; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; corpus=$$pkg/testdata/fuzz/$$name; log=tmp/fuzz-$$name.log; \
	  before=$$(ls $$corpus 2>/dev/null | wc -l); echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
	  rc=0; $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg > $$log 2>&1 || rc=$$?; \
	  tail -n 15 $$log; \
	  if [ $$rc -ne 0 ]; then \
	    after=$$(ls $$corpus 2>/dev/null | wc -l); \
	    if [ "$$after" = "$$before" ] && grep -q 'context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log; then \
	      echo "note: $$name stopped with golang/go#75804 (no failing input): not a failure"; \
	    else exit $$rc; fi; \
	  fi; \
	done

deps: browser gateways postgres node-deps

# Debian's chromium drives the browser tests. Installed only when missing and
# when we may (root); otherwise the browser tests skip with a hint.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	  else echo "note: chromium is missing; browser tests will skip (apt-get install chromium)" >&2; fi; }

# Debian's nginx (1.22) and Caddy (2.6) run in front of Postern in the
# gateway tests (internal/e2e/gateway_*_test.go), with the configurations in
# deploy/. Installed only when missing and when we may (root); otherwise those
# tests skip with a hint. The tests start their own processes as the current
# user, so the system services the packages may start are stopped and
# disabled.
gateways:
	@missing=""; command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="nginx"; \
	  command -v caddy >/dev/null 2>&1 || missing="$$missing caddy"; \
	  [ -z "$$missing" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's$$missing for the gateway tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	    for s in $$missing; do \
	      if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl disable --now $$s >/dev/null 2>&1 || true; \
	      elif command -v invoke-rc.d >/dev/null 2>&1; then invoke-rc.d $$s stop >/dev/null 2>&1 || true; fi; \
	    done; \
	  else echo "note:$$missing missing; gateway tests will skip (apt-get install nginx caddy)" >&2; fi; }

# Debian's PostgreSQL server binaries run the store's tests on PostgreSQL
# (internal/testkit/pgtest starts a throwaway server per test binary, with
# initdb and postgres in a temporary directory). Installed only when missing
# and when we may (root); otherwise those tests skip with a hint. The
# package's own cluster service is stopped and disabled: nothing runs
# system-wide.
postgres:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's postgresql for the store tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl disable --now postgresql >/dev/null 2>&1 || true; \
	    elif command -v invoke-rc.d >/dev/null 2>&1; then invoke-rc.d postgresql stop >/dev/null 2>&1 || true; update-rc.d postgresql disable >/dev/null 2>&1 || true; fi; \
	  else echo "note: PostgreSQL is missing; the store's PostgreSQL tests will skip (apt-get install postgresql)" >&2; fi; }

# Tailwind and axe-core (accessibility checks in the browser tests), pinned
# by package-lock.json.
node-deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

clean:
	rm -rf bin dist node_modules tmp
