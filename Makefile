# Build, test and check targets. `make help` lists them.

GO        ?= go
CC        ?= gcc
BUILD     ?= build
PLUGIN_SO := $(BUILD)/out_auditd_cloud_logging.so
CHOST     := $(BUILD)/chost
FUZZTIME  ?= 10s
BENCHTIME ?= 1s

# cgo is required for the c-shared plugin and for fluent-bit-go's decoder in benchmarks.
export CGO_ENABLED := 1

.PHONY: help all plugin chost test test-race chost-test bench fuzz vet ci clean

help:
	@echo "plugin     build $(PLUGIN_SO) (go build -buildmode=c-shared)"
	@echo "chost      build $(CHOST), the C host that loads the plugin as fluent-bit does"
	@echo "test       go test ./... with the C-host ABI test using the built plugin and host"
	@echo "test-race  go test -race ./..."
	@echo "bench      benchmarks with -benchmem (baselines run beside them)"
	@echo "fuzz       every fuzz target for FUZZTIME ($(FUZZTIME)) each"
	@echo "vet        go vet and a gofmt check"
	@echo "ci         vet + test + test-race (what .ci/run runs)"
	@echo "clean      remove $(BUILD)/"

all: plugin chost

# Always rebuilt: go's build cache makes an unchanged rebuild cheap, and make cannot see Go deps.
plugin:
	@mkdir -p $(BUILD)
	$(GO) build -buildmode=c-shared -trimpath -o $(PLUGIN_SO) ./plugin

$(CHOST): plugin/chost/chost.c
	@mkdir -p $(BUILD)
	$(CC) -Wall -Wextra -Werror -O2 -o $@ $< -ldl -lpthread

chost: $(CHOST)

# The ABI test (internal/chosttest) uses the artifacts built here instead of building its own.
test: plugin chost
	CHOST_PLUGIN_SO=$(abspath $(PLUGIN_SO)) CHOST_BIN=$(abspath $(CHOST)) $(GO) test ./...

chost-test: plugin chost
	CHOST_PLUGIN_SO=$(abspath $(PLUGIN_SO)) CHOST_BIN=$(abspath $(CHOST)) $(GO) test -count=1 -v -run . ./internal/chosttest

test-race: plugin chost
	CHOST_PLUGIN_SO=$(abspath $(PLUGIN_SO)) CHOST_BIN=$(abspath $(CHOST)) $(GO) test -race ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# Runs each FuzzXxx found in a _test.go file on its own (go test -fuzz takes one target at a time).
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		dir=$$(dirname $$f); \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "fuzz $$dir $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './build/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

ci: vet test test-race

clean:
	rm -rf $(BUILD)
