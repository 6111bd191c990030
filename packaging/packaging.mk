# Packaging: static cross builds of hubd, Debian packages for the Raspberry
# Pi and amd64, and an OpenWrt package. Included by the top Makefile; see
# packaging/README.md. Everything is written to packaging/out/.
#
#   make cross            static binaries for every target, sizes printed
#   make deb              the four .deb packages (builds what they need)
#   make ipk              the OpenWrt .ipk and .tar.gz
#   make packages         deb and ipk
#   make lint-deb         lintian on the .deb packages
#   make unit-security    systemd-analyze security score of hubd.service
#   make test-packaging   build everything and test it (part of make test)
#   make packaging-clean  remove packaging/out

PKG := packaging
PKG_OUT := $(PKG)/out
PKG_TARGETS := amd64 arm64 armv7 armv6 mipsle
PKG_DEB_TARGETS := amd64 arm64 armv7 armv6

# The package version, from VERSION (git describe): see
# packaging/scripts/debversion.sh. Reproducible: file times are the
# commit's time. Each is computed once per make run (":="), so a commit
# made meanwhile cannot give two parts of one build different versions.
PKG_VERSION := $(VERSION)
ifndef SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH := $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
endif
ifndef DEB_UPSTREAM_VERSION
DEB_UPSTREAM_VERSION := $(shell SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) bash $(PKG)/scripts/debversion.sh $(PKG_VERSION))
endif
DEB_REVISION ?= 1
DEB_MAINTAINER ?= hubd maintainers <hubd@example.org>

PKG_ENV = GO="$(GO)" OUT="$(abspath $(PKG_OUT))" VERSION="$(PKG_VERSION)" \
	SOURCE_DATE_EPOCH="$(SOURCE_DATE_EPOCH)" \
	DEB_UPSTREAM_VERSION="$(DEB_UPSTREAM_VERSION)" DEB_REVISION="$(DEB_REVISION)" \
	DEB_VERSION="$(DEB_UPSTREAM_VERSION)-$(DEB_REVISION)" \
	DEB_MAINTAINER="$(DEB_MAINTAINER)" MKPKG="$(abspath $(PKG_OUT))/tools/mkpkg"

.PHONY: cross deb ipk packages lint-deb unit-security test-packaging packaging-clean \
	packaging-stage packaging-mkpkg packaging-sizes \
	$(addprefix cross-,$(PKG_TARGETS)) $(addprefix deb-,$(PKG_DEB_TARGETS))

cross: $(addprefix cross-,$(PKG_TARGETS))
	@$(PKG_ENV) bash $(PKG)/scripts/sizes.sh

# One static binary: packaging/out/bin/TARGET/hubd.
$(addprefix cross-,$(PKG_TARGETS)): cross-%:
	@$(PKG_ENV) bash $(PKG)/scripts/build.sh $* $(abspath $(PKG_OUT))/bin/$*/hubd

packaging-sizes:
	@$(PKG_ENV) bash $(PKG)/scripts/sizes.sh

# mkpkg: nFPM as a library, in its own module (packaging/go.mod).
packaging-mkpkg:
	@cd $(PKG) && $(GO) build -o out/tools/mkpkg ./mkpkg

# Files every package shares: the configuration, man page and changelog.
packaging-stage: cross-amd64
	@$(PKG_ENV) bash $(PKG)/scripts/stage.sh

deb: $(addprefix deb-,$(PKG_DEB_TARGETS))
	@ls -l $(PKG_OUT)/*.deb

$(addprefix deb-,$(PKG_DEB_TARGETS)): deb-%: cross-% packaging-stage packaging-mkpkg
	@$(PKG_ENV) bash $(PKG)/scripts/deb.sh $*

ipk: cross-mipsle packaging-stage packaging-mkpkg
	@$(PKG_ENV) bash $(PKG)/scripts/ipk.sh

packages: deb ipk

lint-deb: deb
	@$(PKG_ENV) bash $(PKG)/scripts/lint.sh

unit-security:
	@bash $(PKG)/scripts/unit-security.sh $(PKG)/systemd/hubd.service

# Builds every binary and package (two at a time), then tests them: see
# packaging/scripts/test.sh. Needs root for the install test.
test-packaging:
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -j2 packages VERSION="$(PKG_VERSION)" SOURCE_DATE_EPOCH="$(SOURCE_DATE_EPOCH)" \
		DEB_UPSTREAM_VERSION="$(DEB_UPSTREAM_VERSION)" && \
	PKG_START=$$start $(PKG_ENV) bash $(PKG)/scripts/test.sh

packaging-clean:
	rm -rf $(PKG_OUT)

TEST_TARGETS += test-packaging
