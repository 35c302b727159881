# hpsp - the programs of "Linux High-Performance Server Programming", in C.
#
#   make demo CH=ch05   build and run one chapter's scenarios, with transcripts
#   make test           build everything and run every test (cmocka)
#   make help           everything else
#
# One non-recursive Makefile: mk/config.mk holds the flags, mk/rules.mk
# expands one rule per program from each chapter's programs.mk.

.DEFAULT_GOAL := all
SHELL := /bin/bash
MAKEFLAGS += --no-builtin-rules

include mk/config.mk

CHAPTERS := $(patsubst %/programs.mk,%,$(sort $(wildcard ch[0-9][0-9]-*/programs.mk)))

include mk/rules.mk

FENCE := $(BUILD)/bin/hpsp-fence
# tests/labs_test.c grades hostile lab hand-ins (make test-labs)
$(eval $(call TEST_RULE,labs,labs_test))

.PHONY: all programs tests test check grade grade-class test-labs check-asan check-tsan check-valgrind check-valgrind-run check-chapters print-chapters demo bench million mutants \
        deps deps-ok clean help compdb format fuzz $(addprefix test-,$(TESTED_CHAPTERS)) \
        test-unit test-unit-threaded

all: programs tests
programs: $(ALL_PROGS) $(FENCE) absent-markers
tests: $(ALL_TESTS) $(UNIT_TESTS)

# What the tests need on the machine; `make deps` installs it.
deps:
	@mk/deps.sh install
deps-ok:
	@mk/deps.sh ensure

# --- running the tests -----------------------------------------------------
# Each chapter binary runs under timeout(1); chapters run in parallel and
# their output is kept together (-O).  HPSP_BIN tells the harness where the
# programs under test are; PROG_<name>=/path replaces one (lab grading).
RUN_ENV = HPSP_BIN=$(abspath $(BUILD)/bin)
RUN = timeout -k 10 $(TEST_TIMEOUT)

# A skipped scenario counts as not passed: each chapter lists its skips
# after its score, and make test repeats them all at the end, so none
# scrolls by unseen.  Under CI=true or a grading run (PROG_<name> set) a
# skip is a failure.
SKIP_LOG = $(abspath $(BUILD))/skipped.txt
#
# Nothing may be left behind either: mk/leftovers.sh notes the System V
# objects, /dev/shm entries and processes of this build before the run and
# fails it for anything new after, and for anything left in the temp dir
# the harness is given (build/*/tmp).
test: deps-ok
	@$(MAKE) --no-print-directory -s all
	@rm -f $(SKIP_LOG)
	@mk/leftovers.sh before $(BUILD)
	@rc=0; $(MAKE) --no-print-directory -O -k -j2 RUN_ENV='$(RUN_ENV) HPSP_SKIP_LOG=$(SKIP_LOG) TMPDIR=$(abspath $(BUILD))/tmp' \
		test-unit $(addprefix test-,$(TESTED_CHAPTERS)) test-labs || rc=1; \
	mk/leftovers.sh after $(BUILD) || rc=1; \
	if [ -s $(SKIP_LOG) ]; then \
		echo "make test: some scenarios were SKIPPED and count as not passed:"; \
		cat $(SKIP_LOG); fi; exit $$rc

test-unit: $(UNIT_TESTS)
	@rc=0; for t in $(UNIT_TESTS); do $(RUN_ENV) $(RUN) $(TEST_WRAP) $$t || rc=1; done; exit $$rc

# The unit tests of threaded modules (UNIT_THREADED in a programs.mk), which
# make check also runs under ThreadSanitizer.
test-unit-threaded: $(patsubst %,$(BUILD)/tests/unit/%,$(UNIT_THREADED))
	@rc=0; for t in $^; do $(RUN_ENV) $(RUN) $$t || rc=1; done; exit $$rc

define RUN_CHAPTER
test-$(1): $$($(1)_TESTS) $$($(1)_BINS)
	@rc=0; for t in $$($(1)_TESTS); do $$(RUN_ENV) $$(RUN) $$$$t || rc=1; done; exit $$$$rc
endef
$(foreach c,$(TESTED_CHAPTERS),$(eval $(call RUN_CHAPTER,$(c))))

# make check: the same tests with the programs (and the tests) built with
# AddressSanitizer + UndefinedBehaviorSanitizer, then the plain programs
# under valgrind memcheck with fd tracking.  Any report fails the run.
# The labs' hostile hand-ins run in the valgrind pass, with the sandbox's
# hpsp-fence under memcheck (HPSP_FENCE_WRAP); not under ASan, whose
# shadow memory the sandbox's address-space limit would not hold.
SAN_ENV = ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1 \
          UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=86
check: deps-ok
	@rc=0; $(MAKE) --no-print-directory check-asan || rc=1; \
	$(MAKE) --no-print-directory check-tsan || rc=1; \
	$(MAKE) --no-print-directory check-valgrind || rc=1; \
	$(MAKE) --no-print-directory check-chapters || rc=1; \
	vg=valgrind; command -v valgrind >/dev/null || vg="no valgrind pass: not installed"; \
	if [ $$rc = 0 ]; then echo "make check: clean (ASan+UBSan, TSan, $$vg, chapters alone)"; \
	else echo "make check: FAILED (see above)"; fi; exit $$rc

check-asan:
	@$(MAKE) --no-print-directory -s VARIANT=asan all
	@echo "== make check: ASan + UBSan (build/asan)"
	@$(MAKE) --no-print-directory -O -k -j2 VARIANT=asan RUN_ENV='$(SAN_ENV) HPSP_SANITIZER=1 HPSP_BIN=$(abspath build/asan$(CC_TAG)/bin)' \
		test-unit $(addprefix test-,$(TESTED_CHAPTERS))

# ThreadSanitizer matters for the threaded programs (chapters 9, 14, 15);
# the whole suite runs, since a race can hide anywhere a thread exists, and
# so do the unit tests of threaded modules (test-unit-threaded).
check-tsan:
	@$(MAKE) --no-print-directory -s VARIANT=tsan all
	@echo "== make check: ThreadSanitizer (build/tsan)"
	@$(MAKE) --no-print-directory -O -k -j2 VARIANT=tsan RUN_ENV='TSAN_OPTIONS=halt_on_error=1:exitcode=86 HPSP_SANITIZER=1 HPSP_BIN=$(abspath build/tsan$(CC_TAG)/bin)' \
		test-unit-threaded $(addprefix test-,$(TESTED_CHAPTERS))

# Each chapter alone, from a fresh clone: make test-chNN and make demo
# CH=chNN build everything that chapter runs (mk/chapter-check.sh).
check-chapters:
	@echo "== make check: every chapter on its own, from a fresh clone of HEAD"
	@mk/chapter-check.sh $(CHECK_CHAPTERS)

print-chapters:
	@echo $(TESTED_CHAPTERS)

VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
check-valgrind:
	@if ! command -v valgrind >/dev/null; then \
		echo "make check: no valgrind: the memcheck pass is skipped (apt-get install valgrind)"; \
		exit 0; fi; \
	$(MAKE) --no-print-directory check-valgrind-run
check-valgrind-run:
	@$(MAKE) --no-print-directory -s all
	@echo "== make check: valgrind memcheck (build/plain programs, fd tracking)"
	@$(MAKE) --no-print-directory -O -k -j2 RUN_ENV='HPSP_VALGRIND=1 HPSP_FENCE_WRAP="$(VALGRIND) --vgdb=no" $(RUN_ENV)' TEST_WRAP='$(VALGRIND)' \
		LABS_TIMEOUT=1500 test-unit $(addprefix test-,$(TESTED_CHAPTERS)) test-labs

# --- the reader's view -----------------------------------------------------
CH_KEY = $(call chapter_key,$(CH))
demo: deps-ok
	@test -n "$(CH)" || { echo "usage: make demo CH=chNN   (one of: $(TESTED_CHAPTERS))" >&2; exit 2; }
	@test -n "$($(CH_KEY)_TESTS)" || { echo "make demo: no chapter '$(CH)'; try one of: $(TESTED_CHAPTERS)" >&2; exit 2; }
	@$(MAKE) --no-print-directory -s $($(CH_KEY)_TESTS) $($(CH_KEY)_BINS)
	@rc=0; for t in $($(CH_KEY)_TESTS); do $(RUN_ENV) $(RUN) $$t --demo || rc=1; done; exit $$rc

# Each chapter with a benchmark has chNN-topic/bench/run: it writes
# results.md, a CSV and a PNG beside itself.  Minutes, not seconds.
# ch15's bench/http (wrk against nginx and h2o) writes results-http.*,
# ch09's bench/conncost (the memory one connection costs) results-conncost.*,
# and its bench/heapsites (where a server's bytes per connection go, by
# allocation site, under valgrind's massif) results-heapsites.md.
BENCHES := $(sort $(wildcard ch[0-9][0-9]-*/bench/run ch[0-9][0-9]-*/bench/http \
                             ch[0-9][0-9]-*/bench/conncost \
                             ch[0-9][0-9]-*/bench/heapsites))
bench: deps-ok
	@$(MAKE) --no-print-directory -s all
	@test -n "$(BENCHES)" || { echo "make bench: no benchmark exists yet"; exit 0; }
	@rc=0; for b in $(BENCHES); do echo "== $$b"; HPSP_BIN=$(abspath $(BUILD)/bin) $$b || rc=1; done; exit $$rc

# make million: ch09's ramp to 10^6 idle connections (root, ~10 GB of free
# memory, ~10 minutes) in a private network namespace; it writes
# ch09-multiplex/bench/million.md, .csv and .png.  Not part of make test
# (tests/ch09_echo_test.c runs the same script at 20,000 connections).
million: deps-ok
	@$(MAKE) --no-print-directory -s all
	@HPSP_BIN=$(abspath $(BUILD)/bin) ch09-multiplex/bench/million

# make mutants: plausible wrong versions of the suite's own programs (one
# line changed, listed in chNN-topic/mutants), each graded like a student's
# build; every one must lose points.  A few minutes; not part of make test.
mutants: deps-ok
	@$(MAKE) --no-print-directory -s all
	@python3 mk/mutants.py --build $(BUILD) $(if $(CH),--chapter $(CH)) \
		$(if $(MUTANT),--only $(MUTANT))

# make fuzz: the HTTP request parser under libFuzzer (clang, with ASan and
# UBSan) for FUZZ_RUNS executions from its seed corpus (tests/fuzz/); any
# crash, hang (FUZZ_TIMEOUT s on one input), leak or sanitizer report
# fails it, and the input is left in build/fuzz/.
FUZZ_CC ?= clang
FUZZ_RUNS ?= 1000000
FUZZ_TIMEOUT ?= 10
FUZZ_BIN := build/fuzz/fuzz_http_parser
fuzz:
	@mkdir -p build/fuzz/corpus
	@printf 'int LLVMFuzzerTestOneInput(const char *d, long n);\nint LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; (void)n; return 0; }\n' \
		| $(FUZZ_CC) -x c -fsanitize=fuzzer -o build/fuzz/probe - 2>/dev/null || \
		{ echo "make fuzz: $(FUZZ_CC) has no libFuzzer (-fsanitize=fuzzer): apt-get install clang"; exit 1; }
	$(FUZZ_CC) -std=gnu11 $(WARN) -g -O1 -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $(FUZZ_BIN) tests/fuzz/fuzz_http_parser.c ch15-pools/http_parser.c
	$(FUZZ_BIN) -runs=$(FUZZ_RUNS) -timeout=$(FUZZ_TIMEOUT) -max_len=4096 \
		-dict=tests/fuzz/http_parser.dict -artifact_prefix=build/fuzz/ \
		-print_final_stats=1 build/fuzz/corpus tests/fuzz/corpus/http_parser

# --- teaching labs ---------------------------------------------------------
# make grade LAB=oob-recv SRC=file-or-dir grades one hand-in against the
# lab's scenarios (labs/NAME/lab.conf), make grade-class LAB=oob-recv
# DIR=submissions/ every one in DIR.  Root: each submission is compiled
# and run fenced by hpsp-fence (labs/fence.c; labs/GRADING.md says how).
# Results go to build/grade/NAME/.
$(FENCE): $(BUILD)/obj/labs/fence.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB)
ALL_SRCS += labs/fence.c

GRADE_DEADLINE ?= 120
grade: deps-ok
	@test -n "$(LAB)" -a -n "$(SRC)" || { echo "usage: make grade LAB=NAME SRC=FILE_OR_DIR" >&2; exit 2; }
	@$(MAKE) --no-print-directory -s all
	@python3 mk/grade.py --build $(BUILD) --deadline $(GRADE_DEADLINE) $(LAB) $(SRC)
grade-class: deps-ok
	@test -n "$(LAB)" -a -n "$(DIR)" || { echo "usage: make grade-class LAB=NAME DIR=DIR" >&2; exit 2; }
	@$(MAKE) --no-print-directory -s all
	@python3 mk/grade.py --build $(BUILD) --deadline $(GRADE_DEADLINE) --class $(LAB) $(DIR)

# make test-labs: hostile submissions (tests/labs/hostile/) graded through
# the sandbox; each must score 0 and leave nothing behind, and the good
# submission graded after each must still get full marks.  Then every lab
# (lab_<name>): its starter scores under half, the suite's own file full
# marks; the labs use most of the suite, so it is all built first.
# Its own deadline: in the valgrind pass the fence and the programs each
# grading runs are under memcheck (HPSP_FENCE_WRAP, HPSP_VALGRIND), and
# the 16 scenarios take well over TEST_TIMEOUT.
LABS_TIMEOUT ?= $(TEST_TIMEOUT)
test-labs: $(BUILD)/tests/labs_test programs tests
	@$(RUN_ENV) timeout -k 10 $(LABS_TIMEOUT) $(BUILD)/tests/labs_test

# The value of any make variable, for scripts that must not repeat the
# flags (mk/grade.py): make -s print-ALL_CFLAGS
print-%:
	@printf '%s\n' "$($*)"

# --- housekeeping ----------------------------------------------------------
compdb: compile_commands.json
compile_commands.json: $(MAKEFILE_LIST)
	@mk/compdb.sh "$(CC)" "$(ALL_CFLAGS) $(CMOCKA_CFLAGS)" $(sort $(ALL_SRCS)) > $@
	@echo "wrote $@ ($(words $(sort $(ALL_SRCS))) files)"

format:
	clang-format -i $(sort $(ALL_SRCS)) $(wildcard common/*.h tests/harness/*.h ch*/*.h)

clean:
	rm -rf build compile_commands.json

help:
	@echo "make demo CH=ch05   run a chapter's scenarios and print what happened"
	@echo "                    TRACE=1 adds the system calls (strace), CAPTURE=1 the packets (tcpdump),"
	@echo "                    ALL=1 the failure paths too"
	@echo "make test           build and run every test; make test-ch05 runs one chapter"
	@echo "make check          the tests under ASan+UBSan, TSan, valgrind; then each chapter"
	@echo "                    alone from a fresh clone (make check-chapters)"
	@echo "make bench          the benchmarks (chapters 9 and 11)"
	@echo "make million        hold up to 10^6 connections (ch09; root, ~10 GB free, ~10 min)"
	@echo "make fuzz           fuzz the HTTP parser (clang libFuzzer), FUZZ_RUNS=$(FUZZ_RUNS)"
	@echo "make grade LAB=oob-recv SRC=file-or-dir"
	@echo "                    grade one lab hand-in, fenced (root): score, results.json, results.tap"
	@echo "make grade-class LAB=oob-recv DIR=submissions/"
	@echo "                    grade every hand-in in DIR: class.csv and summary.txt in build/grade/LAB"
	@echo "make test-labs      hostile hand-ins (fork bomb, disk filler, ...) through the sandbox,"
	@echo "                    and each lab: the starter under half, the reference full marks"
	@echo "make mutants        grade plausible wrong programs: each must lose points"
	@echo "                    CH=ch09 one chapter, MUTANT=name one mutant"
	@echo "make deps           install the Debian packages the suite uses (root)"
	@echo "make all            build programs and tests into $(BUILD)"
	@echo "make compdb         write compile_commands.json"
	@echo "make clean          remove build/"
	@echo "variables: VARIANT=plain|asan|tsan  CC=gcc|clang  TEST_TIMEOUT=$(TEST_TIMEOUT)"
	@echo "grading:   PROG_oob_recv=/path/to/theirs make test-ch05"
	@echo "chapters:  $(TESTED_CHAPTERS)"
