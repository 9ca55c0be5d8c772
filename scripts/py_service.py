"""A peer we did not write: a service (or a client) built on the OpenTelemetry
Python SDK, for the interoperability tests.

  py_service.py serve <next URL>   listens on 127.0.0.1 (prints "LISTENING <url>"),
                                   continues the caller's trace in a SERVER span and
                                   calls <next URL><path> with the context injected;
                                   stops on GET /shutdown.
  py_service.py client <URL>       calls <URL> inside a span of its own and prints
                                   {"trace_id", "span_id", "status"} as JSON.

Spans are exported over OTLP/HTTP to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT when it is
set, under the service name OTEL_SERVICE_NAME (default "python").
"""

import json
import os
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

provider = TracerProvider(
    resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "python")})
)
if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("py_service")


def call(url):
    headers = {}
    propagate.inject(headers)
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def serve(next_url):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/shutdown":
                self.send_response(200)
                self.end_headers()
                threading.Thread(target=server.shutdown).start()
                return
            parent = propagate.extract(dict(self.headers))
            with tracer.start_as_current_span(
                f"python GET {self.path}", context=parent, kind=trace.SpanKind.SERVER
            ) as span:
                status, body = call(next_url + self.path)
                ids = span.get_span_context()
                self.send_response(status)
                self.send_header("x-python-trace-id", format(ids.trace_id, "032x"))
                self.send_header("x-python-span-id", format(ids.span_id, "016x"))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"LISTENING http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    provider.shutdown()


def client(url):
    with tracer.start_as_current_span("python client call", kind=trace.SpanKind.CLIENT) as span:
        status, _ = call(url)
        ids = span.get_span_context()
    provider.shutdown()
    print(
        json.dumps(
            {
                "trace_id": format(ids.trace_id, "032x"),
                "span_id": format(ids.span_id, "016x"),
                "status": status,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    {"serve": serve, "client": client}[sys.argv[1]](sys.argv[2])
