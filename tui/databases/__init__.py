"""Databases: sessions, locks and blocking chains of PostgreSQL and MariaDB/MySQL targets, and a connection check.

Headless modules (everything but `pane.py`) import no Textual: `conncheck.diagnose` is called by the Symptoms
guides and `tshoot doctor` too.
"""
