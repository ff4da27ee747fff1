# coinhunt: build, run and test ngx_http_coinhunt_module against Debian's
# packaged nginx.  "make run" and "make test" are all a newcomer needs.

SHELL := /bin/bash

ALLOCATOR ?= jemalloc
export ALLOCATOR
PORT ?= 8080
NGINX ?= /usr/sbin/nginx
NGX_SRC ?= /usr/share/nginx/src

BUILD := $(CURDIR)/build
PROMTOOL := $(BUILD)/prometheus/usr/bin/promtool

# "make test" passes (see there), chosen before SANITIZE overrides ALLOCATOR
ifeq ($(VALGRIND),1)
TEST_PASSES := valgrind
else ifeq ($(SANITIZE),1)
TEST_PASSES := asan
else ifeq ($(origin ALLOCATOR),command line)
TEST_PASSES := $(ALLOCATOR)
else
TEST_PASSES := jemalloc asan
# the whole "make test" also runs the libc build's heap tests, the page in
# Chromium, a short fuzz pass and lintian on the Debian package
TEST_EXTRAS := test-libc-heap test-browser fuzz test-lintian
# the package installed into this machine's own nginx: only in CI
ifeq ($(CI),true)
TEST_EXTRAS += test-deb
endif
endif

# SANITIZE=1: the libc build with ASan+UBSan in build/asan; libc so that
# ASan sees the module's heap (jemalloc's arenas are invisible to it)
ifeq ($(SANITIZE),1)
override ALLOCATOR := libc
VARIANT := asan
SO_DIR := $(BUILD)/asan
SAN_OPT := -fsanitize=address,undefined -fno-omit-frame-pointer
else ifeq ($(ALLOCATOR),jemalloc)
VARIANT := jemalloc
SO_DIR := $(BUILD)
else
VARIANT := $(ALLOCATOR)
SO_DIR := $(BUILD)/$(ALLOCATOR)
endif
OBJS := $(BUILD)/objs-$(VARIANT)
MODULE := $(SO_DIR)/ngx_http_coinhunt_module.so
FLOOR := $(BUILD)/ngx_http_bench_floor_module.so
# Debian's nginx is not instrumented: the sanitizer runtimes are preloaded
SAN_RUNTIME = $(shell gcc -print-file-name=libasan.so) \
	$(shell gcc -print-file-name=libubsan.so)

# Debian's libjemalloc uses initial-exec TLS: dlopen() needs this headroom
export GLIBC_TUNABLES := glibc.rtld.optional_static_tls=4096

DEB_PACKAGES := nginx nginx-dev gcc make pkg-config libjemalloc-dev \
	libluajit2-5.1-dev libhiredis-dev redis-server curl \
	libtest-base-perl libipc-run-perl libhttp-message-perl liburi-perl \
	libtext-diff-perl liblist-moreutils-perl gdb
# the browser test of the demo page (t/browser/): Debian's Chromium, and
# node with npm for playwright-core (Debian's nodejs and npm if none is there)
BROWSER_PACKAGES := chromium fonts-dejavu-core
BROWSER_NPM := t/browser/node_modules/.package-lock.json
# the designer's test kit (lua/coinhunt/): the OpenResty branch's luajit,
# never Debian's "luajit" package, which apt installs by removing
# libnginx-mod-http-lua
KIT_PACKAGES := luajit2
# "make deb": debhelper (dh_nginx comes with nginx-dev), the module's
# build dependencies (debian/control), lintian for the test
DEB_BUILD_PACKAGES := debhelper dpkg-dev lintian nginx-dev gcc make \
	pkg-config libjemalloc-dev libluajit2-5.1-dev libhiredis-dev
BENCH_PACKAGES := wrk gnuplot-nox linux-perf util-linux \
	libnginx-mod-http-lua lua-resty-core lua-resty-lrucache lua-nginx-redis

# the options Debian's nginx was built with ("nginx -V")
NGX_CC_OPT := -g -O2 -fstack-protector-strong -Wformat \
	-Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2 $(SAN_OPT)
NGX_LD_OPT := -Wl,-z,relro -Wl,-z,now -fPIC $(SAN_OPT)

SOURCES := config $(wildcard ngx_coinhunt_module/*.[ch] ngx_coinhunt_module/*/*.[ch])

.PHONY: all deps run-deps valgrind-deps bench-deps build run test \
	test-libc-heap test-browser bench fuzz install uninstall clean FORCE \
	rules-test deb test-lintian test-deb

all: build

# everything the tests need; "make run" needs only the server's part
deps: $(BROWSER_NPM) $(PROMTOOL)
	@./tools/apt-ensure $(DEB_PACKAGES) $(KIT_PACKAGES) $(BROWSER_PACKAGES) \
	  $(FUZZ_PACKAGES) $(DEB_BUILD_PACKAGES)

run-deps:
	@./tools/apt-ensure $(DEB_PACKAGES)

# npm ci only when the lock file changed since the last install
$(BROWSER_NPM): t/browser/package.json t/browser/package-lock.json
	@command -v npm >/dev/null || ./tools/apt-ensure nodejs npm
	@echo "installing t/browser's npm packages (npm ci)"
	@cd t/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

valgrind-deps: deps
	@./tools/apt-ensure valgrind

bench-deps: deps
	@./tools/apt-ensure $(BENCH_PACKAGES)

# the benchmark (bench/README.md): "make bench QUICK=1" is the 2-minute version
bench: bench-deps build $(FLOOR)
	@QUICK=$(QUICK) MODULE=$(MODULE) FLOOR=$(FLOOR) ./bench/run

# bench/floor: a content handler that only answers, the bench's floor row
$(FLOOR): bench/floor/config bench/floor/ngx_http_bench_floor_module.c
	@rm -rf $(BUILD)/nginx-src-floor $(BUILD)/objs-floor
	@cp -r $(NGX_SRC) $(BUILD)/nginx-src-floor
	@cd $(BUILD)/nginx-src-floor && . ./conf_flags && \
	  ./configure "$${NGX_CONF_FLAGS[@]}" --with-cc-opt="$(NGX_CC_OPT)" \
	    --with-ld-opt="$(NGX_LD_OPT)" \
	    --add-dynamic-module=$(CURDIR)/bench/floor \
	    --builddir=$(BUILD)/objs-floor > $(BUILD)/configure-floor.log 2>&1 \
	  || { tail -20 $(BUILD)/configure-floor.log; exit 1; }
	@$(MAKE) -s -C $(BUILD)/nginx-src-floor -f $(BUILD)/objs-floor/Makefile \
	  modules >/dev/null
	@cp $(BUILD)/objs-floor/ngx_http_bench_floor_module.so $@
	@echo "built $@"

build: $(MODULE)

# reconfigure when config or the configure options change, not on every edit
CONFIGURE_ARGS := $(VARIANT) $(ALLOCATOR) $(NGX_SRC) $(NGX_CC_OPT) $(NGX_LD_OPT)
$(BUILD)/configure-$(VARIANT).args: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CONFIGURE_ARGS)' | cmp -s - $@ || echo '$(CONFIGURE_ARGS)' > $@

$(OBJS)/Makefile: config VERSION $(BUILD)/configure-$(VARIANT).args
	@rm -rf $(BUILD)/nginx-src-$(VARIANT) $(OBJS)
	@mkdir -p $(BUILD)
	@cp -r $(NGX_SRC) $(BUILD)/nginx-src-$(VARIANT)
	@echo "configuring against $(NGX_SRC) (conf_flags), build $(VARIANT)"
	@cd $(BUILD)/nginx-src-$(VARIANT) && . ./conf_flags && \
	  COINHUNT_ALLOCATOR=$(ALLOCATOR) ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt="$(NGX_CC_OPT)" --with-ld-opt="$(NGX_LD_OPT)" \
	    --add-dynamic-module=$(CURDIR) --builddir=$(OBJS) \
	    > $(BUILD)/configure-$(VARIANT).log 2>&1 \
	  || { tail -20 $(BUILD)/configure-$(VARIANT).log; exit 1; }

$(MODULE): $(OBJS)/Makefile $(SOURCES)
	@$(MAKE) -s -C $(BUILD)/nginx-src-$(VARIANT) -f $(OBJS)/Makefile \
	  modules >/dev/null
	@mkdir -p $(SO_DIR)
	@# a new file, not the old one rewritten: running nginx keep their copy
	@cp $(OBJS)/ngx_http_coinhunt_module.so $@.tmp && mv -f $@.tmp $@
	@echo "built $@"

run: run-deps build
	@./tools/run-nginx "$(MODULE)" "$(PORT)" "$(NGINX)" "$(RULES)"

# a rules file's own test by the designer's test kit, no nginx needed
# (lua/README.md, "Testing your rules"): "make rules-test RULES=conf/hunt.lua"
# runs conf/hunt_test.lua; without RULES, the test of every rules file in
# conf/ and lua/examples/
RULES_FILES := $(filter-out %_test.lua,$(wildcard conf/*.lua lua/examples/*.lua))

rules-test:
	@./tools/apt-ensure $(KIT_PACKAGES)
	@lua/coinhunt-test $(or $(RULES),$(RULES_FILES))

# the whole suite, once a pass, each on a free port and a servroot of its
# own: "jemalloc", "libc" (plain builds), "asan" (the libc build with
# ASan+UBSan, the runtimes preloaded into nginx, any report fails the test),
# "valgrind" (the libc build under valgrind).  Plain "make test" (CI) runs
# jemalloc and asan; ALLOCATOR=, SANITIZE=1 or VALGRIND=1 run one pass.
# tools/layers checks the build's objects first (DESIGN.md's layers).
# prove uses the real Test::Nginx when it is installed, else t/compat (always
# for asan and valgrind: only t/compat checks their reports).
test: deps $(if $(filter valgrind,$(TEST_PASSES)),valgrind-deps)
	@set -e; for p in $(TEST_PASSES); do \
	  case $$p in \
	    asan) args=SANITIZE=1 a=libc so=$(BUILD)/asan v=asan \
	      env="TEST_NGINX_SANITIZE='$(strip $(SAN_RUNTIME))'" ;; \
	    valgrind) args=ALLOCATOR=libc a=libc so=$(BUILD)/libc v=libc \
	      env="TEST_NGINX_USE_VALGRIND=$${TEST_NGINX_USE_VALGRIND:-1}" ;; \
	    *) args=ALLOCATOR=$$p a=$$p env= v=$$p \
	      so=$(BUILD)$$([ $$p = jemalloc ] || echo /$$p) ;; \
	  esac; \
	  $(MAKE) -s build $$args; \
	  ./tools/layers ngx_coinhunt_module $(BUILD)/objs-$$v; \
	  so=$$so/ngx_http_coinhunt_module.so; \
	  echo "== the suite, $$p pass ($$so)"; \
	  inc=; [ -z "$$env" ] && perl -c -MTest::Nginx::Socket -e1 \
	    >/dev/null 2>&1 || inc="-I t/compat"; \
	  port=$${TEST_NGINX_PORT:-$$(perl -MIO::Socket::INET -e 'print \
	    IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1")->sockport')}; \
	  eval env MAKEFLAGS= ALLOCATOR=$$a $$env TEST_COINHUNT_VARIANT=$$v \
	    TEST_NGINX_BINARY=$(NGINX) \
	    TEST_NGINX_LOAD_MODULES=$$so TEST_NGINX_PORT=$$port \
	    TEST_NGINX_SERVROOT=$(CURDIR)/t/servroot-$$p prove $$inc -r t/; \
	done
	@for t in $(TEST_EXTRAS); do $(MAKE) -s $$t || exit 1; done

# the plain libc build's heap: its mallinfo2() figures and its allocation
# counts (the ASan pass is libc too, but its heap is the sanitizer's)
HEAP_TESTS := t/021-tap-lifecycle.t t/030-heap.t t/031-heap-preload.t

test-libc-heap: deps
	@$(MAKE) -s build ALLOCATOR=libc
	@echo "== the heap tests, libc build ($(BUILD)/libc)"
	@inc=; perl -c -MTest::Nginx::Socket -e1 >/dev/null 2>&1 \
	  || inc="-I t/compat"; \
	  env MAKEFLAGS= ALLOCATOR=libc TEST_NGINX_BINARY=$(NGINX) \
	  TEST_NGINX_LOAD_MODULES=$(BUILD)/libc/ngx_http_coinhunt_module.so \
	  TEST_NGINX_SERVROOT=$(CURDIR)/t/servroot-libc prove $$inc $(HEAP_TESTS)

# the demo page in headless Chromium, served as "make run" serves it
test-browser: deps build
	@echo "== the demo page in Chromium (t/browser/demo.test.js)"
	@cd t/browser && COINHUNT_MODULE=$(MODULE) NGINX=$(NGINX) \
	  node --test --test-reporter=spec demo.test.js

# libFuzzer harnesses of the parsers of untrusted bytes (fuzz/README.md):
# each runs FUZZ_TIME seconds ("make fuzz FUZZ_TIME=600 FUZZ=rules": one, long)
FUZZ_TIME ?= 15
FUZZ_PACKAGES := clang-14 libclang-rt-14-dev

fuzz: deps build
	@./tools/apt-ensure $(FUZZ_PACKAGES)
	@$(MAKE) -s -f fuzz/fuzz.mk BUILD=$(BUILD) OBJS=$(OBJS)
	@FUZZ_TIME=$(FUZZ_TIME) ./fuzz/run $(FUZZ)

# promtool, for t/003-promtool.t: Debian's prometheus package unpacked, never
# installed (tools/unpack-promtool)
$(PROMTOOL):
	@./tools/unpack-promtool $(BUILD)/prometheus

# the Debian package (debian/, tools/make-deb), version from VERSION
DEB := $(BUILD)/libnginx-mod-http-coinhunt_$(shell cat VERSION)_$(shell \
	dpkg --print-architecture).deb
DEB_INPUTS := $(SOURCES) VERSION CHANGELOG.md LICENSE README.md \
	$(wildcard conf/*.lua conf/*.conf debian/* debian/*/*) \
	tools/make-deb tools/deb-changelog

deb: $(DEB)

$(DEB): $(DEB_INPUTS)
	@./tools/apt-ensure $(DEB_BUILD_PACKAGES)
	@./tools/make-deb $@

# lintian on what "make deb" built: no error or warning (the overrides and
# why are in debian/libnginx-mod-http-coinhunt.lintian-overrides)
test-lintian: deb
	@echo "== lintian on $(notdir $(DEB)) and its .changes"
	@lintian --info --fail-on error,warning \
	  $(BUILD)/deb/$(basename $(notdir $(DEB))).changes 2>&1 \
	  | grep -v '^running with root privileges'; \
	  exit $${PIPESTATUS[0]}

# the package in this machine's own nginx: apt-get install, nginx -t, a join
# and a tap on a loopback port, apt-get purge, nothing left (tools/test-deb).
# "make test" runs it only when CI=true: it changes the machine while it runs
test-deb: deb
	@echo "== the package in the system nginx (tools/test-deb)"
	@$$([ "$$(id -u)" -eq 0 ] || echo sudo) ./tools/test-deb $(DEB)

# the layout of Debian's own libnginx-mod-* packages
MODULES_DIR := /usr/lib/nginx/modules
AVAILABLE := /usr/share/nginx/modules-available/mod-http-coinhunt.conf
ENABLED := /etc/nginx/modules-enabled/50-mod-http-coinhunt.conf
DROPIN := /etc/systemd/system/nginx.service.d/coinhunt-glibc-tunables.conf

install: build
	@[ -z "$(SAN_OPT)" ] || { echo "make install: not a SANITIZE=1 build" \
	  "(it runs only with the ASan runtime preloaded)" >&2; exit 1; }
	install -D -m 644 $(MODULE) $(DESTDIR)$(MODULES_DIR)/ngx_http_coinhunt_module.so
	install -d $(DESTDIR)$(dir $(AVAILABLE)) $(DESTDIR)$(dir $(ENABLED)) \
	  $(DESTDIR)$(dir $(DROPIN))
	echo "load_module $(MODULES_DIR)/ngx_http_coinhunt_module.so;" \
	  > $(DESTDIR)$(AVAILABLE)
	ln -sf $(AVAILABLE) $(DESTDIR)$(ENABLED)
	printf '[Service]\nEnvironment=GLIBC_TUNABLES=$(GLIBC_TUNABLES)\n' > $(DESTDIR)$(DROPIN)
	@./tools/install-check "$(DESTDIR)" "$(NGINX)"

uninstall:
	rm -f $(DESTDIR)$(MODULES_DIR)/ngx_http_coinhunt_module.so \
	  $(DESTDIR)$(AVAILABLE) $(DESTDIR)$(ENABLED) $(DESTDIR)$(DROPIN)
	-rmdir $(DESTDIR)$(dir $(DROPIN)) 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
	  systemctl daemon-reload; fi

clean:
	rm -rf $(BUILD) t/servroot* t/browser/node_modules
