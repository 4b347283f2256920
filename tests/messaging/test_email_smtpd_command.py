"""``careline smtpd`` as an operator runs it: it says where it listens, answers SMTP, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
from pathlib import Path

from tests.support.smtp_server import HOST, free_port

STARTUP_SECONDS = 60  # the embedded database is migrated first


def test_it_listens_on_the_given_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CARELINE_DATA_DIR": str(tmp_path), "CARELINE_LOG_LEVEL": "WARNING"}
    env.pop("CARELINE_DATABASE_URL", None)
    command = [str(Path(sys.executable).with_name("careline")), "smtpd", "--host", HOST, "--port", str(port)]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
            assert banner.startswith(f"Receiving e-mail on {HOST}:{port};")
            with smtplib.SMTP(HOST, port, timeout=10) as client:
                assert client.noop()[0] == 250
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=STARTUP_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    assert out.strip() == "SMTP listener stopped."
