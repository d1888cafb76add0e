"""Keeps one core busy until killed."""
print("ready", flush=True)
while True:
    pass
