#!/usr/bin/env python3
"""ClickHouse's HTTP interface in front of chdb (current ClickHouse as an in-process engine).

Only Debian's ClickHouse 18.16 server installs natively here, while users run a current
release. chdb-core embeds the current engine; this bridge lets the project's own, unchanged
client code (@clickhouse/client over HTTP) reach that engine exactly as it reaches a server, so
the same tests run against both. Python standard library and chdb only.

The subset of the HTTP interface implemented is what @clickhouse/client 1.x sends:
- the statement in the `query` URL parameter and/or the request body; as on the server, the
  whole statement is the parameter, a line break, then the body (INSERT data included);
- `database` and `default_format` parameters (or X-ClickHouse-Database / X-ClickHouse-Format);
- every other non-reserved parameter is a setting: applied to that one statement, then
  restored, except the ones that only steer the HTTP transport (compression, progress headers,
  buffering), which are handled here or ignored; `param_*` become query parameters;
- credentials by X-ClickHouse-User/-Key, HTTP basic auth or `user`/`password` parameters,
  checked against the configured user (never mixed, as on the server);
- gzip/deflate request bodies and, with enable_http_compression=1, gzip/deflate answers;
- `/ping`; GET runs read-only statements only;
- errors as the server answers them: the HTTP status it maps the code to,
  X-ClickHouse-Exception-Code and a `Code: N. DB::Exception: ...` body.
Statements run one at a time (one lock around the session); each starts from the same
database and settings, as requests without a session id do on a server.
Not implemented: sessions (session_id), the native compression of compress/decompress=1,
multipart external data, streaming of results (answers are buffered).

With --users-file, every statement runs with the rights of --user as that users file defines
them (grants, settings profile with its constraints, quota), which is how the project's users file
is proven on the current engine. chdb logs every statement in as `default`, so the bridge gives
its engine a users file of its own where `default` is that user; the login and password stay the
bridge's (a server would also check the user's networks: the bridge listens on loopback only).

usage: http_bridge.py --port 18123 --data-dir DIR [--host 127.0.0.1] [--user default]
                      [--users-file FILE]
       (the password comes from CHDB_BRIDGE_PASSWORD, empty when unset)
"""

import argparse
import base64
import binascii
import gzip
import hmac
import json
import os
import re
import signal
import sys
import threading
import uuid
import xml.etree.ElementTree as ET
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from chdb import session as chdb_session

# URL parameters that are not settings (HTTPHandler's reserved names on the server).
RESERVED = {
    'query', 'database', 'default_format', 'compress', 'decompress', 'user', 'password', 'quota_key', 'query_id',
    'stacktrace', 'buffer_size', 'wait_end_of_query', 'session_id', 'session_timeout', 'session_check',
    'client_protocol_version', 'close_session', 'role',
}
# Settings that only shape the HTTP exchange; the engine never sees them.
TRANSPORT_SETTINGS = {
    'enable_http_compression', 'http_zlib_compression_level', 'send_progress_in_http_headers',
    'http_headers_progress_interval_ms', 'http_response_buffer_size', 'http_wait_end_of_query',
    'cancel_http_readonly_queries_on_client_close', 'add_http_cors_header', 'http_write_exception_in_output_format',
    'http_response_headers', 'http_max_request_param_data_size',
}
SETTING_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
# GET is read-only on the server (readonly=2); these are the statements that read.
READ_ONLY = re.compile(rb'^\s*(?:\(\s*)*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN)\b', re.IGNORECASE)
INSERT = re.compile(rb'^\s*INSERT\b', re.IGNORECASE)
TRAILING_FORMAT = re.compile(rb'\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$', re.IGNORECASE)
EXCEPTION = re.compile(r'Code: (\d+)\. ')
EXCEPTION_NAME = re.compile(r'\(([A-Z][A-Z0-9_]{2,})\)\s*$')
MAX_BODY = 256 * 1024 * 1024

# The server's exceptionCodeToHTTPStatus, by error name (chdb's messages end with it).
STATUS_OF = {}
for name in ('REQUIRED_PASSWORD',):
    STATUS_OF[name] = 401
for name in ('UNKNOWN_USER', 'WRONG_PASSWORD', 'AUTHENTICATION_FAILED', 'SET_NON_GRANTED_ROLE', 'ACCESS_DENIED'):
    STATUS_OF[name] = 403
for name in (
    'BAD_ARGUMENTS', 'CANNOT_COMPILE_REGEXP', 'CANNOT_PARSE_TEXT', 'CANNOT_PARSE_ESCAPE_SEQUENCE',
    'CANNOT_PARSE_QUOTED_STRING', 'CANNOT_PARSE_DATE', 'CANNOT_PARSE_DATETIME', 'CANNOT_PARSE_NUMBER',
    'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING', 'CANNOT_PARSE_IPV4', 'CANNOT_PARSE_IPV6', 'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
    'CANNOT_PARSE_UUID', 'DUPLICATE_COLUMN', 'ILLEGAL_COLUMN', 'UNKNOWN_ELEMENT_IN_AST', 'UNKNOWN_TYPE_OF_AST_NODE',
    'THERE_IS_NO_COLUMN', 'TOO_DEEP_AST', 'TOO_BIG_AST', 'UNEXPECTED_AST_STRUCTURE', 'SYNTAX_ERROR', 'INCORRECT_DATA',
    'TYPE_MISMATCH', 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
):
    STATUS_OF[name] = 400
for name in (
    'UNKNOWN_TABLE', 'UNKNOWN_FUNCTION', 'UNKNOWN_IDENTIFIER', 'UNKNOWN_TYPE', 'UNKNOWN_STORAGE', 'UNKNOWN_DATABASE',
    'UNKNOWN_SETTING', 'UNKNOWN_DIRECTION_OF_SORTING', 'UNKNOWN_AGGREGATE_FUNCTION', 'UNKNOWN_FORMAT',
    'UNKNOWN_DATABASE_ENGINE', 'UNKNOWN_TYPE_OF_QUERY', 'UNKNOWN_ROLE',
):
    STATUS_OF[name] = 404
STATUS_OF.update({
    'QUERY_IS_TOO_LARGE': 413, 'NOT_IMPLEMENTED': 501, 'SOCKET_TIMEOUT': 503, 'CANNOT_OPEN_FILE': 503,
    'CANNOT_SCHEDULE_TASK': 503, 'HTTP_LENGTH_REQUIRED': 411, 'TIMEOUT_EXCEEDED': 408, 'UNSUPPORTED_MEDIA_TYPE': 415,
})

# Codes of the errors the bridge raises itself (the server's numbers for them).
SYNTAX_ERROR, BAD_ARGUMENTS, UNKNOWN_SETTING, READONLY, NOT_IMPLEMENTED, AUTHENTICATION_FAILED, STD_EXCEPTION = (
    62, 36, 115, 164, 48, 516, 1001)
NAME_OF = {
    SYNTAX_ERROR: 'SYNTAX_ERROR', BAD_ARGUMENTS: 'BAD_ARGUMENTS', UNKNOWN_SETTING: 'UNKNOWN_SETTING', READONLY: 'READONLY',
    NOT_IMPLEMENTED: 'NOT_IMPLEMENTED', AUTHENTICATION_FAILED: 'AUTHENTICATION_FAILED', STD_EXCEPTION: 'STD_EXCEPTION',
}


class ClickHouseError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    @staticmethod
    def of(code, text):
        return ClickHouseError(code, f'Code: {code}. DB::Exception: {text}. ({NAME_OF[code]})')

    @staticmethod
    def from_engine(err):
        text = str(err).strip()
        match = EXCEPTION.search(text)
        if not match:
            return ClickHouseError.of(STD_EXCEPTION, text)
        return ClickHouseError(int(match.group(1)), text[match.start():])

    def status(self):
        match = EXCEPTION_NAME.search(self.message)
        return STATUS_OF.get(match.group(1), 500) if match else 500


def sql_string(value):
    return "'" + value.replace('\\', '\\\\').replace("'", "\\'") + "'"


def sql_identifier(value):
    return '`' + value.replace('\\', '\\\\').replace('`', '\\`') + '`'


def principal_config(users_file, user, conf_dir):
    """An engine configuration whose `default` user is `user` of `users_file` (see the module's text)."""
    root = ET.parse(users_file).getroot()
    entry = root.find(f'users/{user}')
    if entry is None:
        raise SystemExit(f'{users_file} defines no user {user}')
    entry.tag = 'default'
    for child in list(entry):
        if child.tag.startswith('password') or child.tag in ('networks', 'no_password'):
            entry.remove(child)
    ET.SubElement(entry, 'no_password')
    networks = ET.SubElement(entry, 'networks')
    ET.SubElement(networks, 'ip').text = '::/0'
    profile_name = entry.findtext('profile', 'default')
    profiles = root.find('profiles')
    if profiles is None:
        profiles = ET.SubElement(root, 'profiles')
    for name in {'default', profile_name}:  # the engine's own settings come from `default`
        if profiles.find(name) is None:
            ET.SubElement(profiles, name)
    profile = profiles.find(profile_name)
    # Set in the profile, so that a read-only user needs no SET for it (see Engine).
    ET.SubElement(profile, 'implicit_select').text = '0'
    # The engine in process never reads the server's access_control_improvements, whose defaults a
    # server turns on (settings_constraints_replace_previous, select_from_system_db_requires_grant),
    # and it refuses a profile that lets a read-only user change a setting: that mark is dropped
    # here, so such a setting is refused by the bridge where a server takes it within its bounds.
    for constraint in root.iterfind('profiles/*/constraints/*'):
        for mark in constraint.findall('changeable_in_readonly'):
            constraint.remove(mark)
    quotas = root.find('quotas')
    if quotas is None:
        quotas = ET.SubElement(root, 'quotas')
    if quotas.find(entry.findtext('quota', 'default')) is None:
        ET.SubElement(quotas, entry.findtext('quota', 'default'))
    users = ET.Element('users')
    users.append(entry)
    root.remove(root.find('users'))
    root.append(users)
    os.makedirs(conf_dir, exist_ok=True)
    users_path = os.path.join(conf_dir, 'users.xml')
    ET.ElementTree(root).write(users_path)
    config_path = os.path.join(conf_dir, 'config.xml')
    with open(config_path, 'w') as f:
        f.write(f'<clickhouse><user_directories><users_xml><path>{users_path}</path></users_xml></user_directories></clickhouse>\n')
    return config_path


class Engine:
    """One chdb session in its own folder; every statement runs under one lock."""

    def __init__(self, data_dir, config_path=None):
        self.lock = threading.Lock()
        self.session = chdb_session.Session(f'file:{data_dir}?config-file={config_path}' if config_path else data_dir)
        # clickhouse-local (chdb) turns this on; a server leaves it off, so `1 + 1` is no statement.
        if not config_path:
            self.session.query('SET implicit_select = 0')
        self.version = self._scalar('SELECT version()')
        self.timezone = self._scalar('SELECT timezone()')

    def _scalar(self, sql):
        return self.session.query(sql, 'TabSeparated').bytes().decode().strip()

    def execute(self, statement, database, fmt, settings, params):
        with self.lock:
            try:
                try:
                    self.session.query(f'USE {sql_identifier(database or "default")}')
                except Exception:
                    # A server checks no rights on the database a request does not name.
                    if database:
                        raise
                restore = []
                try:
                    for name, value in settings:
                        if not SETTING_NAME.match(name):
                            raise ClickHouseError.of(UNKNOWN_SETTING, f"Unknown setting '{name}'")
                        previous = self.session.query(
                            f'SELECT value FROM system.settings WHERE name = {sql_string(name)}', 'TabSeparatedRaw').bytes()
                        self.session.query(f'SET {name} = {sql_string(value)}')
                        restore.append((name, previous.decode().rstrip('\n')))
                    if not INSERT.match(statement):
                        self._single_statement(statement)
                    result = self.session.query(statement, fmt, params=params)
                    return result.bytes(), {
                        'read_rows': str(result.rows_read()),
                        'read_bytes': str(result.bytes_read()),
                        'elapsed_ns': str(int(result.elapsed() * 1e9)),
                    }
                finally:
                    for name, value in reversed(restore):
                        self.session.query(f'SET {name} = {sql_string(value)}')
            except ClickHouseError:
                raise
            except Exception as err:  # chdb raises RuntimeError with the engine's message
                raise ClickHouseError.from_engine(err) from err

    def _single_statement(self, statement):
        # chdb runs `a; b` as two statements (clickhouse-local does); a server refuses them.
        # Any other parse error is left to the statement itself, which reports it as the server would.
        literal = statement.replace(b'\\', b'\\\\').replace(b"'", b"\\'")
        try:
            self.session.query(b"SELECT formatQuery('" + literal + b"')", 'TabSeparated')
        except Exception as err:
            if 'Multi-statements are not allowed' in str(err):
                raise ClickHouseError.of(SYNTAX_ERROR, 'Syntax error (Multi-statements are not allowed)') from err

    def close(self):
        with self.lock:
            self.session.close()


def content_type_of(fmt):
    name = fmt.lower()
    if name.startswith('json'):
        return 'application/json; charset=UTF-8'
    if name in ('tabseparated', 'tsv', 'tabseparatedraw', 'tsvraw', 'tabseparatedwithnames', 'tsvwithnames'):
        return 'text/tab-separated-values; charset=UTF-8'
    if name.startswith('csv'):
        return 'text/csv; charset=UTF-8'
    return 'text/plain; charset=UTF-8'


def make_handler(engine, user, password):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'
        # Headers and body leave in separate writes: with Nagle's algorithm the body then waits for
        # the client's delayed ACK, about 40 ms on every answer of a kept-alive connection.
        disable_nagle_algorithm = True
        server_version = 'chdb-http-bridge'
        timeout = 60  # idle keep-alive connections end after this

        def log_message(self, fmt, *args):
            sys.stderr.write('%s %s\n' % (self.log_date_time_string(), fmt % args))

        def do_GET(self):
            self.handle_request(read_only=True)

        def do_POST(self):
            self.handle_request(read_only=False)

        def read_body(self):
            if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
                parts, size = [], 0
                while True:
                    line = self.rfile.readline(65537)
                    chunk = int(line.split(b';', 1)[0].strip() or b'0', 16)
                    if chunk == 0:
                        while self.rfile.readline(65537) not in (b'\r\n', b'\n', b''):
                            pass
                        break
                    size += chunk
                    if size > MAX_BODY:
                        raise ClickHouseError.of(BAD_ARGUMENTS, 'Request body is too large')
                    parts.append(self.rfile.read(chunk))
                    self.rfile.readline()
                body = b''.join(parts)
            else:
                length = int(self.headers.get('Content-Length') or 0)
                if length > MAX_BODY:
                    raise ClickHouseError.of(BAD_ARGUMENTS, 'Request body is too large')
                body = self.rfile.read(length) if length else b''
            encoding = self.headers.get('Content-Encoding', '').strip().lower()
            if encoding in ('', 'identity', 'none'):
                return body
            if encoding == 'gzip':
                return gzip.decompress(body)
            if encoding == 'deflate':
                return zlib.decompress(body)
            raise ClickHouseError.of(BAD_ARGUMENTS, f'Unknown compression method: {encoding}')

        def authenticate(self, params):
            header_user = self.headers.get('X-ClickHouse-User', '')
            header_key = self.headers.get('X-ClickHouse-Key', '')
            authorization = self.headers.get('Authorization')
            in_params = 'user' in params or 'password' in params
            if header_user or header_key:
                if authorization or in_params:
                    raise ClickHouseError.of(AUTHENTICATION_FAILED, 'Invalid authentication: it is not allowed to use X-ClickHouse HTTP headers and other authentication methods simultaneously')
                got_user, got_password = header_user or 'default', header_key
            elif authorization:
                if in_params:
                    raise ClickHouseError.of(AUTHENTICATION_FAILED, 'Invalid authentication: it is not allowed to use Authorization HTTP header and authentication via parameters simultaneously')
                scheme, _, info = authorization.partition(' ')
                if scheme.lower() != 'basic':
                    raise ClickHouseError.of(AUTHENTICATION_FAILED, f"Invalid authentication: '{scheme}' HTTP Authorization scheme is not supported")
                try:
                    got_user, _, got_password = base64.b64decode(info.strip(), validate=True).decode('utf-8').partition(':')
                except (binascii.Error, UnicodeDecodeError):
                    raise ClickHouseError.of(AUTHENTICATION_FAILED, 'Invalid authentication: malformed Basic credentials')
            else:
                got_user, got_password = params.get('user', 'default'), params.get('password', '')
            same_user = hmac.compare_digest(got_user.encode(), user.encode())
            same_password = hmac.compare_digest(got_password.encode(), password.encode())
            if not (same_user and same_password):
                raise ClickHouseError.of(AUTHENTICATION_FAILED, f'{got_user}: Authentication failed: password is incorrect, or there is no user with such name')

        def handle_request(self, read_only):
            query_id = str(uuid.uuid4())
            try:
                url = urlsplit(self.path)
                params = dict(parse_qsl(url.query, keep_blank_values=True))
                query_id = params.get('query_id') or query_id
                if url.path == '/ping':
                    return self.answer(200, b'Ok.\n', 'text/html; charset=UTF-8', query_id)
                if url.path != '/':
                    return self.answer(404, f'There is no handle {url.path}\n\nUse / or /ping for health checks.\n'.encode(), 'text/html; charset=UTF-8', query_id)
                body = self.read_body()
                if read_only and not body and 'query' not in params:
                    return self.answer(200, b'Ok.\n', 'text/html; charset=UTF-8', query_id)
                self.authenticate(params)
                query_param = params.get('query', '').encode()
                statement = (query_param + b'\n' if query_param else b'') + body
                if not statement.strip():
                    raise ClickHouseError.of(SYNTAX_ERROR, 'Empty query')
                if (read_only or params.get('readonly', '0') not in ('', '0')) and not READ_ONLY.match(statement):
                    raise ClickHouseError.of(READONLY, 'Cannot execute query in readonly mode')
                if params.get('compress', '0') not in ('', '0') or params.get('decompress', '0') not in ('', '0'):
                    raise ClickHouseError.of(NOT_IMPLEMENTED, 'compress/decompress (native compression) is not supported by this bridge')
                database = self.headers.get('X-ClickHouse-Database') or params.get('database')
                fmt = self.headers.get('X-ClickHouse-Format') or params.get('default_format') or 'TabSeparated'
                if fmt.lower() in ('dataframe', 'arrowtable', 'debug'):
                    raise ClickHouseError.of(BAD_ARGUMENTS, f'Unknown format {fmt}')
                settings = [(k, v) for k, v in params.items()
                            if k not in RESERVED and k != 'readonly' and not k.startswith('param_') and k not in TRANSPORT_SETTINGS]
                query_params = {k[len('param_'):]: v for k, v in params.items() if k.startswith('param_')}
                data, summary = engine.execute(statement, database, fmt, settings, query_params)
                if not INSERT.match(statement):
                    trailing = TRAILING_FORMAT.search(statement[-200:])
                    if trailing:
                        fmt = trailing.group(1).decode()
                headers = {'X-ClickHouse-Summary': json.dumps(summary), 'X-ClickHouse-Format': fmt}
                self.answer(200, data, content_type_of(fmt), query_id, headers, compress=params.get('enable_http_compression') == '1')
            except ClickHouseError as err:
                self.fail(err, query_id)
            except Exception as err:  # a malformed request: answered, never a dropped connection
                self.fail(ClickHouseError.of(STD_EXCEPTION, f'{type(err).__name__}: {err}'), query_id)

        def fail(self, err, query_id):
            message = f'{err.message} (version {engine.version})\n'.encode('utf-8', 'replace')
            self.answer(err.status(), message, 'text/plain; charset=UTF-8', query_id, {'X-ClickHouse-Exception-Code': str(err.code)})

        def answer(self, status, data, content_type, query_id, headers=None, compress=False):
            encoding = None
            if compress:
                accepted = self.headers.get('Accept-Encoding', '').lower()
                if 'gzip' in accepted:
                    encoding, data = 'gzip', gzip.compress(data)
                elif 'deflate' in accepted:
                    encoding, data = 'deflate', zlib.compress(data)
            self.send_response(status)
            self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(data)))
            self.send_header('X-ClickHouse-Query-Id', query_id)
            self.send_header('X-ClickHouse-Timezone', engine.timezone)
            self.send_header('Keep-Alive', 'timeout=10')
            if encoding:
                self.send_header('Content-Encoding', encoding)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main():
    parser = argparse.ArgumentParser(description='ClickHouse HTTP interface in front of chdb')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--data-dir', required=True)
    parser.add_argument('--user', default='default')
    parser.add_argument('--users-file')
    args = parser.parse_args()
    password = os.environ.get('CHDB_BRIDGE_PASSWORD', '')

    os.makedirs(args.data_dir, exist_ok=True)
    config_path = None
    if args.users_file:
        config_path = principal_config(args.users_file, args.user, os.path.join(os.path.dirname(os.path.abspath(args.data_dir)), f'users-{args.user}'))
    engine = Engine(args.data_dir, config_path)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(engine, args.user, password))
    server.daemon_threads = True

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    rights = f'; rights of {args.user} in {args.users_file}' if args.users_file else ''
    print(f'chdb http bridge: ClickHouse {engine.version} on http://{args.host}:{args.port} (data in {args.data_dir}{rights})', flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        engine.close()


if __name__ == '__main__':
    main()
