# webhookd — the two commands a newcomer needs are `make run` and `make test`.

GO ?= go
# The build is stamped with its commit and date (`webhookd version`); VERSION overrides the
# version written in buildinfo.BaseVersion.
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
VERSION ?=
BUILDINFO = github.com/webhookd/webhookd/buildinfo
LDFLAGS = -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(DATE) $(if $(VERSION),-X $(BUILDINFO).version=$(VERSION))
OAPI_CODEGEN = $(GO) run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen

.PHONY: run test generate check-generated build migrate bench lint lint-spec sdk fuzz docker

## run: build and start the service on the embedded SQLite database (./data).
run: build
	./webhookd serve

## build: compile the binary ./webhookd, stamped with its version, commit and date.
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o webhookd ./cmd/webhookd

## test: run every test (SQLite always; PostgreSQL too when TEST_DATABASE_URL is set).
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

## fuzz: fuzz every hand-written reader and validator (package:target:executions). The budget is
## a count of executions, about 20 s each on a 2-core machine, not a duration: with a duration
## Go's fuzz coordinator can fail a target with "context deadline exceeded" when the deadline
## passes while a starved worker is still running an input (golang/go#75804, fixed in Go 1.27).
## FUZZTIME=30s (or 50000x) overrides every target's budget.
FUZZ_TARGETS = server:FuzzReadForm:60000 server:FuzzKheopsForms:80000 server:FuzzFacilityBody:60000 \
	server:FuzzDICOMUID:60000 auth:FuzzTokenPrecheck:300000
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$(if $(FUZZTIME),$(FUZZTIME),$${rest#*:}x); \
		echo "--- fuzz $$pkg:$$name for $$budget"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $$budget -timeout 5m ./$$pkg/; \
	done

## generate: regenerate gen/ (oapi-codegen) and the TypeScript SDK's sources
## (sdk/typescript/src, @hey-api/openapi-ts) from openapi/openapi.yaml.
generate:
	$(OAPI_CODEGEN) -config gen/server.cfg.yaml openapi/openapi.yaml
	$(OAPI_CODEGEN) -config gen/client.cfg.yaml openapi/openapi.yaml
	@tools="$$(tools/npm/ensure.sh)" && cd sdk/typescript && \
	"$$tools/node_modules/.bin/openapi-ts" -f openapi-ts.config.mjs --no-log-file -s

## check-generated: fail when gen/ or sdk/typescript is not what `make generate` produces.
check-generated: generate
	git diff --exit-code -- gen/ sdk/
	test -z "$$(git status --porcelain -- gen/ sdk/)"

## docker: build the container image webhookd:local, stamped like `make build`.
docker:
	docker build --build-arg COMMIT=$(COMMIT) --build-arg DATE=$(DATE) $(if $(VERSION),--build-arg VERSION=$(VERSION)) -t webhookd:local .

## migrate: apply the database migrations and exit.
migrate: build
	./webhookd migrate

## bench: run the benchmark programs (bench/) on SQLite and PostgreSQL with the shipped binary and
## defaults; each figure is printed beside its ceiling, measured in the same run (several minutes).
bench:
	bash bench/run.sh

## lint: staticcheck (pinned) on the hand-written code.
lint:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

## lint-spec: lint openapi/openapi.yaml with Redocly CLI and Spectral (pinned in tools/npm,
## installed into ~/.cache/webhookd-npm); any error or warning fails.
lint-spec:
	@tools="$$(tools/npm/ensure.sh)" && \
	REDOCLY_TELEMETRY=off "$$tools/node_modules/.bin/redocly" lint --config openapi/redocly.yaml openapi/openapi.yaml && \
	"$$tools/node_modules/.bin/spectral" lint --ruleset openapi/.spectral.yaml --fail-severity=warn openapi/openapi.yaml

## sdk: regenerate (make generate) and type-check the TypeScript SDK and its tests.
sdk: generate
	@tools="$$(tools/npm/ensure.sh)" && cd sdk/typescript && \
	"$$tools/node_modules/.bin/tsc" -p tsconfig.test.json --typeRoots "$$tools/node_modules/@types"
