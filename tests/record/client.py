#!/usr/bin/env python3
"""client.py: a scripted SMTP client for the misbehaviour swaks will not do (RFC 5321).

smtptrace's sample recorder (record-samples.sh) runs it against a real Postfix on loopback.
Each scenario is one function below, named in SCENARIOS; it talks over a raw socket so that
it can send exact bytes (bare LF, bare CR, unstuffed dots, EOD look-alikes), talk before
the greeting, send everything without waiting for replies, half-send a message and close,
or close with a RST (SO_LINGER 0).

    client.py [--host 127.0.0.1] [--port 2525] SCENARIO
    client.py --list

The dialogue is echoed to stderr ("C:" what was sent, "S:" what came back) so the recorder's
log shows what happened. Python 3 standard library only. Addresses, HELO name and message
text are fixed so that re-recording gives the same bytes apart from Postfix's queue IDs.
"""

import argparse
import socket
import struct
import sys
import time

HELO = b"client.smtptrace.test"
SENDER = b"sender@example.org"
RCPT = b"alice@smtptrace.test"
RCPT2 = b"bob@smtptrace.test"
BODY = (b"From: <sender@example.org>\r\n"
        b"To: <alice@smtptrace.test>\r\n"
        b"Subject: smtptrace sample\r\n"
        b"\r\n"
        b"This is a test message for smtptrace.\r\n")
BODY2 = (b"From: <sender@example.org>\r\n"
         b"To: <bob@smtptrace.test>\r\n"
         b"Subject: smtptrace sample, second message\r\n"
         b"\r\n"
         b"This is the second test message for smtptrace.\r\n")
EOD = b".\r\n"          # follows a text that ends in CRLF: <CRLF>.<CRLF>
TIMEOUT = 30.0          # seconds to wait for any one reply


def log(tag, data):
    """Echoes bytes to stderr, one line per protocol line, with CR and LF made visible."""
    for line in data.splitlines(keepends=True):
        vis = line.replace(b"\r", b"\\r").replace(b"\n", b"\\n")
        sys.stderr.write("%s %s\n" % (tag, vis.decode("ascii", "backslashreplace")))
    sys.stderr.flush()


class Smtp:
    """One client connection: exact sends, reply reads, and the ways to end it."""

    def __init__(self, host, port):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect((host, port))
        self.buf = b""

    def send(self, data):
        """Sends data exactly as given (no line-ending fix-up, no dot-stuffing)."""
        log("C:", data)
        self.sock.sendall(data)

    def reply(self):
        """Reads one complete reply (all lines of a multi-line one); returns its code as an
        int, or None when the server closed first."""
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    if self.buf:
                        log("S:", self.buf)
                    log("--", b"server closed the connection")
                    return None
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            log("S:", line + b"\n")
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]) if line[:3].isdigit() else None

    def more(self, code):
        """Reads any further replies already received whole (a server may send one unasked,
        such as 421 after an error); returns the last code, or code when there is none."""
        while b"\n" in self.buf:
            code = self.reply()
        return code

    def replies(self, n):
        """Reads n replies; returns their codes."""
        return [self.reply() for _ in range(n)]

    def cmd(self, line):
        """Sends one command line (CRLF added) and waits for its reply; returns the code."""
        self.send(line + b"\r\n")
        return self.reply()

    def wait_close(self):
        """Reads (and logs) until the server closes its side."""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                log("--", b"server closed the connection")
                return
            log("S:", chunk)

    def wait_replies_then_quit(self):
        """Reads replies until none comes for a second (how many depends on how the server
        read what it got), then QUITs if the server is still there."""
        self.sock.settimeout(1.0)
        try:
            while self.reply() is not None:
                pass
            self.close()
            return
        except socket.timeout:
            pass
        self.sock.settimeout(TIMEOUT)
        self.quit()

    def close(self):
        """Ordinary close: the kernel sends a FIN."""
        log("--", b"client closes (FIN)")
        self.sock.close()

    def rst(self):
        """Abortive close: SO_LINGER with a zero timeout makes close() send a RST."""
        log("--", b"client closes (RST)")
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def quit(self):
        """QUIT, its 221, the server's close, then ours."""
        self.cmd(b"QUIT")
        self.wait_close()
        self.close()


def envelope(s, rcpt=RCPT):
    """MAIL and one RCPT, each waiting for its reply."""
    s.cmd(b"MAIL FROM:<" + SENDER + b">")
    return s.cmd(b"RCPT TO:<" + rcpt + b">")


def message(s, body=BODY, rcpt=RCPT):
    """One whole transaction by the book; returns the code of the reply to EOD."""
    envelope(s, rcpt)
    if s.cmd(b"DATA") != 354:
        return None
    s.send(body + EOD)
    return s.reply()


def start(s):
    """Greeting, then EHLO."""
    s.reply()
    s.cmd(b"EHLO " + HELO)


# --- scenarios -------------------------------------------------------------------------

def two_transactions(s):
    """Two messages in one session, each command waiting for its reply; then QUIT."""
    start(s)
    message(s, BODY, RCPT)
    message(s, BODY2, RCPT2)
    s.quit()


def mid_message_close(s):
    """DATA, 354, the first half of the text, then a FIN: no end of data is ever sent."""
    start(s)
    envelope(s)
    s.cmd(b"DATA")
    s.send(BODY[:BODY.index(b"\r\n\r\n") + 4])
    time.sleep(0.5)
    s.close()


def idle_after_ehlo(s):
    """EHLO, then silence until the server gives up (421 on smtpd_timeout) and closes."""
    start(s)
    s.wait_close()
    s.close()


def rset_then_commit(s):
    """MAIL and RCPT, RSET (the transaction is discarded), then a whole message and QUIT."""
    start(s)
    envelope(s, RCPT2)
    s.cmd(b"RSET")
    message(s)
    s.quit()


def early_talker(s):
    """Sends EHLO as soon as the connection is up, before the 220 greeting arrives."""
    s.send(b"EHLO " + HELO + b"\r\n")
    s.replies(2)                                    # the greeting, then the EHLO reply
    message(s)
    s.quit()


def bdat(s):
    """CHUNKING (RFC 3030): the text in two BDAT chunks, the second marked LAST."""
    start(s)
    envelope(s)
    head, rest = BODY[:BODY.index(b"\r\n\r\n") + 4], BODY[BODY.index(b"\r\n\r\n") + 4:]
    s.send(b"BDAT %d\r\n" % len(head) + head)
    s.reply()
    s.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
    s.reply()
    s.quit()


def auth_refused(s):
    """AUTH PLAIN with obviously fake credentials (no SASL configured: refused), then a
    message anyway. The initial response is base64 of NUL "fakeuser" NUL "fakepass"."""
    start(s)
    s.cmd(b"AUTH PLAIN AGZha2V1c2VyAGZha2VwYXNz")
    message(s)
    s.quit()


def blaster(s):
    """Waits for the greeting, then for nothing: EHLO, envelope, DATA, text and QUIT in one
    send, then reads the replies."""
    s.reply()
    s.send(b"EHLO " + HELO + b"\r\n"
           b"MAIL FROM:<" + SENDER + b">\r\n"
           b"RCPT TO:<" + RCPT + b">\r\n"
           b"DATA\r\n" + BODY + EOD + b"QUIT\r\n")
    s.wait_close()
    s.close()


def unstuffed_dot(s):
    """A text with a line holding a single "." in the middle, not dot-stuffed: the server
    ends the message there and reads the rest of the text as commands."""
    start(s)
    envelope(s)
    s.cmd(b"DATA")
    s.send(b"Subject: smtptrace sample, unstuffed dot\r\n"
           b"\r\n"
           b"The next line is a single dot that the client forgot to stuff.\r\n"
           b".\r\n"
           b"This line was meant to be text, but the server reads it as a command.\r\n"
           b"So is this one.\r\n"
           b".\r\n")
    s.wait_replies_then_quit()      # Postfix: 250, two 500s, then 221 to the "." and a close


def smuggle(lookalike):
    """Builds an SMTP smuggling scenario: the text holds an EOD look-alike followed by a
    second, smuggled transaction, then the real <CRLF>.<CRLF>."""
    def scenario(s):
        start(s)
        envelope(s)
        s.cmd(b"DATA")
        s.send(b"Subject: smtptrace sample, first message\r\n"
               b"\r\n"
               b"This is the first message." + lookalike +
               b"MAIL FROM:<" + SENDER + b">\r\n"
               b"RCPT TO:<" + RCPT2 + b">\r\n"
               b"DATA\r\n"
               b"Subject: smtptrace sample, smuggled message\r\n"
               b"\r\n"
               b"This is the smuggled message.\r\n" + EOD)
        s.wait_replies_then_quit()
    scenario.__doc__ = "EOD look-alike %r inside the text, then a smuggled message." % lookalike
    return scenario


def too_many_errors(s):
    """Unknown commands, one after another, each waiting for its 5xx, until the server
    hangs up (smtpd_hard_error_limit) with 421."""
    start(s)
    for i in range(50):
        if s.more(s.cmd(b"XYZZY %d" % i)) in (None, 421):
            break
    s.wait_close()
    s.close()


def eod_then_rst(s):
    """Sends the end of data and at once closes with a RST, before the reply can arrive."""
    start(s)
    envelope(s)
    s.cmd(b"DATA")
    s.send(BODY + EOD)
    s.rst()


def eod_unacknowledged(s):
    """Sends the end of data, waits 1 s (the server is told to take 3 s), closes (FIN)."""
    start(s)
    envelope(s)
    s.cmd(b"DATA")
    s.send(BODY + EOD)
    time.sleep(1.0)
    s.close()


def bare_lf(s):
    """A text whose lines end in bare LF instead of CRLF (the EOD itself is proper)."""
    start(s)
    envelope(s)
    s.cmd(b"DATA")
    s.send(b"Subject: smtptrace sample, bare LF\n\nThese lines end in LF alone.\n"
           b"This last line ends in CRLF.\r\n" + EOD)
    s.reply()
    s.quit()


def bare_cr(s):
    """A text with a bare CR inside a line (the EOD itself is proper)."""
    start(s)
    envelope(s)
    s.cmd(b"DATA")
    s.send(b"Subject: smtptrace sample, bare CR\r\n\r\nThis line has a bare CR\rin it.\r\n"
           + EOD)
    s.reply()
    s.quit()


def vrfy_lf(s):
    """VRFY whose argument follows a bare LF ("VRFY <LF>x<CR><LF>"): how many commands the
    server reads in it shows in how many replies it sends."""
    start(s)
    s.send(b"VRFY \nx\r\n")
    s.wait_replies_then_quit()


SCENARIOS = {
    "two-transactions": two_transactions,
    "mid-message-close": mid_message_close,
    "idle-after-ehlo": idle_after_ehlo,
    "rset-then-commit": rset_then_commit,
    "early-talker": early_talker,
    "bdat": bdat,
    "auth-refused": auth_refused,
    "blaster": blaster,
    "unstuffed-dot": unstuffed_dot,
    "smuggle-lf-dot-lf": smuggle(b"\n.\n"),
    "smuggle-crlf-dot-lf": smuggle(b"\r\n.\n"),
    "smuggle-lf-dot-crlf": smuggle(b"\n.\r\n"),
    "too-many-errors": too_many_errors,
    "eod-then-rst": eod_then_rst,
    "eod-unacknowledged": eod_unacknowledged,
    "bare-lf": bare_lf,
    "bare-cr": bare_cr,
    "vrfy-lf": vrfy_lf,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2525)
    ap.add_argument("--list", action="store_true", help="list the scenarios")
    ap.add_argument("scenario", nargs="?", choices=sorted(SCENARIOS))
    a = ap.parse_args()
    if a.list or not a.scenario:
        for name in sorted(SCENARIOS):
            print("%-22s %s" % (name, (SCENARIOS[name].__doc__ or "").split("\n")[0]))
        return 0
    SCENARIOS[a.scenario](Smtp(a.host, a.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
