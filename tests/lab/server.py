"""A JupyterLab server for the browser checks: local only, throwaway, always stopped.

``LabServer`` serves *copies* of the chapters from a scratch folder (JupyterLab saves what a
browser runs; the committed notebooks must stay without outputs) and is started:

1. with ``sys.executable -m jupyterlab`` and the worktree's ``src`` first on ``PYTHONPATH``, so
   the server's kernels (launched with the server's interpreter) import the package under test;
2. on 127.0.0.1 with port 0, so the OS picks a free port, read back from the server's runtime
   file; a random token (passed in the environment, never on a command line) guards it;
3. with Jupyter's config, data, runtime, settings, workspaces and IPython folders in the scratch
   folder, so a developer's own configuration or kernelspecs cannot change what is tested, and
   with the settings FACTS.md names (no news pop-up; every cell rendered, none lazily);
4. with idle culling as a last resort: should the test process die, the kernels and then the
   server end themselves after ``ORPHAN_SECONDS``.

``stop()`` shuts the kernels down through the REST API, sends the server SIGTERM, kills its
process group if it lingers, and then kills any descendant still alive (kernels run in their
own sessions, so the group does not reach them). Should the server itself crash, its kernels
end on their own: ipykernel exits when its parent process goes away.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
ORPHAN_SECONDS = 600
# User settings that make JupyterLab quiet and deterministic under a robot (FACTS.md).
SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}


class LabServer:
    """One JupyterLab serving copies of ``notebooks`` from ``workdir``; a context manager.

    Args:
        notebooks: the chapter files to serve (copied into ``workdir/root``).
        workdir: an empty scratch folder that this server may fill.
        log: where the server's output goes.
    """

    def __init__(self, notebooks: list[Path], workdir: Path, log: Path) -> None:
        self.notebooks, self.workdir, self.log_path = notebooks, workdir, log
        self.root = workdir / "root"
        self.token = secrets.token_urlsafe(24)
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def __enter__(self) -> LabServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _environment(self) -> dict[str, str]:
        """The server's (and so its kernels') environment: ours, plus the package under test."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(SRC), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
        env["JUPYTER_TOKEN"] = self.token
        for var, folder in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                            ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                            ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                            ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
            env[var] = str(self.workdir / folder)
            (self.workdir / folder).mkdir(parents=True, exist_ok=True)
        env.pop("JUPYTER_PATH", None)  # kernelspecs come from this interpreter's prefix only
        return env

    def _prepare(self) -> None:
        """Copy the chapters and write the user settings."""
        self.root.mkdir(parents=True, exist_ok=True)
        for notebook in self.notebooks:
            (self.root / notebook.name).write_bytes(notebook.read_bytes())
        for plugin, values in SETTINGS.items():
            path = self.workdir / "settings" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def command(self) -> list[str]:
        """The command line that starts the server (no secret in it)."""
        args = [sys.executable, "-m", "jupyterlab", "--no-browser",
                "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={self.root}", "--ServerApp.terminals_enabled=False",
                "--LabApp.expose_app_in_browser=True",  # the checks read JupyterLab's model
                f"--ServerApp.shutdown_no_activity_timeout={ORPHAN_SECONDS}",
                f"--MappingKernelManager.cull_idle_timeout={ORPHAN_SECONDS}",
                "--MappingKernelManager.cull_interval=60"]
        if os.geteuid() == 0:  # Jupyter refuses to run as root unless told (FACTS.md)
            args.append("--allow-root")
        return args

    def start(self, timeout: float = 90.0) -> None:
        """Start the server and wait until its API answers.

        Raises:
            RuntimeError: if it exits or does not answer within ``timeout`` seconds.
        """
        env = self._environment()
        self._prepare()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        # Its own session: stop() can signal the server's whole group and nothing else.
        self.process = subprocess.Popen(self.command(), env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        cwd=self.root, start_new_session=True)
        runtime = self.workdir / "runtime" / f"jpserver-{self.process.pid}.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}; "
                                   f"see {self.log_path}")
            if runtime.is_file() and self._answers(runtime):
                return
            time.sleep(0.2)
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s; "
                           f"see {self.log_path}")

    def _answers(self, runtime: Path) -> bool:
        """Whether the server named in its runtime file answers /api/status."""
        try:
            info = json.loads(runtime.read_text())
        except (OSError, ValueError):
            return False  # written but not complete yet
        assert info["hostname"] == "127.0.0.1" and info["port"] > 0, info
        self.url = f"http://127.0.0.1:{info['port']}/"
        try:
            self.api("GET", "api/status", timeout=5)
        except OSError:
            return False
        return True

    def api(self, method: str, path: str, timeout: float = 30.0) -> Any:
        """Call the server's REST API with the token; return the decoded JSON (or None)."""
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def page_url(self, notebook: str) -> str:
        """The address that opens ``notebook`` alone, in a fresh workspace of its own.

        Workspaces live on the server: without one per notebook, a new page would reopen the
        tabs an earlier chapter left in the default workspace.
        """
        workspace = notebook.rsplit(".", 1)[0]
        return f"{self.url}lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.token}"

    def shutdown_kernels(self, timeout: float = 30.0) -> None:
        """End every session and kernel the server runs (a chapter's, at its end)."""
        for session in self.api("GET", "api/sessions", timeout=timeout):
            self.api("DELETE", f"api/sessions/{session['id']}", timeout=timeout)
        for kernel in self.api("GET", "api/kernels", timeout=timeout):
            self.api("DELETE", f"api/kernels/{kernel['id']}", timeout=timeout)

    def assert_no_children(self, timeout: float = 10.0) -> None:
        """Wait up to ``timeout`` s for the server to have no process left; name those it has.

        After a chapter's kernel is shut down, anything still running below the server is a
        kernel, or something a kernel started, that outlived it.
        """
        assert self.process is not None, "the server is not running"
        deadline = time.monotonic() + timeout
        while True:
            left = []
            for child in psutil.Process(self.process.pid).children(recursive=True):
                try:
                    left.append(f"{child.pid}: {' '.join(child.cmdline())[:120]}")
                except psutil.Error:
                    pass  # gone meanwhile
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert not left, "left running under JupyterLab:\n  " + "\n  ".join(left)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop kernels and server, politely then by force; safe to call more than once."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                self.shutdown_kernels(timeout=timeout / 2)
            except (OSError, ValueError):
                pass  # a broken server is stopped by the signals below all the same
            _stop_tree(process, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None


def _stop_tree(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the server, SIGKILL its group after ``timeout``, then kill stray descendants."""
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    process.send_signal(signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it ended between the wait and the kill
        process.wait(timeout)
    for child in descendants:  # kernels live in sessions of their own, outside the group
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(descendants, timeout=timeout)


def redact(text: str, server: LabServer) -> str:
    """``text`` with the server's token masked, for messages that may reach a CI log."""
    return text.replace(server.token, "<token>")
