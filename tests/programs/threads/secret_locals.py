"""A frame holding a database URL with a password, and the same password in another local and in its source line."""
import threading


def serve(db_url, note):
    print("ready", flush=True)
    threading.Event().wait()  # if the pool drops, reconnect by hand with LocalPw-777


serve("postgresql://app:LocalPw-777@db/x", "connect with LocalPw-777 please")
