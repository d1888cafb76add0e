"""Processes: every process on the machine, system load, listening ports (psutil)."""
