# mk/rules.mk - one rule per program, expanded from each chapter's
# programs.mk.  A chapter directory chNN-topic declares
#
#   chNN_PROGS := prog1 prog2        one prog.c each, in that directory
#   chNN_SRCS_prog1 := module.c      extra sources of one program (optional)
#   chNN_LDLIBS_prog1 := -pthread    extra libraries of one program (optional)
#   chNN_PEERS := oob_send           programs of other chapters its tests run
#   chNN_NEEDS_prog1 := libevent     optional libraries (mk/config.mk FEATURES)
#                                    without which prog1 is not built
#
# and gets $(BUILD)/bin/prog1 ..., plus the test binary
# $(BUILD)/tests/chNN_test from tests/chNN_test.c when that file exists.

LIB := $(BUILD)/lib/libhpsp.a
LIB_SRCS := $(wildcard common/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)

HARNESS := $(BUILD)/lib/libharness.a
HARNESS_SRCS := $(wildcard tests/harness/*.c)
HARNESS_OBJS := $(HARNESS_SRCS:%.c=$(BUILD)/obj/%.o)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/%.o: ALL_CFLAGS += $(CMOCKA_CFLAGS)

# An archive is rebuilt from scratch when a member changes or when the
# list of members does (a source split in two, or removed): NAME.members
# holds the list and is rewritten only when it differs.
.PHONY: FORCE
$(BUILD)/lib/%.members: FORCE
	@mkdir -p $(@D)
	@echo '$(sort $(MEMBERS_$*))' | cmp -s - $@ 2>/dev/null || \
		echo '$(sort $(MEMBERS_$*))' > $@
MEMBERS_libhpsp := $(LIB_OBJS)
MEMBERS_libharness := $(HARNESS_OBJS)

$(LIB): $(LIB_OBJS) $(BUILD)/lib/libhpsp.members
	rm -f $@ && $(AR) rcs $@ $(filter %.o,$^)

$(HARNESS): $(HARNESS_OBJS) $(BUILD)/lib/libharness.members
	rm -f $@ && $(AR) rcs $@ $(filter %.o,$^)

chapter_key = $(firstword $(subst -, ,$(1)))
space := $(subst ,, )

# What is not built, and why: $(BUILD)/bin/absent/NAME holds one line for
# each missing feature and each program not built for lack of one.  The
# harness reads it: a scenario that needs NAME is skipped with that line.
# Rewritten on every build, so installing the package clears it.
absent_reason = $(1): not built: pkg-config finds no $(FEATURE_PKG_$(2)) (install $(FEATURE_DEB_$(2)))
missing_features = $(strip $(foreach f,$(1),$(if $(HAVE_$(f)),,$(f))))
ABSENT_DIR := $(BUILD)/bin/absent
ABSENT_NAMES := $(foreach f,$(FEATURES),$(if $(HAVE_$(f)),,$(f)))
$(foreach f,$(ABSENT_NAMES),$(eval ABSENT_WHY_$(f) := $(call absent_reason,$(f),$(f))))

.PHONY: absent-markers
absent-markers:
	@rm -rf $(ABSENT_DIR) && mkdir -p $(ABSENT_DIR)
	@$(foreach n,$(ABSENT_NAMES),printf '%s\n' '$(ABSENT_WHY_$(n))' > $(ABSENT_DIR)/$(n);) true

# A program whose optional library is missing: a reason, not a binary.
# $(1) chapter dir, $(2) key (ch05), $(3) program name
define ABSENT_PROGRAM_RULE
ABSENT_NAMES += $(3)
ABSENT_WHY_$(3) := $(call absent_reason,$(3),$(firstword $(call missing_features,$($(2)_NEEDS_$(3)))))
ALL_SRCS += $(1)/$(3).c $(call src_paths,$(1),$($(2)_SRCS_$(3)))
endef

# A program's extra sources, named relative to its chapter directory
# $(1), as paths from the top: a module of another chapter
# (../ch14-thread/locker.c) is then the same source, and the same object,
# as that chapter's own, not a second copy under ch15-pools/../.
src_paths = $(patsubst $(CURDIR)/%,%,$(abspath $(addprefix $(1)/,$(2))))

# $(1) chapter dir, $(2) key (ch05), $(3) program name
define PROGRAM_RULE
$(BUILD)/bin/$(3): $(BUILD)/obj/$(1)/$(3).o \
		$(patsubst %.c,$(BUILD)/obj/%.o,$(call src_paths,$(1),$($(2)_SRCS_$(3)))) $(LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIB) $($(2)_LDLIBS_$(3))
ALL_PROGS += $(BUILD)/bin/$(3)
$(2)_BINS += $(BUILD)/bin/$(3)
ALL_SRCS += $(1)/$(3).c $(call src_paths,$(1),$($(2)_SRCS_$(3)))
endef

# $(1) chapter key (ch05), $(2) test name (ch05_test, ch09_echo_test)
define TEST_RULE
$(BUILD)/tests/$(2): $(BUILD)/obj/tests/$(2).o $(HARNESS) $(LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$< $(HARNESS) $(LIB) $$(CMOCKA_LIBS)
ALL_TESTS += $(BUILD)/tests/$(2)
$(1)_TESTS += $(BUILD)/tests/$(2)
ALL_SRCS += tests/$(2).c
endef

# A chapter's tests: tests/chNN_test.c, and tests/chNN_*_test.c when one
# binary would be too much (each is a cmocka binary with its own table).
define CHAPTER_RULES
include $(1)/programs.mk
$$(foreach p,$$($(2)_PROGS),$$(eval $$(call $$(if $$(call missing_features,$$($(2)_NEEDS_$$(p))),ABSENT_PROGRAM_RULE,PROGRAM_RULE),$(1),$(2),$$(p))))
$(2)_BINS += $$(addprefix $(BUILD)/bin/,$$(foreach p,$$($(2)_PEERS),$$(if $$(ABSENT_WHY_$$(p)),,$$(p)))) absent-markers
$(2)_TEST_NAMES := $(basename $(notdir $(wildcard tests/$(2)_test.c tests/$(2)_*_test.c)))
$$(foreach t,$$($(2)_TEST_NAMES),$$(eval $$(call TEST_RULE,$(2),$$(t))))
ifneq ($$($(2)_TEST_NAMES),)
TESTED_CHAPTERS += $(2)
endif
endef

$(foreach d,$(CHAPTERS),$(eval $(call CHAPTER_RULES,$(d),$(call chapter_key,$(d)))))

# Unit tests: tests/unit/test_NAME.c, linked with the harness (hh_fork
# runs what exits in a child), the library and any chapter module listed
# in UNIT_SRCS_test_NAME.
UNIT_NAMES := $(basename $(notdir $(wildcard tests/unit/test_*.c)))
define UNIT_RULE
$(BUILD)/tests/unit/$(1): $(BUILD)/obj/tests/unit/$(1).o \
		$(patsubst %.c,$(BUILD)/obj/%.o,$(UNIT_SRCS_$(1))) $(HARNESS) $(LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(HARNESS) $(LIB) $$(CMOCKA_LIBS) $(UNIT_LDLIBS_$(1))
UNIT_TESTS += $(BUILD)/tests/unit/$(1)
ALL_SRCS += tests/unit/$(1).c
endef
$(foreach u,$(UNIT_NAMES),$(eval $(call UNIT_RULE,$(u))))

ALL_SRCS += $(LIB_SRCS) $(HARNESS_SRCS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
