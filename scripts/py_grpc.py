"""A gRPC peer we did not write: a client and a server built on gRPC for Python
and the OpenTelemetry Python SDK with its gRPC instrumentation (the contrib
`GrpcInstrumentorClient` / `GrpcInstrumentorServer`, W3C trace context in the
metadata), for the interoperability tests of the `grpc` feature.

  py_grpc.py client <host:port> <item>   inside a span of its own, calls
                                         demo.Inventory/Check(<item>), then the
                                         standard grpc.health.v1.Health/Check for
                                         "demo.Inventory"; prints one JSON object:
                                         {"trace_id", "span_id" (its own span),
                                          "reply": {"item", "in_stock", "trace_id",
                                                    "price_cents"} or null,
                                          "error": the Check's status code or null,
                                          "health": "SERVING", ...}.
  py_grpc.py server                      serves demo.Pricing/Quote (every item at
                                         4200 cents) on 127.0.0.1 (prints
                                         "LISTENING http://127.0.0.1:<port>") until
                                         SIGTERM or Ctrl-C, then flushes its spans.

The message and service classes are generated at start from
examples/grpc-demo/proto/demo.proto by grpc_tools.protoc (the protoc shipped in
the grpcio-tools wheel) into a temporary folder.

Spans are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
OTEL_EXPORTER_OTLP_ENDPOINT is set (batched: OTEL_BSP_SCHEDULE_DELAY applies),
under the service name OTEL_SERVICE_NAME (default "python").
"""

import importlib
import importlib.resources
import json
import os
import signal
import sys
import tempfile
import threading
from concurrent import futures

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO_DIR = os.path.join(ROOT, "examples", "grpc-demo", "proto")

provider = TracerProvider(
    resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "python")})
)
if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
    "OTEL_EXPORTER_OTLP_ENDPOINT"
):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("py_grpc")


def stubs():
    """(demo_pb2, demo_pb2_grpc), generated from demo.proto into a temporary
    folder that is gone once they are imported."""
    from grpc_tools import protoc

    # The well-known types shipped with grpcio-tools, as `python -m grpc_tools.protoc` adds them.
    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    with tempfile.TemporaryDirectory(prefix="py_grpc-") as out:
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{PROTO_DIR}",
                f"-I{well_known}",
                f"--python_out={out}",
                f"--grpc_python_out={out}",
                os.path.join(PROTO_DIR, "demo.proto"),
            ]
        )
        if code != 0:
            sys.exit(f"grpc_tools.protoc failed on {PROTO_DIR}/demo.proto (exit {code})")
        sys.path.insert(0, out)
        try:
            demo_pb2 = importlib.import_module("demo_pb2")
            demo_pb2_grpc = importlib.import_module("demo_pb2_grpc")
        finally:
            sys.path.remove(out)
    return demo_pb2, demo_pb2_grpc


def hex_ids(span):
    ids = span.get_span_context()
    return format(ids.trace_id, "032x"), format(ids.span_id, "016x")


def client(target, item):
    from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient

    # Before any channel is made: the instrumentation wraps the channel constructors.
    GrpcInstrumentorClient().instrument()
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    demo_pb2, demo_pb2_grpc = stubs()
    seen = {"target": target, "reply": None, "error": None}
    with grpc.insecure_channel(target) as channel:
        with tracer.start_as_current_span("py_grpc client") as span:
            seen["trace_id"], seen["span_id"] = hex_ids(span)
            try:
                reply = demo_pb2_grpc.InventoryStub(channel).Check(
                    demo_pb2.CheckRequest(item=item), timeout=10
                )
                seen["reply"] = {
                    "item": reply.item,
                    "in_stock": reply.in_stock,
                    "trace_id": reply.trace_id,
                    "price_cents": reply.price_cents,
                }
            except grpc.RpcError as error:
                seen["error"] = error.code().name
                seen["error_details"] = error.details()
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="demo.Inventory"), timeout=10
            )
            seen["health"] = health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)
    provider.shutdown()
    print(json.dumps(seen), flush=True)


def server():
    from opentelemetry.instrumentation.grpc import GrpcInstrumentorServer

    # Before the server is made: the instrumentation adds its interceptor to grpc.server.
    GrpcInstrumentorServer().instrument()
    import grpc

    demo_pb2, demo_pb2_grpc = stubs()

    class Pricing(demo_pb2_grpc.PricingServicer):
        def Quote(self, request, context):
            trace_id, _ = hex_ids(trace.get_current_span())
            return demo_pb2.QuoteReply(price_cents=4200, trace_id=trace_id)

    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    demo_pb2_grpc.add_PricingServicer_to_server(Pricing(), grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"LISTENING http://127.0.0.1:{port}", flush=True)
    stop.wait()
    grpc_server.stop(grace=2).wait()
    provider.shutdown()


if __name__ == "__main__":
    modes = {"client": (client, 2), "server": (server, 0)}
    if len(sys.argv) < 2 or sys.argv[1] not in modes or len(sys.argv) - 2 != modes[sys.argv[1]][1]:
        sys.exit("usage: py_grpc.py client <host:port> <item> | py_grpc.py server")
    mode, _ = modes[sys.argv[1]]
    mode(*sys.argv[2:])
