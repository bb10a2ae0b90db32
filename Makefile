# koala's build, test and benchmark entry points. `make test` is the test command
# the README and .ci/run use.
GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/koala-stack/koala/pkg/cli.Version=$(VERSION)
export CGO_ENABLED = 0

.PHONY: build test vet
build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/koala ./cmd/koala
	# The in-image runtime; build-images finds it next to the koala binary.
	$(GO) build -trimpath -ldflags '-s -w' -o $(BIN)/kolla-runtime ./cmd/kolla-runtime

test:
	$(GO) test -count=1 -timeout 80m ./...

vet:
	$(GO) vet ./...

# The Debian base image (debootstrap, cached tarball, import): `koala lab base`.
.PHONY: base-image
base-image:
	$(GO) run ./cmd/koala lab base

# Engine benchmark: ansible-playbook vs koala run on a loopback sshd fleet
# (needs root, openssh-server, ansible-core); see docs/BENCHMARKS.md.
.PHONY: bench-engine
bench-engine: build
	bench/engine/run.sh

# Build benchmark: no-change rebuild of the image tree and cold --threads 4 vs 1
# on the local Docker engine; see docs/BENCHMARKS.md (section Build).
.PHONY: bench-build
bench-build: build
	bench/build/run.sh

# Deploy benchmark: first deploy and no-change redeploys of a fresh 3-node lab,
# wall time and controller CPU; see docs/BENCHMARKS.md (section Deploy).
.PHONY: bench-deploy
bench-deploy: build
	bench/deploy/run.sh

# Fuzz the inventory parsers (they must never panic on any input).
.PHONY: fuzz-inventory
fuzz-inventory:
	$(GO) test -run XXX -fuzz FuzzParseINI -fuzztime 60s ./pkg/inventory
	$(GO) test -run XXX -fuzz FuzzParseYAML -fuzztime 60s ./pkg/inventory

# End-to-end: lab up → build-images → bootstrap-servers → prechecks → deploy →
# post-deploy → `openstack token issue` through the VIP, a no-change redeploy,
# failover of the VIP holder (needs root, Docker, Debian's mirror); see tests/e2e.
.PHONY: e2e
e2e: build
	tests/e2e/run.sh

# The main job on the built-in default: a 3-node lab (base image, nodes with
# sshd and dockerd, a registry), prepared and checked by koala's own commands.
LAB_DIR ?= $(HOME)/.cache/koala/lab/koala
.PHONY: lab
lab: build
	$(BIN)/koala lab base
	$(BIN)/koala lab up --nodes 3 --lab-dir $(LAB_DIR)
	test -f $(LAB_DIR)/passwords.yml || install -m 0640 templates/etc/kolla/passwords.yml $(LAB_DIR)/passwords.yml
	$(BIN)/koala genpwd -p $(LAB_DIR)/passwords.yml
	$(BIN)/koala bootstrap-servers -i $(LAB_DIR)/multinode --configdir $(LAB_DIR)
	$(BIN)/koala prechecks -i $(LAB_DIR)/multinode --configdir $(LAB_DIR)
	$(BIN)/koala lab status
