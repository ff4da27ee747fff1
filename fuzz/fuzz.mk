# the libFuzzer harnesses (fuzz/README.md), built against the configured
# nginx tree of "make build"; called by the top Makefile's "fuzz" target

CLANG ?= clang-14
TREE ?= $(BUILD)/nginx-src-$(ALLOCATOR)
FUZZ_DIR := $(BUILD)/fuzz
SRC := ngx_coinhunt_module
# the module's layers (README.md, "Source map"): a file is found by its name
LAYERS := $(wildcard $(SRC)/*/)
vpath ngx_http_coinhunt_%.c $(LAYERS)

FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all \
	-I fuzz -I $(SRC) $(addprefix -I ,$(LAYERS)) -I $(OBJS) \
	-I /usr/include/luajit-2.1 \
	$(addprefix -I $(TREE)/src/,core event event/modules os/unix http \
	  http/modules http/v2)

FUZZ_TARGETS := params token redis_reply rules

# each harness and the module files it drives
params_SRCS := parse
token_SRCS := token
redis_reply_SRCS := redis_reply parse
redis_reply_LIBS := -lhiredis
rules_SRCS := lua_sandbox lua_verdict parse
rules_LIBS := -lluajit-5.1 -lm

.PHONY: all
all: $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))

$(FUZZ_DIR)/obj/%.o: ngx_http_coinhunt_%.c $(wildcard $(SRC)/*.h $(SRC)/*/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/obj/fuzz-%.o: fuzz/%.c fuzz/ngx_fuzz.h $(wildcard $(SRC)/*.h $(SRC)/*/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

define ngx_fuzz_target
$(FUZZ_DIR)/$(1): $(FUZZ_DIR)/obj/fuzz-$(1).o \
		$(FUZZ_DIR)/obj/fuzz-ngx_fuzz_support.o \
		$(patsubst %,$(FUZZ_DIR)/obj/%.o,$($(1)_SRCS))
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $$^ $($(1)_LIBS) -o $$@
endef

$(foreach t,$(FUZZ_TARGETS),$(eval $(call ngx_fuzz_target,$(t))))
