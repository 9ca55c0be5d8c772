"""A NATS publisher we did not write, for the messaging tests: nats-py with the
trace context of an OpenTelemetry Python SDK span in the message's headers.

  py_nats.py <NATS URL> <subject>   publishes b"from python" on <subject> inside a
                                    PRODUCER span, the W3C trace context injected by
                                    the SDK's TraceContextTextMapPropagator, and prints
                                    the headers it sent as JSON.
"""

import asyncio
import json
import sys

import nats
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator


async def main(url, subject):
    tracer = TracerProvider().get_tracer("py_nats")
    nc = await nats.connect(url)
    with tracer.start_as_current_span(f"send {subject}", kind=SpanKind.PRODUCER):
        headers = {}
        TraceContextTextMapPropagator().inject(headers)
        await nc.publish(subject, b"from python", headers=headers)
        await nc.flush()
    await nc.close()
    print(json.dumps(headers), flush=True)


asyncio.run(main(sys.argv[1], sys.argv[2]))
