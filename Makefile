# np: `make` builds bin/np (a static Go binary with a real Nix appended) for
# x86_64 and bin/np-aarch64 for 64-bit ARM, both on an x86_64 host; `make
# bin/np` or `make arm64` builds one. See README.md for every target.

SHELL := /bin/bash
GO ?= go
BUILD := build
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOFLAGS_BUILD := -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
GO_SOURCES := $(shell find app cmd nsbox ptrace extract internal -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum
ASSET_SOURCES := $(shell find assets -type f 2>/dev/null)

.PHONY: all arm64 reproducible-arm64 bare payload profiles reproducible test test-setup unit integration robust containers fresh-check kernels kernel-smoke kernel-smoke-arm64 nfs nfs-smoke nix-src nix-functional nix-functional-subset bench bench-startup demo lint clean distclean syscalls compat

all: bin/np bin/np-aarch64

# The Debian packages Nix is made from, fetched with a private apt setup.
$(BUILD)/debs.list: assets/fetch-debs.sh assets/private-apt.sh assets/nix-version
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

# arm64: the same Go program cross-compiled (pure Go, so no C toolchain),
# and a payload made the same way from Debian's arm64 packages, in
# $(BUILD)/arm64. Nothing of arm64 runs on the build host.
ARM64 := $(BUILD)/arm64

$(ARM64)/debs.list: assets/fetch-debs.sh assets/private-apt.sh assets/nix-version
	bash assets/fetch-debs.sh $(ARM64) arm64
	touch $@

$(ARM64)/payload.tar.zst: $(ARM64)/debs.list $(ASSET_SOURCES)
	$(GO) run ./assets/mkpayload -arch arm64 -root $(ARM64)/root -debs $(ARM64)/debs.list -out $@

$(ARM64)/np-bare: $(GO_SOURCES)
	@mkdir -p $(ARM64)
	CGO_ENABLED=0 GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/np

bin/np-aarch64: $(ARM64)/np-bare $(ARM64)/payload.tar.zst
	@mkdir -p bin
	cp $(ARM64)/np-bare $@.tmp
	$(GO) run ./extract/attach $@.tmp $(ARM64)/payload.tar.zst
	mv $@.tmp $@
	@ls -l $@ | awk '{printf "bin/np-aarch64: %.1f MB\n", $$5/1e6}'

arm64: bin/np-aarch64

reproducible-arm64: $(ARM64)/payload.tar.zst
	$(GO) run ./assets/mkpayload -arch arm64 -root $(ARM64)/root -debs $(ARM64)/debs.list -out $(ARM64)/payload-again.tar.zst
	cmp $(ARM64)/payload.tar.zst $(ARM64)/payload-again.tar.zst
	@echo "arm64 payload is reproducible: $$(sha256sum < $(ARM64)/payload.tar.zst | cut -c1-12)"
	@rm -f $(ARM64)/payload-again.tar.zst

# go vet once per set of test build tags: a tagged test file is compiled,
# hence checked, only with its tag.
lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags prepared ./...
	$(GO) vet -tags integration,compat ./integration
	$(GO) vet -tags containers ./integration

# What the tests need on a fresh machine: Debian packages and the user nptest.
test-setup:
	bash integration/setup.sh

# The container engines' seccomp profiles the "oci:*" hostile hosts compile
# (internal/hostile), fetched from the Go module proxy.
PROFILES := $(BUILD)/profiles/docker-current.json $(BUILD)/profiles/docker-20.10.json $(BUILD)/profiles/podman.json
$(PROFILES) &: integration/profiles.sh
	bash integration/profiles.sh $(BUILD)/profiles

profiles: $(PROFILES)

# Unit tests with the host prepared (-tags prepared): the ptrace tests run
# the real Nix of bin/np's payload, internal/hostile compiles the engines'
# fetched profiles. The race detector runs on internal/proc, extract and
# ptrace. The ptrace suite runs as nptest once per mode of
# integration/ptrace-modes.txt: on its fallbacks under a filter refusing
# what Docker 20.10's default profile refuses, under Linux 3.10's system
# call table (no seccomp(2), hence no notifications: CentOS 7; about 50 s),
# under Podman's real default profile (its ENOSYS for every call it does
# not list also answers the -1 of a call the tracer skipped), with tracee
# memory through PTRACE_PEEKDATA only, and through /proc/<pid>/mem with two
# notification servers (as Linux < 6.6 runs). See integration/unit.sh.
unit: bin/np test-setup $(PROFILES)
	bash integration/unit.sh

# Integration tests run the built bin/np as an unprivileged user against the
# real Nix inside it (see integration/run.sh).
integration: bin/np test-setup $(PROFILES)
	bash integration/run.sh

# The system calls np's Nix makes (strace -f inside ns, as nptest), each
# checked against the tracer's table or ptrace/systable/pathless.txt (about 30 s).
syscalls: bin/np test-setup
	bash integration/syscalls.sh

# A data dir used by the previous np (the last commit with Nix 2.26.3,
# built here from git history), then by this np, then by the previous np
# again: nothing lost, the store database intact (integration/compat.sh).
compat: bin/np test-setup
	bash integration/compat.sh

# The signal, terminal and lifetime tests again, started as carelessly as
# `nohup make test &` would with umask 077 and no terminal (about 60 s).
robust: bin/np test-setup $(PROFILES)
	bash integration/robust.sh

# np in real containers: Debian's Docker engine started for the run (as root),
# images made by docker import, the engine's default seccomp profile.
containers: bin/np test-setup
	bash integration/containers.sh

# The README's test command on a fresh machine: .ci/run inside a Debian 12
# container made by debootstrap (see integration/fresh-check.sh). As root.
fresh-check:
	bash integration/fresh-check.sh

# np's tests on Debian's own kernels (bullseye's 5.10, bookworm's 6.1) and
# on CentOS 7.9's 3.10.0-1160.el7 and vanilla 4.4.178 (../shared/kernels),
# each booted under qemu without KVM from an initramfs holding bin/np and
# the compiled tests (see integration/kernels.sh). kernel-smoke is the short
# set on 5.10, el7 and 4.4 that CI runs; ARCH=arm64 boots Debian's arm64
# kernels.
kernel-smoke: bin/np bare test-setup
	ARCH=$(ARCH) bash integration/kernels.sh smoke

kernels: bin/np bare test-setup
	ARCH=$(ARCH) bash integration/kernels.sh full

# The smoke set on Debian's arm64 kernel (bookworm) under qemu-system-aarch64.
kernel-smoke-arm64: bin/np-aarch64 test-setup
	ARCH=arm64 KERNELS=bookworm bash integration/kernels.sh smoke

# Nix's own functional test suite (tests/functional) of the Nix np carries,
# from Debian's source package of that version, run through np: the whole
# suite in ns, ptrace and ptrace without seccomp, with a table of results
# (see integration/nixsuite/suite.sh and the README); the subset make test
# runs (integration/nixsuite/subset.txt) in ns and ptrace.
$(BUILD)/nixsuite/nix-src.stamp: $(BUILD)/debs.list integration/nixsuite/fetch-src.sh assets/private-apt.sh
	bash integration/nixsuite/fetch-src.sh $(BUILD)/nixsuite $(BUILD)/debs.list

nix-src: $(BUILD)/nixsuite/nix-src.stamp

nix-functional: bin/np test-setup nix-src
	bash integration/nixsuite/suite.sh

nix-functional-subset: bin/np test-setup nix-src
	bash integration/nixsuite/suite.sh -r "ns ptrace" -s integration/nixsuite/subset.txt


# The data dir and HOME on NFS (v4.2 and v3), served and mounted by
# bookworm's kernel in one qemu VM (see integration/nfs.sh); nfs-smoke is
# NFSv4.2's short set, which CI runs.
nfs-smoke: bin/np test-setup
	bash integration/nfs.sh smoke

nfs: bin/np test-setup
	bash integration/nfs.sh full


test: lint unit reproducible reproducible-arm64 integration compat syscalls robust containers nix-functional-subset kernel-smoke kernel-smoke-arm64 nfs-smoke

bench: bin/np
	bash integration/bench-startup.sh
	bash integration/bench.sh
	bash integration/bench-bundle.sh

# The start-up rows of make bench alone (a minute or two).
bench-startup: bin/np
	bash integration/bench-startup.sh

# An offline example end to end: a fresh data dir, a build, a sandboxed run.
demo: bin/np
	bash integration/demo.sh

clean:
	rm -rf bin $(BUILD)/np-bare $(BUILD)/payload.tar.zst $(ARM64)/np-bare $(ARM64)/payload.tar.zst

distclean:
	rm -rf bin $(BUILD)
