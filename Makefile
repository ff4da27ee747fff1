# coinhunt: build, run and test ngx_http_coinhunt_module against Debian's
# packaged nginx.  "make run" and "make test" are all a newcomer needs.

SHELL := /bin/bash

ALLOCATOR ?= jemalloc
export ALLOCATOR
PORT ?= 8080
NGINX ?= /usr/sbin/nginx
NGX_SRC ?= /usr/share/nginx/src

BUILD := $(CURDIR)/build
ifeq ($(ALLOCATOR),jemalloc)
SO_DIR := $(BUILD)
else
SO_DIR := $(BUILD)/$(ALLOCATOR)
endif
OBJS := $(BUILD)/objs-$(ALLOCATOR)
MODULE := $(SO_DIR)/ngx_http_coinhunt_module.so

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
BENCH_PACKAGES := wrk gnuplot-nox linux-perf util-linux \
	libnginx-mod-http-lua lua-resty-core lua-resty-lrucache lua-nginx-redis

# the options Debian's nginx was built with ("nginx -V")
NGX_CC_OPT := -g -O2 -fstack-protector-strong -Wformat \
	-Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2
NGX_LD_OPT := -Wl,-z,relro -Wl,-z,now -fPIC

SOURCES := config $(wildcard ngx_coinhunt_module/*.[ch])

.PHONY: all deps run-deps bench-deps build run test test-browser bench fuzz \
	install uninstall clean FORCE

all: build

# everything the tests need; "make run" needs only the server's part
deps: $(BROWSER_NPM)
	@./tools/apt-ensure $(DEB_PACKAGES) $(BROWSER_PACKAGES) $(FUZZ_PACKAGES)

run-deps:
	@./tools/apt-ensure $(DEB_PACKAGES)

# npm ci only when the lock file changed since the last install
$(BROWSER_NPM): t/browser/package.json t/browser/package-lock.json
	@command -v npm >/dev/null || ./tools/apt-ensure nodejs npm
	@echo "installing t/browser's npm packages (npm ci)"
	@cd t/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

bench-deps: deps
	@./tools/apt-ensure $(BENCH_PACKAGES)

# the benchmark (bench/README.md): "make bench QUICK=1" is the 2-minute version
bench: bench-deps build
	@QUICK=$(QUICK) MODULE=$(MODULE) ./bench/run

build: $(MODULE)

# reconfigure when config or the configure options change, not on every edit
CONFIGURE_ARGS := $(ALLOCATOR) $(NGX_SRC) $(NGX_CC_OPT) $(NGX_LD_OPT)
$(BUILD)/configure-$(ALLOCATOR).args: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CONFIGURE_ARGS)' | cmp -s - $@ || echo '$(CONFIGURE_ARGS)' > $@

$(OBJS)/Makefile: config $(BUILD)/configure-$(ALLOCATOR).args
	@rm -rf $(BUILD)/nginx-src-$(ALLOCATOR) $(OBJS)
	@mkdir -p $(BUILD)
	@cp -r $(NGX_SRC) $(BUILD)/nginx-src-$(ALLOCATOR)
	@echo "configuring against $(NGX_SRC) (conf_flags), allocator $(ALLOCATOR)"
	@cd $(BUILD)/nginx-src-$(ALLOCATOR) && . ./conf_flags && \
	  COINHUNT_ALLOCATOR=$(ALLOCATOR) ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt="$(NGX_CC_OPT)" --with-ld-opt="$(NGX_LD_OPT)" \
	    --add-dynamic-module=$(CURDIR) --builddir=$(OBJS) \
	    > $(BUILD)/configure-$(ALLOCATOR).log 2>&1 \
	  || { tail -20 $(BUILD)/configure-$(ALLOCATOR).log; exit 1; }

$(MODULE): $(OBJS)/Makefile $(SOURCES)
	@$(MAKE) -s -C $(BUILD)/nginx-src-$(ALLOCATOR) -f $(OBJS)/Makefile \
	  modules >/dev/null
	@mkdir -p $(SO_DIR)
	@# a new file, not the old one rewritten: running nginx keep their copy
	@cp $(OBJS)/ngx_http_coinhunt_module.so $@.tmp && mv -f $@.tmp $@
	@echo "built $@"

run: run-deps build
	@./tools/run-nginx "$(MODULE)" "$(PORT)" "$(NGINX)" "$(RULES)"

# the whole suite against each allocator build ("make test ALLOCATOR=libc":
# that one only), on a free port; prove uses the real Test::Nginx when it is
# installed, else t/compat
ifeq ($(origin ALLOCATOR),command line)
TEST_ALLOCATORS := $(ALLOCATOR)
else
TEST_ALLOCATORS := jemalloc libc
endif

test: deps
	@set -e; for a in $(TEST_ALLOCATORS); do \
	  $(MAKE) -s build ALLOCATOR=$$a; \
	  so=$(BUILD)/$$([ $$a = jemalloc ] || echo $$a/)ngx_http_coinhunt_module.so; \
	  echo "== the suite against the $$a build ($$so)"; \
	  perl -c -MTest::Nginx::Socket -e1 >/dev/null 2>&1 \
	    || inc="-I t/compat"; \
	  port=$${TEST_NGINX_PORT:-$$(perl -MIO::Socket::INET -e 'print \
	    IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1")->sockport')}; \
	  ALLOCATOR=$$a TEST_NGINX_BINARY=$(NGINX) TEST_NGINX_LOAD_MODULES=$$so \
	    TEST_NGINX_PORT=$$port TEST_NGINX_SERVROOT=$(CURDIR)/t/servroot-$$a \
	    prove $$inc -r t/; \
	done
	@$(MAKE) -s test-browser
	@$(MAKE) -s fuzz

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

# the layout of Debian's own libnginx-mod-* packages
MODULES_DIR := /usr/lib/nginx/modules
AVAILABLE := /usr/share/nginx/modules-available/mod-http-coinhunt.conf
ENABLED := /etc/nginx/modules-enabled/50-mod-http-coinhunt.conf
DROPIN := /etc/systemd/system/nginx.service.d/coinhunt-glibc-tunables.conf

install: build
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
