"""Runs `phoenix serve` with every listening socket on 127.0.0.1.

Phoenix binds its OTLP/gRPC server to all interfaces ("[::]:port"); the tests
must only listen on the loopback address, so this launcher rewrites that bind
address before handing over to Phoenix's own command line. The HTTP server
follows PHOENIX_HOST, which the caller sets to 127.0.0.1.
"""

import sys

import grpc.aio

_server = grpc.aio.server


def _loopback_server(*args, **kwargs):
    server = _server(*args, **kwargs)
    add_insecure_port = server.add_insecure_port
    server.add_insecure_port = lambda address: add_insecure_port(
        address.replace("[::]", "127.0.0.1")
    )
    return server


grpc.aio.server = _loopback_server

from phoenix.server.main import main  # noqa: E402

if __name__ == "__main__":
    sys.argv = ["phoenix", *sys.argv[1:]]
    main()
