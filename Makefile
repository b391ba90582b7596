# dunerun: `make run` builds everything and runs the example;
# `make test` builds and runs the whole suite.

VERSION  := 0.1.0
B        := build
CC       := musl-gcc
HOSTCC   := gcc
CFLAGS   := -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation \
            -ffunction-sections -fdata-sections -isystem $(B)/kinc \
            -isystem $(B)/deps/include -Iinclude -Icmd -Ikmod -Iloader -Imm -Ipatch -Isys \
            -Imonitor -Iimages -Ipolicy -Isandbox -Irootfs -Ijson -Icache -DDUNERUN_VERSION='"$(VERSION)"'
LDFLAGS  := -static -Wl,--gc-sections -L$(B)/deps/lib
LIBS     := -lzstd -lz -lcap -lpthread

# The supervisor: freestanding, no red zone (exceptions push onto the
# current stack), no SSE (ring 0 cannot run it on emulated hosts).
GUEST_CFLAGS := -ffreestanding -fno-pic -mno-red-zone -mgeneral-regs-only \
                -nostdlib -Iinclude

SRCS := cmd/main.c cmd/build.c cmd/inspect.c cmd/prune.c cmd/run.c cache/cache.c kmod/kvm.c loader/elf.c \
        loader/stack.c mm/phys.c mm/pagetable.c mm/access.c mm/vma.c mm/maps.c mm/patch.c patch/x86.c patch/plan.c \
        monitor/boot.c monitor/run.c monitor/service.c monitor/signal.c monitor/status.c monitor/thread.c \
        $(wildcard sys/*.c) $(wildcard images/*.c) $(wildcard policy/*.c) \
        $(wildcard sandbox/*.c) $(wildcard rootfs/*.c) json/json.c
OBJS := $(SRCS:%.c=$(B)/obj/%.o) $(B)/obj/guestkernel/blob.o
HDRS := $(wildcard include/dunerun/*.h */*.h)

DEPS_STAMP  := $(B)/stamps/deps.done
PROGS_STAMP := $(B)/stamps/progs.done

.PHONY: all deps progs run test bench fuzz clean
all: $(B)/dunerun $(B)/libdune.a

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/deps.sh scripts/lib.sh
	scripts/deps.sh $(B)
	touch $@

progs: $(PROGS_STAMP)
$(PROGS_STAMP): scripts/progs.sh scripts/lib.sh $(DEPS_STAMP)
	scripts/progs.sh $(B)
	touch $@

$(B)/obj/%.o: %.c $(HDRS) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/guest/guest.bin: guestkernel/entry.S guestkernel/pvm.S guestkernel/kernel.ld include/dunerun/abi.h
	@mkdir -p $(dir $@)
	$(HOSTCC) $(GUEST_CFLAGS) -c guestkernel/entry.S -o $(B)/guest/entry.o
	ld -nostdlib -T guestkernel/kernel.ld $(B)/guest/entry.o -o $(B)/guest/guest.elf
	objcopy -O binary $(B)/guest/guest.elf $@

# The vDSO: one segment, mapped as it is (guestkernel/vdso.lds).
$(B)/guest/vdso.so: guestkernel/vdso.S guestkernel/vdso.lds include/dunerun/abi.h
	@mkdir -p $(dir $@)
	$(HOSTCC) -c -fPIC -Iinclude guestkernel/vdso.S -o $(B)/guest/vdso.o
	ld -shared -soname=linux-vdso.so.1 --hash-style=both -z max-page-size=4096 \
		-z noexecstack -T guestkernel/vdso.lds $(B)/guest/vdso.o -o $(B)/guest/vdso.full
	objcopy -S $(B)/guest/vdso.full $@

$(B)/obj/guestkernel/blob.o: guestkernel/blob.S $(B)/guest/guest.bin $(B)/guest/vdso.so $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -c -DGUEST_IMAGE='"$(B)/guest/guest.bin"' -DVDSO_IMAGE='"$(B)/guest/vdso.so"' $< -o $@

$(B)/dunerun: $(OBJS)
	$(CC) $(LDFLAGS) $(OBJS) $(LIBS) -o $@

# libdune, for programs that run under dunerun (include/dune.h).  It
# loads user ELFs with the launcher's own loader (one parser, fuzzed
# once), renamed so that it cannot clash with the program's names.
DUNE_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Iinclude -Iloader \
               -Delf_parse=dune__elf_parse -Dstack_build=dune__stack_build
DUNE_OBJS := $(addprefix $(B)/obj/dune/,dune.o ring0.o trap.o elf.o stack.o)
$(B)/obj/dune/%.o: dune/%.c include/dune.h include/dunerun/abi.h loader/loader.h $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(DUNE_CFLAGS) -c $< -o $@
$(B)/obj/dune/%.o: loader/%.c loader/loader.h $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(DUNE_CFLAGS) -c $< -o $@
$(B)/obj/dune/trap.o: dune/trap.S include/dunerun/abi.h $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -Iinclude -c $< -o $@
$(B)/libdune.a: $(DUNE_OBJS)
	rm -f $@
	ar rcs $@ $(DUNE_OBJS)

# The example image: COPY is relative to the build context, so the context
# is put together under $(B) from the Dunefile, the script, the static lua
# and a text every Debian system has.
WORDFREQ := images/examples/wordfreq
$(B)/examples/wordfreq.dz: $(B)/dunerun $(PROGS_STAMP) $(WORDFREQ)/Dunefile $(WORDFREQ)/wordfreq.lua
	rm -rf $(B)/examples/wordfreq
	mkdir -p $(B)/examples/wordfreq
	cp $(WORDFREQ)/Dunefile $(WORDFREQ)/wordfreq.lua $(B)/progs/lua \
		/usr/share/common-licenses/GPL-3 $(B)/examples/wordfreq/
	$(B)/dunerun build -o $@ $(B)/examples/wordfreq

PLANETS := images/examples/planets
$(B)/examples/planets.dz: $(B)/dunerun $(PROGS_STAMP) $(wildcard $(PLANETS)/*)
	rm -rf $(B)/examples/planets
	mkdir -p $(B)/examples/planets
	cp $(PLANETS)/* $(B)/progs/sqlite3 $(B)/examples/planets/
	$(B)/dunerun build -o $@ $(B)/examples/planets

# Python on Debian: an image FROM a Debian rootfs (mmdebstrap, cached by
# scripts/debian-rootfs.sh), the script copied on top.
DEBPY := images/examples/debian-python
$(B)/examples/debian-python.dz: $(B)/dunerun $(DEBPY)/Dunefile $(DEBPY)/stats.py scripts/debian-rootfs.sh
	rm -rf $(B)/examples/debian-python
	mkdir -p $(B)/examples/debian-python
	cp $(DEBPY)/Dunefile $(DEBPY)/stats.py $(B)/examples/debian-python/
	ln -s "$$(scripts/debian-rootfs.sh $(B))" $(B)/examples/debian-python/rootfs
	$(B)/dunerun build -o $@ $(B)/examples/debian-python

# The plugin sandbox (supervisor mode): the sandbox with libdune, and
# each plugin, compiled into the context beside the Dunefile.
SANDBOX := images/examples/plugin-sandbox
$(B)/examples/plugin-sandbox.dz: $(B)/dunerun $(B)/libdune.a $(SANDBOX)/Dunefile \
		$(SANDBOX)/sandbox.c $(wildcard $(SANDBOX)/plugins/*.c)
	rm -rf $(B)/examples/plugin-sandbox
	mkdir -p $(B)/examples/plugin-sandbox/plugins
	$(CC) -static -O2 -Wall -Wextra -Iinclude $(SANDBOX)/sandbox.c $(B)/libdune.a \
		-o $(B)/examples/plugin-sandbox/sandbox
	for p in $(SANDBOX)/plugins/*.c; do \
		$(CC) -static -O2 -Wall -Wextra $$p -o $(B)/examples/plugin-sandbox/plugins/$$(basename $$p .c) || exit 1; \
	done
	cp $(SANDBOX)/Dunefile $(B)/examples/plugin-sandbox/
	$(B)/dunerun build -o $@ $(B)/examples/plugin-sandbox

run: $(B)/dunerun $(PROGS_STAMP) $(B)/examples/wordfreq.dz $(B)/examples/debian-python.dz
	$(B)/dunerun $(B)/examples/wordfreq.dz
	$(B)/dunerun $(B)/examples/debian-python.dz

test: $(B)/dunerun $(PROGS_STAMP)
	tests/check.sh $(B)

bench: $(B)/dunerun $(B)/libdune.a $(PROGS_STAMP)
	tests/bench.sh $(B)

fuzz: $(DEPS_STAMP)
	tests/fuzz/run.sh $(B) $${FUZZ_SECONDS:-120}

clean:
	rm -rf $(B)/obj $(B)/guest $(B)/dunerun $(B)/tests $(B)/unit

# Unit tests run on the host, with sanitizers where the toolchain has them.
$(B)/unit/test_loader: tests/unit/test_loader.c tests/unit/check.h loader/elf.c loader/stack.c loader/loader.h
	@mkdir -p $(dir $@)
	$(HOSTCC) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
		-Iinclude -Iloader loader/elf.c loader/stack.c $< -o $@

$(B)/unit/test_patch: tests/unit/test_patch.c tests/unit/check.h patch/x86.c patch/plan.c patch/patch.h
	@mkdir -p $(dir $@)
	$(HOSTCC) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
		-Ipatch patch/x86.c patch/plan.c $< -o $@

$(B)/unit/test_sys: tests/unit/test_sys.c tests/unit/check.h tests/unit/fake_mm.c $(wildcard sys/*.c policy/*.c) loader/elf.c $(HDRS) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -static $(CFLAGS) $(wildcard sys/*.c policy/*.c) loader/elf.c tests/unit/fake_mm.c $< -o $@

$(B)/unit/test_image: tests/unit/test_image.c tests/unit/check.h $(wildcard images/*.c images/*.h) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -static -O1 -g -Wall -Wextra -Iinclude -Iimages -isystem $(B)/deps/include \
		$(wildcard images/*.c) $< -L$(B)/deps/lib -lzstd -o $@

$(B)/unit/test_policy: tests/unit/test_policy.c tests/unit/check.h $(wildcard policy/*.c policy/*.h) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -static -O1 -g -Wall -Wextra -Iinclude -Ipolicy $(wildcard policy/*.c) $< -o $@

$(B)/unit/test_cache: tests/unit/test_cache.c tests/unit/check.h cache/cache.c cache/cache.h sandbox/view.c sandbox/sandbox.h $(wildcard images/*.c images/*.h) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -static -O1 -g -Wall -Wextra -Wno-format-truncation -D_GNU_SOURCE -isystem $(B)/kinc \
		-isystem $(B)/deps/include -Iinclude -Iimages -Isandbox -Icache cache/cache.c sandbox/view.c $(wildcard images/*.c) $< \
		-L$(B)/deps/lib -lzstd -o $@

$(B)/unit/test_harden: tests/unit/test_harden.c tests/unit/check.h sandbox/harden.c sandbox/sandbox.h $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -static -O1 -g -Wall -Wextra -isystem $(B)/kinc -isystem $(B)/deps/include \
		-Iinclude -Isandbox sandbox/harden.c $< -L$(B)/deps/lib -lcap -lpthread -o $@

$(B)/unit/test_json: tests/unit/test_json.c tests/unit/check.h json/json.c json/json.h
	@mkdir -p $(dir $@)
	$(HOSTCC) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
		-Ijson json/json.c $< -o $@

$(B)/unit/test_rootfs: tests/unit/test_rootfs.c tests/unit/check.h $(wildcard rootfs/*.c rootfs/*.h) \
		json/json.c json/json.h $(wildcard images/*.c images/*.h) $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -static -O1 -g -Wall -Wextra -Iinclude -Iimages -Irootfs -Ijson -isystem $(B)/deps/include \
		$(wildcard rootfs/*.c) json/json.c $(wildcard images/*.c) $< -L$(B)/deps/lib -lzstd -lz -o $@
