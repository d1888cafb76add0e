"""Threads pane: Python thread stacks from py-spy, stuck threads and lock deadlocks."""
