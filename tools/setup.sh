#!/usr/bin/env bash
# One command from a fresh clone to a working pyrovae, on CPU:
#   bash tools/setup.sh demo    create .venv, install, run `pyrovae demo` (~1 min on 2 cores)
#   bash tools/setup.sh test    create .venv, install with the test extras, run the tests
#   bash tools/setup.sh docs    create .venv, install with the docs extras, build docs/_build/html
#   bash tools/setup.sh env     only create .venv, install with the test and docs extras (.ci/run)
# torch is installed first as a CPU build (TORCH_SPEC, default the CPU wheel torch==2.13.0 of
# the project's machines; elsewhere e.g. TORCH_SPEC="torch --index-url
# https://download.pytorch.org/whl/cpu"): a plain `torch` requirement pulls GBs of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-demo}"
case "$what" in
    demo) extras="" ;;
    test) extras="[test]" ;;
    env) extras="[test,docs]" ;;
    docs) extras="[test,docs]" ;;
    *) echo "usage: bash tools/setup.sh {demo|test|docs|env}" >&2; exit 2 ;;
esac
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# shellcheck disable=SC2086  # TORCH_SPEC may hold several pip arguments
.venv/bin/python -m pip install --quiet ${TORCH_SPEC:-torch==2.13.0}
.venv/bin/python -m pip install --quiet -e ".${extras}"
case "$what" in
    demo) .venv/bin/pyrovae demo ;;
    test) .venv/bin/python -m pytest -q tests ;;
    docs) .venv/bin/python -m sphinx -W --keep-going -n -b html docs docs/_build/html
          echo "open docs/_build/html/index.html" ;;
esac
