"""The real host against untrusted callers (issue #10): what it reveals, what it writes to disk."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
import requests

pytestmark = pytest.mark.e2e



def test_admin_status_reveals_no_path_hostname_or_pid(host_factory):
    host = host_factory(".")
    text = host.session.get(host.url("admin/host/status"), timeout=30).text
    assert str(host.app_dir) not in text and "/" not in text.replace("\\/", "")
    assert socket.gethostname() not in text
    assert str(host.proc.pid) not in text
    assert os.path.sep + "tmp" not in text


def test_sigterm_answers_a_long_poll_and_exits(host_factory):
    host = host_factory(".")
    answers: list = []

    def wait_request():
        r = requests.post(
            host.url("runtime/webhooks/durabletask/orchestrators/approval/longpoll?timeout=3000&pollingInterval=1"),
            json={"timeout_seconds": 3000},
            timeout=120,
        )
        answers.append(r)

    waiter = threading.Thread(target=wait_request)
    waiter.start()
    while host.status("longpoll").status_code == 404:  # started: the request is now waiting on it
        assert waiter.is_alive(), answers
        time.sleep(0.05)
    started = time.monotonic()
    code = host.stop()  # SIGTERM; stop() falls back to SIGKILL after 30 s
    waiter.join(60)
    assert code == 0, (code, host.log()[-2000:])
    assert answers and answers[0].status_code == 202 and answers[0].json()["id"] == "longpoll"
    print(f"shutdown with a pending long poll took {time.monotonic() - started:.2f} s")
