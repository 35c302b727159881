# mk/config.mk - compilers, flags and build variants.
#
# Every variant builds into its own tree, so switching flags never mixes
# objects:  build/plain  build/asan  build/tsan   (and *-clang with CC=clang).

VARIANT ?= plain
ifeq ($(origin CC),default)
CC := cc
endif
AR ?= ar

CC_TAG := $(if $(findstring clang,$(notdir $(CC))),-clang)
BUILD := build/$(VARIANT)$(CC_TAG)

WARN := -Wall -Wextra -Werror -Werror=return-type -Wshadow -Wformat=2 \
        -Wno-format-nonliteral -Wmissing-prototypes -Wstrict-prototypes
BASE_CFLAGS := -std=gnu11 $(WARN) -g -MMD -MP -Icommon -Itests/harness

ifeq ($(VARIANT),plain)
OPT := -O2
SAN :=
else ifeq ($(VARIANT),asan)
OPT := -O1 -fno-omit-frame-pointer
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
else ifeq ($(VARIANT),tsan)
OPT := -O1 -fno-omit-frame-pointer
SAN := -fsanitize=thread
else
$(error VARIANT must be plain, asan or tsan, not '$(VARIANT)')
endif

CFLAGS ?=
LDFLAGS ?=
ALL_CFLAGS := $(BASE_CFLAGS) $(OPT) $(SAN) $(CFLAGS)
ALL_LDFLAGS := $(SAN) $(LDFLAGS)

CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(or $(shell pkg-config --libs cmocka 2>/dev/null),-lcmocka)

# Each chapter binary runs under this many seconds of timeout(1), so a
# hung program can never hang the suite.
TEST_TIMEOUT ?= 300

# Optional libraries (mk/deps.sh names their packages).  A program that
# needs one is built only when pkg-config finds it; otherwise the build
# leaves $(BUILD)/bin/absent/NAME, one line saying why, and the harness
# skips the scenarios that need NAME with that line as the reason.
#   FEATURE_PKG_x  the pkg-config module   FEATURE_DEB_x  the Debian package
FEATURES := uring libevent
FEATURE_PKG_uring := liburing
FEATURE_DEB_uring := liburing-dev
FEATURE_PKG_libevent := libevent
FEATURE_DEB_libevent := libevent-dev
$(foreach f,$(FEATURES),\
  $(eval HAVE_$(f) := $(shell pkg-config --exists $(FEATURE_PKG_$(f)) 2>/dev/null && echo yes))\
  $(eval LIBS_$(f) := $(if $(HAVE_$(f)),$(shell pkg-config --libs $(FEATURE_PKG_$(f))))))
