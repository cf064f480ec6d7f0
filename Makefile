# np: `make` builds bin/np (a static Go binary with a real Nix appended).
# See README.md for every target.

SHELL := /bin/bash
GO ?= go
BUILD := build
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOFLAGS_BUILD := -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
GO_SOURCES := $(shell find cmd nsbox ptrace extract internal -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum
ASSET_SOURCES := $(shell find assets -type f 2>/dev/null)

.PHONY: all bare payload reproducible test unit integration bench demo lint clean distclean

all: bin/np

# The Debian packages Nix is made from, fetched with a private apt setup.
$(BUILD)/debs.list: assets/fetch-debs.sh
	bash assets/fetch-debs.sh $(BUILD)
	touch $@

# The payload: Nix, busybox and a CA bundle as store paths, zstd-compressed.
$(BUILD)/payload.tar.zst: $(BUILD)/debs.list $(ASSET_SOURCES)
	$(GO) run ./assets/mkpayload -root $(BUILD)/root -debs $(BUILD)/debs.list -out $@

payload: $(BUILD)/payload.tar.zst

# Same inputs, byte-identical payload: build it again and compare.
reproducible: $(BUILD)/payload.tar.zst
	$(GO) run ./assets/mkpayload -root $(BUILD)/root -debs $(BUILD)/debs.list -out $(BUILD)/payload-again.tar.zst
	cmp $(BUILD)/payload.tar.zst $(BUILD)/payload-again.tar.zst
	@echo "payload is reproducible: $$(sha256sum < $(BUILD)/payload.tar.zst | cut -c1-12)"
	@rm -f $(BUILD)/payload-again.tar.zst

# np without a payload: builds and tests anywhere, says it carries no Nix.
bare: $(BUILD)/np-bare
$(BUILD)/np-bare: $(GO_SOURCES)
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/np

bin/np: $(BUILD)/np-bare $(BUILD)/payload.tar.zst
	@mkdir -p bin
	cp $(BUILD)/np-bare $@.tmp
	$(GO) run ./extract/attach $@.tmp $(BUILD)/payload.tar.zst
	mv $@.tmp $@
	@ls -l $@ | awk '{printf "bin/np: %.1f MB\n", $$5/1e6}'

lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

# Unit tests need bin/np: the ptrace tests run the real Nix of its payload.
unit: bin/np
	$(GO) test ./...

# Integration tests run the built bin/np as an unprivileged user against the
# real Nix inside it (see integration/run.sh).
integration: bin/np
	bash integration/run.sh

test: lint unit reproducible integration

bench: bin/np
	bash integration/bench.sh
	bash integration/bench-bundle.sh

# An offline example end to end: a fresh data dir, a build, a sandboxed run.
demo: bin/np
	bash integration/demo.sh

clean:
	rm -rf bin $(BUILD)/np-bare $(BUILD)/payload.tar.zst

distclean:
	rm -rf bin $(BUILD)
