"""The tracing setup: `otlp` sends the spans to the collector's OTLP/HTTP endpoint; `off` sets up nothing."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler

from scheduler_app import telemetry
from scheduler_config import TracingConfig
from scheduler_foundation import NoTracing
from tests.worker_fixtures.http_server import serving_with

#: Run in a process of its own: the SDK's tracer provider can be set once per process.
SEND_ONE_SPAN = """
import sys
from scheduler_app import telemetry
from scheduler_config import TracingConfig
from scheduler_domain import RunDispatch, TaskType

settings = TracingConfig(exporter="otlp", otlp_endpoint=sys.argv[1], service_name="probe")
resource = telemetry.tracer(settings)
tracer = next(resource)
dispatch = RunDispatch(
    run_id=1, task_id=1, attempt=1, task_type=TaskType.SHELL, executor="shell", command="x"
)
with tracer.executing({}, dispatch):
    pass
resource.close()  # shuts the provider down, which sends what is batched
"""


class Collector:
    def __init__(self) -> None:
        self.posts: list[tuple[str, str, bytes]] = []
        self.received = threading.Event()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.posts.append((self.path, self.headers["Content-Type"], body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                collector.received.set()

        return Handler


def test_otlp_sends_the_spans_to_the_collector_when_the_process_stops() -> None:
    collector = Collector()
    with serving_with(collector.handler()) as port:
        done = subprocess.run(
            [sys.executable, "-c", SEND_ONE_SPAN, f"http://127.0.0.1:{port}/v1/traces"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert collector.received.wait(5)

    [(path, content_type, body)] = collector.posts
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert b"run.execute" in body
    assert b"probe" in body  # the service.name


def test_off_gives_no_tracing() -> None:
    resource = telemetry.tracer(TracingConfig())

    assert isinstance(next(resource), NoTracing)
    resource.close()
