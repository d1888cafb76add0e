"""A gunicorn worker (pid 901) whose request threads deadlocked between orders.py and payments.py, two threads
queued behind a lock held across a slow HTTP call, a thread stuck in a long computation, and idle threads.

The Threads pane shows the first dumped process on its own; `prepare(app)` puts the cursor on a deadlocked thread
so its stack (and the locks it holds) fills the lower half — call it after the section has been fed.
"""

from __future__ import annotations

from typing import Any

from tests.samples import FROZEN_NOW
from tui.config import Thresholds
from tui.findings import Finding
from tui.threads.deadlock import analyze_process
from tui.threads.records import (Frame, LocalVar, LockRef, ProcessThreads, PythonCandidate, ThreadRecord,
                                 ThreadsSection)

APP = "/srv/shop/shop"
STDLIB = "/usr/lib/python3.11"
GUNICORN = "/srv/shop/.venv/lib/python3.11/site-packages/gunicorn"
WORKER_CMDLINE = "gunicorn shop.wsgi --workers 2 --threads 6 --worker-class gthread --bind 127.0.0.1:8000"
STOCK_CACHE = 0x7F3A5C2E1F10  # one StockCache object: `self._lock` in two frames is the same lock
DEADLOCKED_TID = 915


def _thread_bootstrap(target: str, line: int, text: str) -> list[Frame]:
    """The frames under every pool thread: the executor loop, then threading's bootstrap."""
    return [
        Frame(target, f"{STDLIB}/concurrent/futures/thread.py", line, text),
        Frame("run", f"{STDLIB}/threading.py", 982, "self._target(*self._args, **self._kwargs)"),
        Frame("_bootstrap_inner", f"{STDLIB}/threading.py", 1045, "self.run()"),
        Frame("_bootstrap", f"{STDLIB}/threading.py", 1002, "self._bootstrap_inner()"),
    ]


def _request_frames(view: str, line: int, text: str) -> list[Frame]:
    """A request handled by a gthread pool thread: the view, Django's handler, the executor."""
    return [
        Frame(view, f"{APP}/views.py", line, text, locals=[LocalVar("request", "<WSGIRequest: POST '/api/checkout'>",
                                                                    is_arg=True)]),
        Frame("_get_response", "/srv/shop/.venv/lib/python3.11/site-packages/django/core/handlers/base.py", 197,
              "response = wrapped_callback(request, *callback_args, **callback_kwargs)"),
        Frame("handle_request", f"{GUNICORN}/workers/gthread.py", 332, "respiter = self.wsgi(environ, resp.start_response)"),
        *_thread_bootstrap("run", 58, "result = self.fn(*self.args, **self.kwargs)"),
    ]


def _pool_thread(tid: int, index: int, frames: list[Frame], **state: Any) -> ThreadRecord:
    fields = dict(active=False, owns_gil=False)
    return ThreadRecord(tid=tid, ident=140_115_000_000_000 + index * 8_392_704, name=f"ThreadPoolExecutor-0_{index}",
                        frames=frames, **{**fields, **state})


def _threads() -> list[ThreadRecord]:
    order_locals = [LocalVar("order_id", "7311", is_arg=True), LocalVar("card_token", "'••••••'")]
    stock_self = LocalVar("self", f"<shop.inventory.StockCache object at {STOCK_CACHE:#x}>", STOCK_CACHE, is_arg=True)
    return [
        ThreadRecord(tid=901, ident=140_115_990_123_456, name="MainThread", active=False, owns_gil=False, frames=[
            Frame("select", f"{STDLIB}/selectors.py", 469, "fd_event_list = self._selector.poll(timeout, max_ev)"),
            Frame("run", f"{GUNICORN}/workers/gthread.py", 219, "events = self.poller.select(1.0)"),
            Frame("init_process", f"{GUNICORN}/workers/base.py", 142, "self.run()"),
            Frame("spawn_worker", f"{GUNICORN}/arbiter.py", 589, "worker.init_process()"),
        ]),
        # The deadlock: checkout takes ORDERS_LOCK then PAYMENTS_LOCK, the webhook takes them the other way round.
        _pool_thread(DEADLOCKED_TID, 0, [
            Frame("reserve_payment", f"{APP}/payments.py", 48, "with PAYMENTS_LOCK:",
                  locals=order_locals, waits=LockRef("PAYMENTS_LOCK", 48, module_level=True)),
            Frame("place_order", f"{APP}/orders.py", 31, "payment = payments.reserve_payment(order.id, card_token)",
                  locals=order_locals, held=[LockRef("ORDERS_LOCK", 29, module_level=True)]),
            *_request_frames("checkout", 64, "order = orders.place_order(cart, request.POST['card_token'])"),
        ], stuck=True, stuck_for_s=42.0, native_lock_wait=True, native_reentrant=False),
        _pool_thread(916, 1, [
            Frame("update_order_status", f"{APP}/orders.py", 57, "with ORDERS_LOCK:",
                  locals=[LocalVar("order_id", "7311", is_arg=True), LocalVar("status", "'paid'", is_arg=True)],
                  waits=LockRef("ORDERS_LOCK", 57, module_level=True)),
            Frame("settle", f"{APP}/payments.py", 72, "orders.update_order_status(event.order_id, 'paid')",
                  locals=[LocalVar("event", "<PaymentEvent order_id=7311 kind='charge.succeeded'>", is_arg=True)],
                  held=[LockRef("PAYMENTS_LOCK", 70, module_level=True)]),
            *_request_frames("payment_webhook", 91, "payments.settle(event)"),
        ], stuck=True, stuck_for_s=42.0, native_lock_wait=True, native_reentrant=False),
        # Contention: the stock cache keeps its lock across an HTTP call to the inventory service.
        _pool_thread(917, 2, [
            Frame("readinto", f"{STDLIB}/socket.py", 705, "return self._sock.recv_into(b)"),
            Frame("_make_request", "/srv/shop/.venv/lib/python3.11/site-packages/urllib3/connectionpool.py", 537,
                  "response = conn.getresponse()"),
            Frame("refresh", f"{APP}/inventory.py", 41, "stock = self.client.get(f'{self.base_url}/stock', timeout=60)",
                  locals=[stock_self], held=[LockRef("self._lock", 39)]),
            *_request_frames("product_list", 22, "stock = STOCK.refresh()"),
        ], stuck=True, stuck_for_s=18.0),
        *[_pool_thread(tid, index, [
            Frame("available", f"{APP}/inventory.py", 25, "with self._lock:", locals=[stock_self],
                  waits=LockRef("self._lock", 25)),
            *_request_frames("product_detail", 35, "in_stock = STOCK.available(sku)"),
        ], stuck=True, stuck_for_s=stuck_for_s, native_lock_wait=True, native_reentrant=False)
            for tid, index, stuck_for_s in ((918, 3, 16.0), (919, 4, 9.5))],
        # A thread stuck in a long computation (not a lock): unchanged stack, nobody to blame.
        ThreadRecord(tid=920, ident=140_115_960_000_000, name="report-builder", active=False, owns_gil=False, frames=[
            Frame("_aggregate", f"{APP}/reports.py", 118, "totals = pandas_totals(frame.groupby(['day', 'sku']))"),
            Frame("build_daily", f"{APP}/reports.py", 96, "summary = self._aggregate(rows)"),
            Frame("run", f"{STDLIB}/threading.py", 982, "self._target(*self._args, **self._kwargs)"),
        ], stuck=True, stuck_for_s=310.0),
        _pool_thread(921, 5, [
            Frame("get", f"{STDLIB}/queue.py", 171, "self.not_empty.wait()"),
            *_thread_bootstrap("_worker", 81, "work_item = work_queue.get(block=True)"),
        ]),
        ThreadRecord(tid=922, ident=140_115_950_000_000, name="sentry-sdk.BackgroundWorker", active=False,
                     owns_gil=False, frames=[
                         Frame("wait", f"{STDLIB}/threading.py", 324, "gotit = waiter.acquire(True, timeout)"),
                         Frame("get", f"{STDLIB}/queue.py", 180, "self.not_empty.wait(remaining)"),
                         Frame("_target", "/srv/shop/.venv/lib/python3.11/site-packages/sentry_sdk/worker.py", 127,
                               "callback = self._queue.get()"),
                     ]),
    ]


def section() -> ThreadsSection:
    worker = ProcessThreads(
        pid=901, name="gunicorn", cmdline=WORKER_CMDLINE, python_version="3.11.2", threads=_threads(),
        samples=3, sample_interval=0.2, dump_seconds=0.014,
        warnings=[f"{APP}/payments.py changed on disk after pid 901 started: shown source lines may not match"],
    )
    return ThreadsSection(
        processes={"901": worker},
        candidates=[
            PythonCandidate(900, "gunicorn", WORKER_CMDLINE, "3.11.2"),
            PythonCandidate(901, "gunicorn", WORKER_CMDLINE, "3.11.2"),
            PythonCandidate(902, "gunicorn", WORKER_CMDLINE, "3.11.2"),
            PythonCandidate(1200, "python3", "python3 /opt/jobs/reindex.py --all", "3.11.2"),
        ],
        taken_at=FROZEN_NOW,
    )


def findings() -> list[Finding]:
    """What ThreadsSource.analyze gives: one `deadlock` and one `lock-held-across-io` for pid 901."""
    threshold = Thresholds().stuck_thread_s
    return [finding for process in section().processes.values() for finding in analyze_process(process, threshold)]


def prepare(app: Any) -> None:
    """Put the thread cursor on a deadlocked thread so the stack view shows it (the pane selects pid 901 itself)."""
    from tui.threads.pane import ThreadsPane  # late: importing the samples must not need Textual

    app.query_one(ThreadsPane).query_one("#thr-threads").move_to_key(str(DEADLOCKED_TID))
