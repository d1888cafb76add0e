"""A frame whose locals hold a password, an ordinary string no rule can tell from a token, and a lock."""
import threading


def serve(password, note):
    lock = threading.RLock()
    with lock:
        print("ready", flush=True)
        threading.Event().wait()


serve("LocalPw-" + "888", "Opaque-" + "Value-4242")  # joined: the values are not in any source line
