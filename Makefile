# hybridd build, test and demo. `make test` installs what the tests need
# (Debian packages, see scripts/install-deps.sh) and runs the whole suite.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
EXAMPLES := examples/wasm-sensors
WASM_COMMANDS := threshold-alert dew-point
WASM_REACTORS := moving-average
WASM := $(addprefix $(EXAMPLES)/bin/,$(addsuffix .wasm,$(WASM_COMMANDS) $(WASM_REACTORS)))
GO_SOURCES := $(shell find . -name '*.go' -not -path './.cache/*') go.mod go.sum

.PHONY: all build test bench demo lint deps clean

all: build

build: bin/hybridd bin/hybridd-init $(WASM) $(EXAMPLES)/bin/alert-counter.tar

bin/hybridd: $(GO_SOURCES)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/hybridd

bin/hybridd-init: $(GO_SOURCES)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $@ ./cmd/hybridd-init

$(EXAMPLES)/bin/%.wasm: $(GO_SOURCES)
	@mkdir -p $(dir $@)
	GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -o $@ \
		$(if $(filter $*,$(WASM_REACTORS)),-buildmode=c-shared,) ./$(EXAMPLES)/$*

$(EXAMPLES)/bin/alert-counter: $(GO_SOURCES)
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $@ ./examples/alert-counter

$(EXAMPLES)/bin/alert-counter.tar: $(EXAMPLES)/bin/alert-counter
	$(GO) run ./tools/mkimage -o $@ -name hybridd.example/alert-counter:latest \
		-entrypoint /alert-counter $<:/alert-counter

deps:
	./scripts/install-deps.sh

test: deps
	$(GO) vet ./...
	$(GO) test -race -timeout 30m ./...

bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./wasmhost/ ./bench/

demo: deps build
	./scripts/demo.sh

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

clean:
	rm -rf bin $(EXAMPLES)/bin
