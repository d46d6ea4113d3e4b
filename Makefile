# emo — plain Makefile. Targets: all (default), test, bench, deps, install, clean.
#   make SANITIZE=1 test     ASan + UBSan build (in build-san/)
#   make BUILD=dir           build elsewhere (parallel work trees)
#   make MARCH=x86-64-v3     portable binary (default: -march=native)

PREFIX   ?= /usr/local
MARCH    ?= native
VERSION  := 0.1.0
SHARED   ?= ../shared
# make demo DEMO_ARGS='--port 8080 --host 0.0.0.0'
DEMO_ARGS ?=

ifeq ($(SANITIZE),1)
BUILD    ?= build-san
OPT      := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANLD    := -fsanitize=address,undefined
else
BUILD    ?= build
OPT      := -O3 -g
SANLD    :=
endif

CC       ?= cc
# Debian libraries the library links (see `make deps` for the packages).
PKGS     := libturbojpeg spng expat zlib libavformat libavcodec libswscale libavutil cairo freetype2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS   += $(PKG_CFLAGS) -std=gnu11 $(OPT) -march=$(MARCH) -fPIC -fopenmp -Wall -Wextra -Wno-unused-parameter \
            -Iinclude -Isrc -DEMO_VERSION='"$(VERSION)"' $(EXTRA_CFLAGS)
LIBS     := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldnnl -lm -lpthread
LDFLAGS  += -fopenmp $(SANLD)
# Programs (CLI, server) additionally link these.
TOOL_PKGS := libmicrohttpd sdl2
TOOL_LIBS := $(shell pkg-config --libs $(TOOL_PKGS) 2>/dev/null)
TOOL_CFLAGS := $(shell pkg-config --cflags $(TOOL_PKGS) 2>/dev/null)

LIB_SRC  := $(wildcard src/*.c src/nn/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOL_SRC := $(wildcard tools/*.c tools/serve/*.c)
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# Debian packages the project uses (build, tests, benchmarks, demo).
DEB_BUILD := build-essential pkg-config libturbojpeg0-dev libspng-dev libexpat1-dev zlib1g-dev libdnnl-dev \
             libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libcairo2-dev libfreetype-dev \
             fonts-noto-color-emoji fonts-dejavu-core libmicrohttpd-dev libsdl2-dev opencv-data libdlib-data
DEB_TEST  := ffmpeg curl chromium nodejs python3 parallel slurm-wlm munge
DEB_REF   := python3-opencv python3-torch python3-numpy libopencv-dev libdlib-dev g++

.PHONY: all build test run-tests bench run-bench demo deps deps-ref install clean check-deps
# The public targets first make sure the Debian packages are there, then run
# make again, so that pkg-config flags are read with the packages installed.
all:
	@$(MAKE) --no-print-directory check-deps
	@$(MAKE) --no-print-directory build
test:
	@$(MAKE) --no-print-directory check-deps
	@$(MAKE) --no-print-directory run-tests
bench:
	@$(MAKE) --no-print-directory check-deps
	@$(MAKE) --no-print-directory run-bench
demo:
	@$(MAKE) --no-print-directory check-deps
	@$(MAKE) --no-print-directory build
	$(BUILD)/emo serve $(DEMO_ARGS)

build: $(BUILD)/libemo.a $(BUILD)/libemo.so $(BUILD)/emo $(BUILD)/emo.pc

# Installs missing Debian packages (needs root); quiet when all are present.
deps:
	@missing=$$(for p in $(DEB_BUILD) $(DEB_TEST); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "emo: installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi
deps-ref:
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_REF)

check-deps:
	@command -v pkg-config >/dev/null && pkg-config --exists $(PKGS) $(TOOL_PKGS) && [ -f /usr/include/dnnl.h ] \
	  && [ -f /usr/share/dlib/shape_predictor_68_face_landmarks.dat ] \
	  && command -v ffmpeg >/dev/null && command -v chromium >/dev/null && command -v parallel >/dev/null \
	  && command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
	  || $(MAKE) --no-print-directory deps

$(BUILD)/%.o: %.c include/emo.h $(wildcard src/*.h src/nn/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(if $(filter tools/%,$<),$(TOOL_CFLAGS)) -c $< -o $@

# dlib rounds each product of the landmark predictor on its own: no fused
# multiply-adds there, or a feature pixel can land one pixel over.
$(BUILD)/src/landmarks.o: CFLAGS += -ffp-contract=off

$(BUILD)/libemo.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/libemo.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/emo: $(TOOL_OBJ) $(BUILD)/libemo.a
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(BUILD)/libemo.a $(TOOL_LIBS) $(LIBS)
$(BUILD)/emo.pc: Makefile
	@printf 'prefix=$(PREFIX)\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: emo\nDescription: real-time facial emotion recognition\nVersion: $(VERSION)\nLibs: -L$${libdir} -lemo\nLibs.private: $(LIBS) -fopenmp\nCflags: -I$${includedir}\n' > $@

$(BUILD)/tests/%: tests/%.c tests/test.h $(BUILD)/libemo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TOOL_CFLAGS) -o $@ $< $(BUILD)/libemo.a $(LDFLAGS) $(TOOL_LIBS) $(LIBS)
$(BUILD)/bench/%: bench/%.c $(BUILD)/libemo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TOOL_CFLAGS) $(shell pkg-config --cflags opencv4 2>/dev/null) -o $@ $< $(BUILD)/libemo.a $(LDFLAGS) $(TOOL_LIBS) $(LIBS)

run-tests: build $(TEST_BIN)
	@BUILD=$(BUILD) SHARED=$(SHARED) tests/run.sh $(TEST_BIN)

# The OpenCV peer of `emo bench detect`: built only for benchmarks (libopencv-dev).
$(BUILD)/bench/bench_detect_opencv: bench/bench_detect_opencv.cpp
	@mkdir -p $(dir $@)
	$(CXX) -O2 $(shell pkg-config --cflags opencv4 2>/dev/null) -o $@ $< -lopencv_objdetect -lopencv_imgcodecs -lopencv_imgproc -lopencv_core

run-bench: build $(BENCH_BIN) $(BUILD)/bench/bench_detect_opencv
	@BUILD=$(BUILD) SHARED=$(SHARED) bench/run.sh

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/emo/models
	install -m 755 $(BUILD)/emo $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BUILD)/libemo.a $(BUILD)/libemo.so $(DESTDIR)$(PREFIX)/lib/
	sed 's|^prefix=.*|prefix=$(PREFIX)|' $(BUILD)/emo.pc > $(DESTDIR)$(PREFIX)/lib/pkgconfig/emo.pc
	install -m 644 include/emo.h $(DESTDIR)$(PREFIX)/include/
	cp -r models/. $(DESTDIR)$(PREFIX)/share/emo/models/

clean:
	rm -rf build build-san

# The page (web/) is embedded into the server by .incbin: rebuild when it changes.
$(BUILD)/tools/serve/assets.o: $(wildcard web/*)
# Tool objects also depend on the tools' own headers (serve.h, json.h, cli.h...):
# a struct changed in one must not leave stale objects of the others.
$(TOOL_OBJ): $(wildcard tools/*.h tools/serve/*.h)
