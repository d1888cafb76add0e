"""Containers: a live Docker view that answers "why does this container keep dying?".

engine.py connects and watches the event stream, inventory.py turns inspect/stats payloads into
records, details.py fetches logs, processes and env on demand, control.py starts/stops/restarts,
analysis.py turns records into findings, source.py ties them into the Source contract and pane.py
is the only module that imports Textual.
"""
