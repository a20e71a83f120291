"""The real host against untrusted callers (issue #10): what it reveals, what it writes to disk."""

from __future__ import annotations

import os
import socket

import pytest

pytestmark = pytest.mark.e2e



def test_admin_status_reveals_no_path_hostname_or_pid(host_factory):
    host = host_factory(".")
    text = host.session.get(host.url("admin/host/status"), timeout=30).text
    assert str(host.app_dir) not in text and "/" not in text.replace("\\/", "")
    assert socket.gethostname() not in text
    assert str(host.proc.pid) not in text
    assert os.path.sep + "tmp" not in text
