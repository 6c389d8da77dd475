"""gunicorn settings for ClinicDesk: `gunicorn -c gunicorn.conf.py run:app`.

Patient data travels in query strings (the search box, list filters), so no log line may
carry one: the access log writes the path only (%(U)s) -- never the request line %(r)s,
the query %(q)s, nor the Referer %(f)s, which holds the previous page's full URL -- and
query strings are cut out of gunicorn's own error messages ("Error handling request
/patients/find?q=...").
"""
import logging
import os
import re

from gunicorn.glogging import Logger

bind = f"127.0.0.1:{os.environ.get('PORT', '5000')}"
workers = 2
timeout = 60
accesslog = "-"
errorlog = "-"
# remote address, time, "METHOD /path PROTOCOL", status, bytes, milliseconds, user agent
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'

_QUERY = re.compile(r"(/[^\s?#]*)\?[^\s'\"]*")


def without_query_strings(text):
    """'GET /patients/find?q=Garcia' -> 'GET /patients/find?[removed]'."""
    return _QUERY.sub(r"\1?[removed]", text)


class _DropQueryStrings(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = without_query_strings(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = without_query_strings(logging.Formatter().formatException(record.exc_info))
        return True


class ClinicLogger(Logger):
    """gunicorn's logger, with query strings removed from the error log."""

    def setup(self, cfg):
        super().setup(cfg)
        if not any(isinstance(f, _DropQueryStrings) for f in self.error_log.filters):
            self.error_log.addFilter(_DropQueryStrings())


logger_class = ClinicLogger
# No run-time control socket ($HOME/.gunicorn/gunicorn.ctl): we do not use gunicornc, and two
# instances on one machine would share that path.
control_socket_disable = True
