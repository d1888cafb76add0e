"""Env: compare two environments (env files, processes, containers, snapshots, config files, databases,
Python runtimes) key by key, without ever showing a secret.

Loading a side (`sides.load_side`) gives raw values that stay in memory; the diff (`diff.diff_sides`) is
what gets shown, printed or written, and it is masked.
"""
