# SPDX-License-Identifier: Apache-2.0
"""`cam`: the kernel from a shell (python3 -m camos, or the `cam` script).

    cam ping
    cam context write agent-1 goal "find food"
    cam context read agent-1 goal
    cam metric emit custom_counter 1 app=myapp
    cam health --detailed

Connection flags (--addr, --token, TLS) default to the environment of
camos.settings (CAM_ADDR, CAM_GRPC_LISTEN, CAM_TOKEN, CAM_TLS_CA_FILE...).
Output is for people; --json prints one JSON object. The exit code is the
call's gRPC status (0 OK, 5 NOT_FOUND, 14 UNAVAILABLE, ...); 3 also for a
value the payload cannot carry (nothing is sent), 64 for a usage error,
66 for a file that cannot be read.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from . import __version__
from .cli_commands import COMMANDS
from .cli_output import show, show_error
from .client import Client
from .errors import CamError, InvalidArgumentError, Status
from .payload import PayloadError
from .results import Health
from .retry import NO_RETRY

EXIT_USAGE = 64
EXIT_NOINPUT = 66


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, "%s: error: %s\n" % (self.prog, message))


def _global_flags(p: argparse.ArgumentParser) -> None:
    # dest g_*: commands have arguments of the same names (key, caller).
    g = p.add_argument_group("connection")
    g.add_argument("--addr", dest="g_addr", help="kernel address host:port (CAM_ADDR; else from "
                   "CAM_GRPC_LISTEN; else 127.0.0.1:50051)")
    g.add_argument("--caller", dest="g_caller", help="caller_id to send (CAM_CALLER_ID)")
    g.add_argument("--token", dest="g_token", help="bearer token (CAM_TOKEN)")
    g.add_argument("--token-file", dest="g_token_file", help="file holding the token (CAM_TOKEN_FILE)")
    g.add_argument("--tls", dest="g_tls", action="store_true", default=None,
                   help="TLS with the system's trust roots (CAM_TLS=true)")
    g.add_argument("--cacert", dest="g_cacert", help="PEM trust roots, turns TLS on (CAM_TLS_CA_FILE)")
    g.add_argument("--cert", dest="g_cert", help="client certificate PEM (CAM_TLS_CLIENT_CERT_FILE)")
    g.add_argument("--key", dest="g_key", help="client key PEM (CAM_TLS_CLIENT_KEY_FILE)")
    g.add_argument("--server-name", dest="g_server_name", help="name the kernel's certificate must carry")
    g.add_argument("--timeout", dest="g_timeout", type=float, default=10.0,
                   help="seconds for the call, retries included (default 10)")
    g.add_argument("--no-retry", dest="g_no_retry", action="store_true", help="never send a call twice")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--version", action="version", version="cam " + __version__)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cam", description="Call the CAM-OS kernel.")
    _global_flags(p)
    groups = {}
    top = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    top.required = True
    for words, help_text, handler, args in COMMANDS:
        where = top
        if len(words) == 2:
            if words[0] not in groups:
                g = top.add_parser(words[0], help=words[0] + " verbs")
                groups[words[0]] = g.add_subparsers(dest="sub", metavar="SUBCOMMAND",
                                                    parser_class=_Parser)
                groups[words[0]].required = True
            where = groups[words[0]]
        sp = where.add_parser(words[-1], help=help_text, description=help_text)
        for names, kw in args:
            sp.add_argument(*names, **kw)
        sp.set_defaults(handler=handler)
    return p


def _client(a: argparse.Namespace) -> Client:
    return Client(a.g_addr, caller_id=a.g_caller, token=a.g_token, token_file=a.g_token_file,
                  tls=a.g_tls, ca_file=a.g_cacert, cert_file=a.g_cert, key_file=a.g_key,
                  server_name=a.g_server_name, timeout=a.g_timeout,
                  retry=NO_RETRY if a.g_no_retry else None)


def main(argv: Optional[List[str]] = None) -> int:
    a = parser().parse_args(argv)
    try:
        with _client(a) as client:
            result = a.handler(client, a)
    except CamError as e:
        show_error(e, a.json)
        return int(e.code)
    except PayloadError as e:
        show_error(InvalidArgumentError(str(e) + " (nothing was sent)"), a.json)
        return int(Status.INVALID_ARGUMENT)
    except OSError as e:
        sys.stderr.write("cam: %s\n" % e)
        return EXIT_NOINPUT
    except ValueError as e:  # settings that do not fit together
        sys.stderr.write("cam: %s\n" % e)
        return EXIT_USAGE
    show(result, a.json)
    if isinstance(result, Health) and not result.serving:
        return int(Status.UNAVAILABLE)
    return 0
