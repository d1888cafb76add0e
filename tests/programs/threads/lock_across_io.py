"""A client holds its connection lock while it waits for a reply that never comes; other callers queue."""
import socket
import threading
import time

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()


class TokenClient:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock = socket.create_connection(server.getsockname())

    def call(self, payload: bytes) -> bytes:
        with self._lock:
            self._sock.sendall(payload)
            self.token = self._sock.recv(4096)  # the upstream never answers (a secret-named target: still code)
            return self.token


client = TokenClient()
callers = [threading.Thread(target=client.call, args=(b"ping",), name=f"caller-{i}", daemon=True) for i in range(3)]
for caller in callers:
    caller.start()
    time.sleep(0.1)
time.sleep(0.3)
print("ready", flush=True)
time.sleep(600)
