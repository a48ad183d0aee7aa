# postroom - top-level entry points.  See README.md.
#
#   make run     bootstrap, build, demo MailRoot in ./var, serve in foreground
#   make test    bootstrap, sanitizer build, unit + integration tests
#   make build   optimised build in ./build
#   make bench   benchmarks against Postfix (bench/)
#   make fuzz    libFuzzer targets with clang in ./build-fuzz
#   make docs-images  screenshots of the `postroom send` report (Chromium)
#   make clean   remove build trees (./var is kept)

BUILD      ?= build
ASAN       ?= build-asan
FUZZ       ?= build-fuzz
PYTHON     ?= /usr/bin/python3
PYTEST_ARGS ?=
FUZZ_SECONDS ?= 30

# Unprivileged demo ports for `make run`.
RUN_ROOT   ?= var/MailRoot
RUN_DOMAIN ?= demo.test
RUN_OPTS   ?= -Md -Sp 2525 -Xp 2465 -Up 2587 -Pp 2110 -Bp 2995 -Fp 2079 \
	      -Cp 6017 -Wp 6018 -SI 127.0.0.1 -XI 127.0.0.1 -UI 127.0.0.1 \
	      -PI 127.0.0.1 \
	      -BI 127.0.0.1 -FI 127.0.0.1 -CI 127.0.0.1 -WI 127.0.0.1

.PHONY: all build test run bench fuzz clean bootstrap unit integration \
	docs-images

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized >/dev/null

$(ASAN)/build.ninja:
	meson setup $(ASAN) --buildtype=debug -Db_sanitize=address,undefined \
	    -Db_lundef=false >/dev/null

build: bootstrap $(BUILD)/build.ninja
	@ninja -C $(BUILD) | grep -v '^ninja: no work to do' || true
	@test -x $(BUILD)/postroom

unit: bootstrap $(ASAN)/build.ninja
	@ninja -C $(ASAN) >/dev/null
	meson test -C $(ASAN) --suite unit --print-errorlogs -q

integration: bootstrap $(ASAN)/build.ninja
	@ninja -C $(ASAN) >/dev/null
	POSTROOM_BIN=$(CURDIR)/$(ASAN)/postroom \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    $(PYTHON) -m pytest -p no:cacheprovider tests/integration $(PYTEST_ARGS)

test: unit integration

run: build
	@if [ ! -e $(RUN_ROOT)/server.tab ]; then \
	    $(BUILD)/postroom init --domain $(RUN_DOMAIN) \
	        --user demo:demo --admin admin:admin $(RUN_ROOT); \
	fi
	@echo
	@echo "postroom is starting in the foreground (Ctrl-C stops it)."
	@echo "MailRoot: $(RUN_ROOT)   domain: $(RUN_DOMAIN)   account: demo / demo"
	@echo
	@echo "Try, from another terminal:"
	@echo "  send a mail:     swaks --server 127.0.0.1 --port 2525 --to demo@$(RUN_DOMAIN)"
	@echo "  read it (POP3S): curl -k pop3s://127.0.0.1:2995/1 --user demo@$(RUN_DOMAIN):demo"
	@echo "  or on disk:      ls $(RUN_ROOT)/domains/$(RUN_DOMAIN)/demo/Maildir/new/"
	@echo "  submit with AUTH over TLS (port 2587):"
	@echo "                   swaks --server 127.0.0.1 --port 2587 --tls --auth PLAIN \\"
	@echo "                     --auth-user demo@$(RUN_DOMAIN) --auth-password demo --to demo@$(RUN_DOMAIN)"
	@printf '%s\n' "  finger service:  printf 'demo@$(RUN_DOMAIN)\\r\\n' | nc 127.0.0.1 2079"
	@echo "  stop cleanly:    touch $(RUN_ROOT)/.shutdown"
	@echo "  administer:      $(BUILD)/postroom ctl -u admin -p admin userlist"
	@echo "  a report e-mail: $(BUILD)/postroom send --smtp-srv 127.0.0.1 --smtp-port 2525 \\"
	@echo "                     --smtp-sec none --smtp-auth none --mail-from demo@$(RUN_DOMAIN) \\"
	@echo "                     --mail-to demo@$(RUN_DOMAIN) --status success --title 'It works'"
	@echo
	exec $(BUILD)/postroom serve -Ms $(RUN_ROOT) $(RUN_OPTS)

bench: build
	@bench/run

fuzz: bootstrap
	@test -f $(FUZZ)/build.ninja || CC=clang meson setup $(FUZZ) \
	    --buildtype=debug -Dfuzz=true -Db_sanitize=address,undefined \
	    -Db_lundef=false >/dev/null
	ninja -C $(FUZZ)
	@for f in $(FUZZ)/fuzz_*; do \
	    [ -f $$f ] && [ -x $$f ] || continue; \
	    echo "== $$f ($(FUZZ_SECONDS)s)"; \
	    if ! $$f -max_total_time=$(FUZZ_SECONDS) >$$f.log 2>&1; then \
	        tail -n 40 $$f.log; exit 1; \
	    fi; \
	    tail -n 1 $$f.log; \
	done

# Not part of `make test`: it needs Chromium (installed when missing).
docs-images: bootstrap $(BUILD)/build.ninja
	@ninja -C $(BUILD) notify_sample >/dev/null
	@scripts/docs-images $(BUILD)/notify_sample docs/images

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
