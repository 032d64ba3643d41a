# Two commands on a fresh machine (only Python 3.11+ and pip needed):
#   make demo   set up and run the main job on the bundled demo prefecture
#   make test   set up and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test bench mutate clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/activate
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/activate
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/matching match data/demo --out out/demo

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n auto

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run.py

# Mutation testing of the rule modules (docs/mutation.md); not part of `make test`. One mutmut run
# per module, most important first; each mutant runs its module's targeted tests only
# (tests/mutation_subset.py). Results stay in mutants/ (`mutmut results`, `mutmut show NAME`).
# The model is mutated in its constraint building only.
MUTATE_MODULES = verify status candidates optimise.model optimise.reduce contract vocabulary
MUTATE_CHILDREN ?= 2

mutate: $(VENV)/.installed-dev
	set -f; for m in $(MUTATE_MODULES); do \
	  case $$m in optimise.model) pats="matching.optimise.model.xǁComponentFormulationǁ__init__* matching.optimise.model.xǁComponentFormulationǁ_capacity* matching.optimise.model.xǁComponentFormulationǁcovers_all* matching.optimise.model.xǁComponentFormulationǁ_fix_full_coverage* matching.optimise.model.xǁComponentFormulationǁsolve*";; \
	  *) pats="matching.$$m.*";; esac; \
	  MUTATE_MODULE=matching.$$m $(BIN)/mutmut run --max-children $(MUTATE_CHILDREN) $$pats || exit 1; \
	done
	$(BIN)/python tools/mutation_report.py docs/mutation.md

clean:
	rm -rf $(VENV) out mutants
