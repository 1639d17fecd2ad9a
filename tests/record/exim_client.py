#!/usr/bin/env python3
"""exim_client.py: the scripted clients of tests/record/exim.sh, for Exim's checks (RFC 5321,
RFC 2920, RFC 3030).

Exim 4 answers a client that talks before its greeting, pipelines without PIPELINING, or sends
message text in the same write as DATA with "554 SMTP synchronization error" and drops it; it
refuses a message whose client left right after the final dot. These scenarios provoke each,
over client.py's raw-socket Smtp class (same identities and message as the Postfix samples).

    exim_client.py [--host 127.0.0.1] [--port 2525] SCENARIO
    exim_client.py --list
"""

import sys

sys.dont_write_bytecode = True  # no __pycache__ beside client.py in the tree
import client  # noqa: E402 (after the line above on purpose)
from client import BODY, EOD, HELO, RCPT, SENDER, Smtp  # noqa: E402

MAIL = b"MAIL FROM:<" + SENDER + b">\r\n"
RCPT_TO = b"RCPT TO:<" + RCPT + b">\r\n"


def until_close(s):
    """Reads whatever the server still sends until it closes, then closes (FIN)."""
    s.wait_close()
    s.close()


def early_talker(s):
    """EHLO as soon as the connection is up, before the greeting (the server holds it 1 s)."""
    s.send(b"EHLO " + HELO + b"\r\n")
    until_close(s)


def pipelining_unadvertised(s):
    """EHLO, then MAIL and RCPT in one write, though PIPELINING was not advertised."""
    client.start(s)
    s.send(MAIL + RCPT_TO)
    until_close(s)


def data_before_354(s):
    """MAIL, RCPT, then DATA with the text and its end in the same write (before any reply).

    Without PIPELINING Exim answers 554 and closes; with it, 354 and 250: either way the
    client then reads until a second passes without a reply and QUITs if it still can."""
    client.start(s)
    client.envelope(s)
    s.send(b"DATA\r\n" + BODY + EOD)
    s.wait_replies_then_quit()


def eod_then_close(s):
    """The text and its end of data, then at once a FIN (the server takes 1 s to answer)."""
    client.start(s)
    client.envelope(s)
    s.cmd(b"DATA")
    s.send(BODY + EOD)
    s.close()


def too_many_errors(s):
    """Four RCPTs before any MAIL, each waiting for its 503: one over smtp_max_synprot_errors.

    Exim's default limit is 3 errors; after the reply to the fourth it closes."""
    client.start(s)
    for _ in range(4):
        s.cmd(RCPT_TO[:-2])
    until_close(s)


SCENARIOS = {
    "early-talker": early_talker,
    "pipelining-unadvertised": pipelining_unadvertised,
    "data-before-354": data_before_354,
    "eod-then-close": eod_then_close,
    "too-many-errors": too_many_errors,
    "bdat": client.bdat,
}


def main():
    """client.py's command line, over these scenarios."""
    client.SCENARIOS = SCENARIOS
    return client.main()


if __name__ == "__main__":
    sys.exit(main())
