PYTHON ?= python3
VENV ?= .venv

.PHONY: demo test bench lint

# Re-installs only when the dependencies change.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/acme demo $(if $(SCRIPT),--script $(SCRIPT))

test: $(VENV)/.installed
	$(VENV)/bin/pytest

bench: $(VENV)/.installed
	$(VENV)/bin/python bench/slack_ack.py
	$(VENV)/bin/python bench/reports_and_notifications.py
	$(VENV)/bin/python bench/api.py
	$(VENV)/bin/python bench/agent.py
	$(VENV)/bin/python bench/worker_processes.py
	$(VENV)/bin/python bench/socket_mode.py
	$(VENV)/bin/python bench/throughput.py
	$(VENV)/bin/python bench/hostile_bodies.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check app mock_crm tests bench
	$(VENV)/bin/mypy app mock_crm
