# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
.PHONY: demo test bootstrap lint bench clean-devnet dist dist-check

bootstrap:
	@./scripts/bootstrap.sh

demo: bootstrap
	.venv/bin/morpheus demo

test: bootstrap
	@./scripts/test_deps.sh
	@# Byte-compile up front, on one thread: CPython 3.11's compiler state is not thread-safe, and a
	@# first import compiling in the main thread while a worker thread compiles too can fail.
	@.venv/bin/python -m compileall -q app tests bench >/dev/null
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q

lint: bootstrap
	.venv/bin/ruff check app tests bench
	.venv/bin/mypy

bench: bootstrap
	for b in bench/*.py; do QT_QPA_PLATFORM=offscreen .venv/bin/python $$b || exit 1; done

# Installers. Linux here: dist/ gets the bundle, a tarball and a .deb (packaging/build_linux.sh).
# Windows and macOS are built by .github/workflows/release.yml on their own runners.
dist: bootstrap
	nice -n 10 ./packaging/build_linux.sh

# The bundle's own tests (minutes: they start the frozen program several times): clean
# environment, non-ASCII and read-only install folder, the unpacked .deb, a window under Xvfb.
dist-check: dist
	@command -v Xvfb >/dev/null && command -v import >/dev/null || { \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; $$SUDO apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq xvfb xauth imagemagick >/dev/null; }
	MORPHEUS_DIST_CHECK=1 QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q -p no:cacheprovider tests/packaging
