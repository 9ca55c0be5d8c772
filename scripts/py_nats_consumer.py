"""A NATS consumer we did not write, for the messaging tests: nats-py with the
OpenTelemetry Python SDK continuing the trace a message's headers carry.

  py_nats_consumer.py <NATS URL> <subject>
      subscribes to <subject>, prints {"ready": true} once the server has the
      subscription, then takes one message: extracts its context with the SDK's
      TraceContextTextMapPropagator, starts a CONSUMER span as its child, prints
      {"trace_id", "parent_span_id", "span_id", "traceparent", "sampled"} (ids
      as lowercase hex, the parent that of the extracted context) and exits.
      Exits with status 1 when no message comes within 30 s.
"""

import asyncio
import json
import sys

import nats
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator


async def main(url, subject):
    tracer = TracerProvider().get_tracer("py_nats_consumer")
    nc = await nats.connect(url)
    sub = await nc.subscribe(subject)
    await nc.flush()
    print(json.dumps({"ready": True}), flush=True)
    try:
        msg = await sub.next_msg(timeout=30)
    except nats.errors.TimeoutError:
        await nc.close()
        sys.exit(1)
    headers = dict(msg.headers or {})
    cx = TraceContextTextMapPropagator().extract(headers)
    parent = trace.get_current_span(cx).get_span_context()
    with tracer.start_as_current_span(
        f"process {subject}", context=cx, kind=SpanKind.CONSUMER
    ) as span:
        own = span.get_span_context()
    await nc.close()
    print(
        json.dumps(
            {
                "trace_id": format(own.trace_id, "032x"),
                "parent_span_id": format(parent.span_id, "016x"),
                "parent_valid": parent.is_valid,
                "span_id": format(own.span_id, "016x"),
                "traceparent": headers.get("traceparent"),
                "sampled": own.trace_flags.sampled,
            }
        ),
        flush=True,
    )


asyncio.run(main(sys.argv[1], sys.argv[2]))
