"""Symptoms: from what the operator sees ("the app hangs") to live checks, evidence, a fix and a verify step.

Guides are data files (`guides/*.toml`, plus the operator's folder `config.guides_dir`); the checks they
name are functions in `checks.py`; `runner.py` runs a guide into check results that the CLI
(`tshoot guide`) and the Symptoms pane both show.
"""
