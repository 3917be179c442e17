# Build, test and check targets. `make help` lists them.

GO        ?= go
CC        ?= gcc
BUILD     ?= build
PLUGIN_SO := $(BUILD)/out_auditd_cloud_logging.so
CHOST     := $(BUILD)/chost
FUZZTIME  ?= 10s
CI_FUZZTIME ?= 5s
BENCHTIME ?= 1s

# cgo is required for the c-shared plugin and for fluent-bit-go's decoder in benchmarks.
export CGO_ENABLED := 1

.PHONY: help all plugin chost demo test test-race test-norace chost-test bench fuzz vet ci clean

help:
	@echo "demo       bundled audit log (or INPUT=FILE) through the plugin into a local emulator: events, summary, cost; SET='Key=Value ...'"
	@echo "plugin     build $(PLUGIN_SO) (go build -buildmode=c-shared)"
	@echo "chost      build $(CHOST), the C host that loads the plugin as fluent-bit does"
	@echo "test       vet + gofmt + go test -race ./... (with the C-host ABI test on the built plugin and host)"
	@echo "test-norace go test ./... without the race detector (faster while iterating)"
	@echo "bench      benchmarks with -benchmem (baselines run beside them)"
	@echo "fuzz       every fuzz target for FUZZTIME ($(FUZZTIME)) each"
	@echo "vet        go vet and a gofmt check"
	@echo "ci         test + a brief run of every fuzz target (what .ci/run runs)"
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

# The README's first command. INPUT=FILE: your audit.log, kernel log or `journalctl -o json` export;
# SET='Key=Value ...': plugin keys (filters); DEMO_FLAGS: other flags (-rows, -price-per-gib, -nodes).
# -trimpath -buildmode=pie: the c-shared plugin's compiler flags, so the demo reuses its compiled packages.
demo: plugin chost
	$(GO) run -trimpath -buildmode=pie ./cmd/demo -so $(PLUGIN_SO) -chost $(CHOST) $(if $(INPUT),-input '$(INPUT)') $(foreach s,$(SET),-set '$(s)') $(DEMO_FLAGS)

# The README's test command. The ABI test (internal/chosttest) uses the artifacts built here.
test: vet plugin chost
	CHOST_PLUGIN_SO=$(abspath $(PLUGIN_SO)) CHOST_BIN=$(abspath $(CHOST)) $(GO) test -race ./...

test-norace: plugin chost
	CHOST_PLUGIN_SO=$(abspath $(PLUGIN_SO)) CHOST_BIN=$(abspath $(CHOST)) $(GO) test ./...

chost-test: plugin chost
	CHOST_PLUGIN_SO=$(abspath $(PLUGIN_SO)) CHOST_BIN=$(abspath $(CHOST)) $(GO) test -count=1 -v -run . ./internal/chosttest

test-race: test

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# Every fuzz target for FUZZTIME each (scripts/fuzz.sh: a failing input fails at once; an
# engine hiccup without one is tried once more).
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './build/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

ci: test
	$(MAKE) fuzz FUZZTIME=$(CI_FUZZTIME)

clean:
	rm -rf $(BUILD)
