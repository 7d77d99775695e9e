"""Stopping a child process: SIGTERM, then SIGKILL after a grace period."""

import subprocess


def stop_process(process: subprocess.Popen[bytes], grace_seconds: float = 15.0) -> int | None:
    """Terminate `process` if it runs, kill it after `grace_seconds`; return its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
