# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
.PHONY: demo test bootstrap lint bench clean-devnet

bootstrap:
	@./scripts/bootstrap.sh

demo: bootstrap
	.venv/bin/morpheus demo

test: bootstrap
	@# Byte-compile up front, on one thread: CPython 3.11's compiler state is not thread-safe, and a
	@# first import compiling in the main thread while a worker thread compiles too can fail.
	@.venv/bin/python -m compileall -q app tests bench >/dev/null
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q

lint: bootstrap
	.venv/bin/ruff check app tests bench
	.venv/bin/mypy

bench: bootstrap
	for b in bench/*.py; do QT_QPA_PLATFORM=offscreen .venv/bin/python $$b || exit 1; done
