# np: `make` builds bin/np (a static Go binary with a real Nix appended).
# See README.md for every target.

SHELL := /bin/bash
GO ?= go
BUILD := build
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOFLAGS_BUILD := -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
GO_SOURCES := $(shell find cmd nsbox ptrace extract internal -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum
ASSET_SOURCES := $(shell find assets -type f 2>/dev/null)

.PHONY: all bare payload reproducible test test-setup unit integration kernels kernel-smoke bench demo lint clean distclean

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

# What the tests need on a fresh machine: Debian packages and the user nptest.
test-setup:
	bash integration/setup.sh

# Unit tests need bin/np: the ptrace tests run the real Nix of its payload.
# The ptrace suite runs again on its fallbacks: under a filter refusing what
# Docker 20.10's default profile refuses, with tracee memory through
# PTRACE_PEEKDATA only (no notifications), and through /proc/<pid>/mem with
# two notification servers (as Linux < 6.6 runs).
unit: bin/np test-setup
	$(GO) test ./...
	NP_PTRACE_TEST_REFUSE=no-unshare,no-process-vm,no-pidfd-getfd $(GO) test -count=1 ./ptrace
	NP_PTRACE_TEST_MEM=peek $(GO) test -count=1 ./ptrace
	NP_PTRACE_TEST_MEM=file NP_PTRACE_TEST_SERVERS=2 $(GO) test -count=1 ./ptrace

# Integration tests run the built bin/np as an unprivileged user against the
# real Nix inside it (see integration/run.sh).
integration: bin/np test-setup
	bash integration/run.sh

# np's tests on Debian's own kernels (bullseye's 5.10, bookworm's 6.1),
# each booted under qemu without KVM from an initramfs holding bin/np and
# the compiled tests (see integration/kernels.sh). kernel-smoke is the short
# set on 5.10 that CI runs; ARCH=arm64 boots Debian's arm64 kernels.
kernel-smoke: bin/np bare test-setup
	ARCH=$(ARCH) bash integration/kernels.sh smoke

kernels: bin/np bare test-setup
	ARCH=$(ARCH) bash integration/kernels.sh full

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
