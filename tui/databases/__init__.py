"""Databases: sessions, locks and blocking chains of PostgreSQL and MariaDB/MySQL targets, and a connection doctor.

Headless modules (everything but `pane.py`) import no Textual: `doctor.diagnose` is called by the Symptoms
guides and `tshoot doctor` too.
"""
